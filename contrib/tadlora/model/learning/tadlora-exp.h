// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_EXP_H
#define TADLORA_EXP_H

/**
 * @file
 * LibTorch's float exp, for kernels that fuse it with other work: the same bits as
 * torch::Tensor::exp_ on the same machine, where this file can show it.
 */

#include <cstdint>

namespace tadlora
{

/**
 * @return whether ExpLikeLibTorch may be called and rounds as LibTorch's exp does here: the CPU
 * has AVX2 and FMA, and LibTorch's exp of a probe of 65536 values from -104 to 0 (every softmax
 * input's range) equals ours bit for bit (LibTorch dispatches its float exp to
 * Sleef_expf8_u10 on AVX2 machines; on others, or set to another capability, it is not ours)
 */
bool HaveExpLikeLibTorch();

/**
 * x[i] = exp(x[i]) for i < n, n a multiple of 8, by Sleef_expf8_u10 (ATen's AVX2
 * Vectorized<float>::exp), sixteen at a time by its AVX-512 form where the CPU has AVX-512 (SLEEF's
 * deterministic functions: the same bits). Only where HaveExpLikeLibTorch().
 */
void ExpLikeLibTorch(float* x, int64_t n);

} // namespace tadlora

#endif // TADLORA_EXP_H
