// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-low-rank.h"

#include "tadlora-kernel.h"
#include "tadlora-parallel.h"

#include <torch/torch.h>

#include <cstring>

namespace tadlora
{

namespace
{

/** Rows per parallel task: enough work to be worth a thread. */
constexpr int64_t kGrain = 256;

/** The width the kernel is compiled for: the default model's 64. */
constexpr int kWidth = 64;

/**
 * For the rows u = g R + i in [begin, end): out[u] = base[i] + scaling sum_k down[g, i, k]
 * up[g, k], with up [G, r, d] (B transposed) and down's model and row strides. With kD > 0 (d
 * fixed at compile time) a row's sums stay in registers, in Pieces, instead of going through
 * out at every k (1.35 times the rows per second at d = 64, the same bits).
 */
template<int kD, typename Piece>
TADLORA_KERNEL void
Update(int64_t width, int64_t rank, int64_t rows, int64_t begin, int64_t end, float scaling,
       const float* __restrict base, const float* __restrict down, int64_t modelStride,
       int64_t rowStride, const float* __restrict up, float* __restrict out)
{
    const int64_t d = kD > 0 ? kD : width;
    for (int64_t u = begin; u < end; ++u)
    {
        const int64_t g = u / rows;
        const int64_t i = u % rows;
        const float* dr = down + g * modelStride + i * rowStride;
        const float* ug = up + g * rank * d;
        const float* br = base + i * d;
        float* o = out + u * d;
        if constexpr (kD > 0)
        {
            constexpr int kLanes = Lanes<Piece>();
            constexpr int kPieces = kD / kLanes;
            Piece sums[kPieces];
            RowCombination<kD>(rank, dr, ug, kD, sums);
            for (int p = 0; p < kPieces; ++p)
            {
                Piece b;
                std::memcpy(&b, br + p * kLanes, sizeof(b));
                const Piece result = b + scaling * sums[p];
                std::memcpy(o + p * kLanes, &result, sizeof(result));
            }
        }
        else
        {
#pragma omp simd
            for (int64_t c = 0; c < d; ++c)
            {
                o[c] = dr[0] * ug[c];
            }
            for (int64_t k = 1; k < rank; ++k)
            {
                const float w = dr[k];
                const float* uk = ug + k * d;
#pragma omp simd
                for (int64_t c = 0; c < d; ++c)
                {
                    o[c] += w * uk[c];
                }
            }
#pragma omp simd
            for (int64_t c = 0; c < d; ++c)
            {
                o[c] = br[c] + scaling * o[c];
            }
        }
    }
}

/** @return base + scaling (down b^T) for each of the G models: [G, R, d] (see LowRankUpdate) */
torch::Tensor
Updated(const torch::Tensor& base, const torch::Tensor& down, const torch::Tensor& b,
        double scaling)
{
    const int64_t g = down.size(0);
    const int64_t rows = down.size(1);
    const int64_t rank = down.size(2);
    const int64_t d = base.size(1);
    TORCH_CHECK(base.dim() == 2 && base.size(0) == rows && b.size(0) == g && b.size(1) == d &&
                    b.size(2) == rank,
                "LowRankUpdate: base [R, d], down [G, R, r], b [G, d, r]");
    const auto input = base.contiguous();
    const auto factors = down.stride(2) == 1 ? down : down.contiguous();
    const auto up = b.transpose(1, 2).contiguous(); // [G, r, d]
    auto out = torch::empty({g, rows, d});
    const auto kernel = ForWidth<kWidth>(
        d, ForPieces(&Update<kWidth, Piece16>, &Update<kWidth, Piece8>), &Update<0, Piece8>);
    at::parallel_for(0, g * rows, kGrain,
                     [&](int64_t begin, int64_t end)
                     {
                         kernel(d, rank, rows, begin, end, static_cast<float>(scaling),
                                input.data_ptr<float>(), factors.data_ptr<float>(),
                                factors.stride(0), factors.stride(1), up.data_ptr<float>(),
                                out.data_ptr<float>());
                     });
    return out;
}

struct LowRankUpdateFunction : torch::autograd::Function<LowRankUpdateFunction>
{
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& base,
                                 const torch::Tensor& down, const torch::Tensor& b, double scaling)
    {
        auto out = Updated(base, down, b, scaling);
        ctx->save_for_backward({down, b});
        ctx->saved_data["scaling"] = scaling;
        return out;
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads)
    {
        const auto saved = ctx->get_saved_variables();
        const auto& down = saved[0];
        const auto& b = saved[1];
        const double scaling = ctx->saved_data["scaling"].toDouble();
        const auto& dy = grads[0]; // [G, R, d]
        return {dy.sum(0),
                torch::bmm(dy, b) * scaling,
                torch::bmm(dy.transpose(1, 2), down) * scaling,
                {}};
    }
};

} // namespace

at::Tensor
LowRankUpdate(const at::Tensor& base, const at::Tensor& down, const at::Tensor& b, double scaling)
{
    // Without autograd (evaluation), the kernel alone: a function's node costs a microsecond.
    return torch::GradMode::is_enabled() ? LowRankUpdateFunction::apply(base, down, b, scaling)
                                         : Updated(base, down, b, scaling);
}

} // namespace tadlora
