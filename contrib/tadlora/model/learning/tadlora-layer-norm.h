// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_LAYER_NORM_H
#define TADLORA_LAYER_NORM_H

#include <ATen/core/Tensor.h>

/**
 * @file
 * Layer normalization over the last dimension, as one CPU kernel per direction.
 */

namespace tadlora
{

/**
 * @brief (x - mean) / sqrt(var + eps) * weight + bias over x's last dimension, differentiable
 * in x, weight and bias; what torch::nn::LayerNorm computes, up to float rounding.
 *
 * Why a kernel of our own: LibTorch 1.13 normalizes a row of the default model's 64 features in
 * about 45 ns forward (its rows' moments are a general reduction), 2.5 times what a loop over the
 * row in vector registers takes; the model normalizes every token's state three times per pass
 * (doc/performance-history.md).
 *
 * @param x [..., d] float32
 * @param weight [d]
 * @param bias [d]
 * @param eps added to the variance
 * @return x's shape
 */
at::Tensor LayerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                     double eps);

} // namespace tadlora

#endif // TADLORA_LAYER_NORM_H
