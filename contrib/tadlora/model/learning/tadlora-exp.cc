// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-exp.h"

#include <torch/torch.h>

#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

// SLEEF's exp of eight and of sixteen floats. Declared here because sleef.h declares its AVX
// functions only in files compiled for AVX, which this one may not be (HaveExpLikeLibTorch runs
// on any CPU). Both are SLEEF's deterministic forms ("finz": the same bits at either width).
extern "C" __m256 Sleef_expf8_u10(__m256);
extern "C" __m512 Sleef_expf16_u10avx512f(__m512);
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
        // Vectors of 16 where the CPU has AVX-512, and one of 8 (ExpLikeLibTorch).
        const auto probe = torch::linspace(-104, 0, (1 << 16) + 8);
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
namespace
{

/** x[i] = exp(x[i]) for i < n, n a multiple of 16 */
__attribute__((target("avx512f"))) void
Exp16(float* x, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16)
    {
        _mm512_storeu_ps(x + i, Sleef_expf16_u10avx512f(_mm512_loadu_ps(x + i)));
    }
}

} // namespace

__attribute__((target("avx2,fma"))) void
ExpLikeLibTorch(float* x, int64_t n)
{
    // Sixteen at a time where the CPU can (half the calls, each no slower), the rest by eight.
    static const bool wide = __builtin_cpu_supports("avx512f");
    const int64_t by16 = wide ? n / 16 * 16 : 0;
    if (by16 > 0) // never called, so never run, on a CPU without AVX-512
    {
        Exp16(x, by16);
    }
    for (int64_t i = by16; i < n; i += 8)
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
