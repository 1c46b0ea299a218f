// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_GELU_H
#define TADLORA_GELU_H

#include <ATen/core/Tensor.h>

/**
 * @file
 * The exact (erf) GELU as one CPU kernel per direction.
 */

namespace tadlora
{

/**
 * @brief x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, differentiable; what torch::gelu computes, by
 * the same approximation of erf (Abramowitz and Stegun 7.1.26, error below 1.5e-7), up to
 * float rounding.
 *
 * Why a kernel of our own: LibTorch 1.13 evaluates erf's exp, and its backward both erf and
 * exp again, in separate vector passes; here one exp per element serves the forward pass's erf,
 * and the backward pass's erf and density. The default model's feed-forward layer applies it
 * to 128 features of every token.
 *
 * @param x float32, any shape
 * @return x's shape
 */
at::Tensor Gelu(const at::Tensor& x);

} // namespace tadlora

#endif // TADLORA_GELU_H
