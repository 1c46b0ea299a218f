// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-gelu.h"

#include "tadlora-kernel.h"
#include "tadlora-parallel.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tadlora
{

namespace
{

/** Elements per parallel task: enough work to be worth a thread. */
constexpr int64_t kGrain = 32768;

/**
 * @return exp(x) for x <= 0 (Cephes' single-precision polynomial: relative error about 1e-7),
 * as straight-line arithmetic that vectorizes; below -87 (exp < 2^-125) it returns exp(-87)
 */
inline float
ExpNonPositive(float x)
{
    x = std::max(x, -87.0f);
    // x = n ln 2 + r with n = round(x / ln 2), |r| <= ln 2 / 2: adding and taking away 1.5 2^23
    // rounds to an integer (in float arithmetic; what std::nearbyint does, but vectorizes).
    constexpr float kRound = 12582912.0f;
    const float n = (x * 1.44269504088896341f + kRound) - kRound;
    const float r = x - n * 0.693359375f + n * 2.12194440e-4f; // ln 2 in two parts
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23; // 2^n, n >= -126
    float scale;
    std::memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

/**
 * @return Phi(x) = (1 + erf(x / sqrt 2)) / 2 given e = exp(-x^2 / 2) (which is exp(-z^2) for
 * z = x / sqrt 2): erf(|z|) = 1 - t (p1 + t (p2 + t (p3 + t (p4 + t p5)))) exp(-z^2) with
 * t = 1 / (1 + p |z|), the polynomial LibTorch's vectorized erf uses
 */
inline float
Cdf(float x, float e)
{
    const float z = std::fabs(x) * 0.70710678118654752f;
    const float t = 1.0f / (1.0f + 0.3275911f * z);
    const float r =
        0.254829592f +
        t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f)));
    const float erfAbs = 1.0f - r * t * e;
    return 0.5f * (1.0f + std::copysign(erfAbs, x));
}

/** y = x Phi(x) over [begin, end) */
TADLORA_KERNEL void
Forward(int64_t begin, int64_t end, const float* __restrict x, float* __restrict y)
{
#pragma omp simd
    for (int64_t i = begin; i < end; ++i)
    {
        const float v = x[i];
        y[i] = v * Cdf(v, ExpNonPositive(-0.5f * v * v));
    }
}

/** dx = dy (Phi(x) + x phi(x)) over [begin, end) */
TADLORA_KERNEL void
Backward(int64_t begin, int64_t end, const float* __restrict x, const float* __restrict dy,
         float* __restrict dx)
{
#pragma omp simd
    for (int64_t i = begin; i < end; ++i)
    {
        const float v = x[i];
        const float e = ExpNonPositive(-0.5f * v * v);
        dx[i] = dy[i] * (Cdf(v, e) + v * e * 0.39894228040143268f); // phi = e / sqrt(2 pi)
    }
}

/** @return GELU(input) for a contiguous input */
torch::Tensor
Activated(const torch::Tensor& input)
{
    auto y = torch::empty_like(input);
    at::parallel_for(0, input.numel(), kGrain,
                     [&](int64_t begin, int64_t end)
                     { Forward(begin, end, input.data_ptr<float>(), y.data_ptr<float>()); });
    return y;
}

struct GeluFunction : torch::autograd::Function<GeluFunction>
{
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x)
    {
        const auto input = x.contiguous();
        ctx->save_for_backward({input});
        return Activated(input);
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads)
    {
        const auto x = ctx->get_saved_variables()[0];
        const auto dy = grads[0].contiguous();
        auto dx = torch::empty_like(x);
        at::parallel_for(0, x.numel(), kGrain,
                         [&](int64_t begin, int64_t end) {
                             Backward(begin, end, x.data_ptr<float>(), dy.data_ptr<float>(),
                                      dx.data_ptr<float>());
                         });
        return {dx};
    }
};

} // namespace

at::Tensor
Gelu(const at::Tensor& x)
{
    // Without autograd (evaluation), the kernel alone: a function's node costs a microsecond.
    return torch::GradMode::is_enabled() ? GeluFunction::apply(x) : Activated(x.contiguous());
}

} // namespace tadlora
