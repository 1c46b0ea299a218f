// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_LOW_RANK_H
#define TADLORA_LOW_RANK_H

#include <ATen/core/Tensor.h>

/**
 * @file
 * Many models' low-rank terms on top of one shared product, as one CPU kernel (evaluation).
 */

namespace tadlora
{

/**
 * @brief out[g, i] = base[i] + scaling B_g down[g, i], differentiable: G models' LoRA terms
 * over a frozen layer's product W x + bias of one input that every model reads (evaluation).
 *
 * Why a kernel of our own: LibTorch's baddbmm copies the shared product into each model's
 * output and then runs one OpenBLAS product of inner size r per model, each through a select
 * and its own packing; the kernel reads the product once per row and adds the r terms in one
 * pass over each output row (doc/performance-history.md). The r terms sum in rank order, then
 * scale and add: not OpenBLAS's order, so the last bit may differ from baddbmm's.
 *
 * @param base [R, d] float32
 * @param down [G, R, r] float32: each model's A_g x
 * @param b [G, d, r] float32: each model's B
 * @param scaling LoRA's alpha / r
 * @return [G, R, d]
 */
at::Tensor LowRankUpdate(const at::Tensor& base, const at::Tensor& down, const at::Tensor& b,
                         double scaling);

} // namespace tadlora

#endif // TADLORA_LOW_RANK_H
