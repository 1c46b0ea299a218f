// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-exp.h"

#include <torch/torch.h>

#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

// SLEEF's exp of eight floats. Declared here because sleef.h declares its AVX functions only
// in files compiled for AVX, which this one may not be (HaveExpLikeLibTorch runs on any CPU).
extern "C" __m256 Sleef_expf8_u10(__m256);
#define TADLORA_HAVE_SLEEF_AVX2 1
#endif

namespace tadlora
{

bool
HaveExpLikeLibTorch()
{
    static const bool same = []
    {
#ifdef TADLORA_HAVE_SLEEF_AVX2
        if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        {
            return false;
        }
        c10::InferenceMode inference;
        const auto probe = torch::linspace(-104, 0, 1 << 16);
        const auto theirs = probe.exp();
        auto ours = probe.clone();
        ExpLikeLibTorch(ours.data_ptr<float>(), ours.numel());
        return std::memcmp(theirs.data_ptr<float>(), ours.data_ptr<float>(),
                           ours.numel() * sizeof(float)) == 0;
#else
        return false;
#endif
    }();
    return same;
}

#ifdef TADLORA_HAVE_SLEEF_AVX2
__attribute__((target("avx2,fma"))) void
ExpLikeLibTorch(float* x, int64_t n)
{
    for (int64_t i = 0; i < n; i += 8)
    {
        _mm256_storeu_ps(x + i, Sleef_expf8_u10(_mm256_loadu_ps(x + i)));
    }
}
#else
void
ExpLikeLibTorch(float*, int64_t)
{
    TORCH_CHECK(false, "ExpLikeLibTorch: not on this architecture (HaveExpLikeLibTorch)");
}
#endif

} // namespace tadlora
