// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_PRODUCT_H
#define TADLORA_PRODUCT_H

#include <ATen/core/Tensor.h>

/**
 * @file
 * Products with a frozen layer's weight, by oneDNN's sgemm.
 */

namespace tadlora
{

/**
 * @brief y += x w^T, by oneDNN's single-precision matmul (Debian's libdnnl, which LibTorch
 * itself links).
 *
 * Why not LibTorch's matmul: it runs OpenBLAS, whose kernels are chosen by the processor (here
 * its AVX2 ones, the machine's environment pinning them); oneDNN picks its AVX-512 kernels where
 * the processor has them. On this repository's machine they ran the model's shapes about twice
 * as fast (README, "Performance"). The sums are a dot product over K per output either way, in
 * another order, so the last bit may differ from OpenBLAS's. Inside a parallel region it runs
 * on the calling thread; outside one, on LibTorch's threads.
 *
 * @param x [M, K] float32, rows contiguous
 * @param w [N, K] float32, rows contiguous
 * @param y [M, N] float32, contiguous: accumulated into
 */
void AddProduct(const at::Tensor& x, const at::Tensor& w, at::Tensor& y);

/**
 * @brief A frozen layer: bias + x w^T, differentiable in x, whose gradient dy w is oneDNN's
 * product too.
 * @param x [M, K] float32
 * @param w [N, K] float32, rows contiguous, not requiring grad
 * @param bias [N] float32, not requiring grad
 * @return [M, N]
 */
at::Tensor FrozenAffine(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias);

} // namespace tadlora

#endif // TADLORA_PRODUCT_H
