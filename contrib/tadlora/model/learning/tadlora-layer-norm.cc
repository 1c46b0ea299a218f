// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-layer-norm.h"

#include "tadlora-kernel.h"
#include "tadlora-parallel.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tadlora
{

namespace
{

/** Rows per parallel task: enough work to be worth a thread. */
int64_t
Grain(int64_t features)
{
    return std::max<int64_t>(1, 16384 / features);
}

/** Rows a kernel takes through each step together (Forward). */
constexpr int64_t kRowBlock = 8;

/**
 * mean and rstd of the rows [first, first + Lanes<Piece>()) of x [rows, kD], kD a whole number of
 * pieces: each row summed per lane, then the rows' lanes added for all of them at once (RowSums)
 */
template<int kD, typename Piece>
__attribute__((always_inline)) inline void
LaneBlockStatistics(int64_t first, float eps, const float* __restrict x, float* __restrict mean,
                    float* __restrict rstd)
{
    constexpr int kLanes = Lanes<Piece>();
    Piece sums[kLanes];
    for (int r = 0; r < kLanes; ++r)
    {
        sums[r] = Piece{};
        for (int p = 0; p < kD / kLanes; ++p)
        {
            Piece xp;
            std::memcpy(&xp, x + (first + r) * kD + p * kLanes, sizeof(xp));
            sums[r] += xp;
        }
    }
    RowSums(sums, mean + first);
    for (int r = 0; r < kLanes; ++r)
    {
        mean[first + r] = mean[first + r] / static_cast<float>(kD);
        const float m = mean[first + r];
        sums[r] = Piece{};
        for (int p = 0; p < kD / kLanes; ++p)
        {
            Piece xp;
            std::memcpy(&xp, x + (first + r) * kD + p * kLanes, sizeof(xp));
            const Piece centred = xp - m;
            sums[r] += centred * centred;
        }
    }
    RowSums(sums, rstd + first);
    for (int r = 0; r < kLanes; ++r)
    {
        rstd[first + r] = 1 / std::sqrt(rstd[first + r] / static_cast<float>(kD) + eps);
    }
}

/**
 * y = (x - mean) rstd weight + bias for the rows [begin, end) of x [rows, d], each row's mean
 * and rstd = 1 / sqrt(var + eps) stored for the backward pass (kD > 0 fixes d at compile time).
 * A row's steps (its sum, then its squares, then its outputs) wait on each other. At a width of
 * whole pieces, blocks of as many rows as lanes take the sums together, added across rows after
 * a transpose (LaneBlockStatistics) instead of one lane after the other in each row; the other
 * rows, in blocks of kRowBlock, take each step together so that their sums overlap in the
 * processor (1.45 times the rows per second of one row at a time, measured at d = 64). Every
 * row's sums are added in the same order either way: the same bits.
 */
template<int kD, typename Piece>
TADLORA_KERNEL void
Forward(int64_t features, int64_t begin, int64_t end, float eps, const float* __restrict x,
        const float* __restrict weight, const float* __restrict bias, float* __restrict y,
        float* __restrict mean, float* __restrict rstd)
{
    const int64_t d = kD > 0 ? kD : features;
    constexpr int kLanes = Lanes<Piece>();
    for (int64_t first = begin; first < end;)
    {
        int64_t last = std::min(first + kRowBlock, end);
        bool laneBlock = false;
        if constexpr (kD > 0 && kD % kLanes == 0)
        {
            laneBlock = first + kLanes <= end;
            if (laneBlock)
            {
                last = first + kLanes;
                LaneBlockStatistics<kD, Piece>(first, eps, x, mean, rstd);
            }
        }
        if (!laneBlock)
        {
            for (int64_t row = first; row < last; ++row)
            {
                const float* xr = x + row * d;
                float sum = 0;
#pragma omp simd reduction(+ : sum)
                for (int64_t c = 0; c < d; ++c)
                {
                    sum += xr[c];
                }
                mean[row] = sum / static_cast<float>(d);
            }
            for (int64_t row = first; row < last; ++row)
            {
                const float* xr = x + row * d;
                const float m = mean[row];
                float squares = 0;
#pragma omp simd reduction(+ : squares)
                for (int64_t c = 0; c < d; ++c)
                {
                    const float centred = xr[c] - m;
                    squares += centred * centred;
                }
                rstd[row] = 1 / std::sqrt(squares / static_cast<float>(d) + eps);
            }
        }
        for (int64_t row = first; row < last; ++row)
        {
            const float* xr = x + row * d;
            float* yr = y + row * d;
            const float m = mean[row];
            const float r = rstd[row];
#pragma omp simd
            for (int64_t c = 0; c < d; ++c)
            {
                yr[c] = (xr[c] - m) * r * weight[c] + bias[c];
            }
        }
        first = last;
    }
}

/**
 * dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy weight and xhat = (x - mean) rstd, for
 * the rows [begin, end).
 */
template<int kD>
TADLORA_KERNEL void
Backward(int64_t features, int64_t begin, int64_t end, const float* __restrict x,
         const float* __restrict weight, const float* __restrict mean, const float* __restrict rstd,
         const float* __restrict dy, float* __restrict dx)
{
    const int64_t d = kD > 0 ? kD : features;
    for (int64_t row = begin; row < end; ++row)
    {
        const float* xr = x + row * d;
        const float* dyr = dy + row * d;
        const float m = mean[row];
        const float r = rstd[row];
        float sumG = 0;
        float sumGX = 0;
#pragma omp simd reduction(+ : sumG, sumGX)
        for (int64_t c = 0; c < d; ++c)
        {
            const float g = dyr[c] * weight[c];
            sumG += g;
            sumGX += g * (xr[c] - m) * r;
        }
        const float meanG = sumG / static_cast<float>(d);
        const float meanGX = sumGX / static_cast<float>(d);
        float* dxr = dx + row * d;
#pragma omp simd
        for (int64_t c = 0; c < d; ++c)
        {
            dxr[c] = r * (dyr[c] * weight[c] - meanG - (xr[c] - m) * r * meanGX);
        }
    }
}

/** The width the kernels are compiled for: the default model's 64. */
constexpr int kWidth = 64;

/** A normalization's output and what its backward pass reads. */
struct Normalized
{
    torch::Tensor y;
    torch::Tensor input; //!< x, contiguous
    torch::Tensor weight;
    torch::Tensor mean;
    torch::Tensor rstd;
};

/** @return the layer norm of x's rows (LayerNorm) and the statistics it took */
Normalized
Normalize(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
          double eps)
{
    const int64_t d = x.size(-1);
    const auto input = x.contiguous();
    const int64_t rows = input.numel() / d;
    Normalized n{torch::empty_like(input), input, weight.contiguous(), torch::empty({rows}),
                 torch::empty({rows})};
    const auto b = bias.contiguous();
    const auto kernel = ForWidth<kWidth>(
        d, ForPieces(&Forward<kWidth, Piece16>, &Forward<kWidth, Piece8>), &Forward<0, Piece8>);
    at::parallel_for(0, rows, Grain(d),
                     [&](int64_t begin, int64_t end)
                     {
                         kernel(d, begin, end, static_cast<float>(eps), input.data_ptr<float>(),
                                n.weight.data_ptr<float>(), b.data_ptr<float>(),
                                n.y.data_ptr<float>(), n.mean.data_ptr<float>(),
                                n.rstd.data_ptr<float>());
                     });
    return n;
}

struct LayerNormFunction : torch::autograd::Function<LayerNormFunction>
{
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& weight, const torch::Tensor& bias, double eps)
    {
        const Normalized n = Normalize(x, weight, bias, eps);
        ctx->save_for_backward({n.input, n.weight, n.mean, n.rstd});
        return n.y;
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads)
    {
        const auto saved = ctx->get_saved_variables();
        const auto& x = saved[0];
        const auto& weight = saved[1];
        const auto& mean = saved[2];
        const auto& rstd = saved[3];
        const auto dy = grads[0].contiguous();
        const int64_t d = x.size(-1);
        const int64_t rows = x.numel() / d;
        torch::autograd::tensor_list result(4);
        if (ctx->needs_input_grad(0))
        {
            auto dx = torch::empty_like(x);
            const auto kernel = ForWidth<kWidth>(d, &Backward<kWidth>, &Backward<0>);
            at::parallel_for(0, rows, Grain(d),
                             [&](int64_t begin, int64_t end)
                             {
                                 kernel(d, begin, end, x.data_ptr<float>(),
                                        weight.data_ptr<float>(), mean.data_ptr<float>(),
                                        rstd.data_ptr<float>(), dy.data_ptr<float>(),
                                        dx.data_ptr<float>());
                             });
            result[0] = dx;
        }
        // The affine parameters' gradients are sums over every row: only pretraining asks for
        // them, so LibTorch's reductions do.
        const auto dyRows = dy.view({rows, d});
        if (ctx->needs_input_grad(1))
        {
            const auto xhat = (x.view({rows, d}) - mean.unsqueeze(1)) * rstd.unsqueeze(1);
            result[1] = (dyRows * xhat).sum(0);
        }
        if (ctx->needs_input_grad(2))
        {
            result[2] = dyRows.sum(0);
        }
        return result;
    }
};

} // namespace

at::Tensor
LayerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps)
{
    // Without autograd (evaluation), the kernel alone: a function's node costs a microsecond.
    return torch::GradMode::is_enabled() ? LayerNormFunction::apply(x, weight, bias, eps)
                                         : Normalize(x, weight, bias, eps).y;
}

} // namespace tadlora
