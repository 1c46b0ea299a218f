// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_PRODUCT_H
#define TADLORA_PRODUCT_H

#include <ATen/core/Tensor.h>

/**
 * @file
 * Products by oneDNN: a frozen layer's (with its bias and an epilogue), and batches of small
 * ones.
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
 * as fast (doc/performance-history.md). The sums are a dot product over K per output either way, in
 * another order, so the last bit may differ from OpenBLAS's. Inside a parallel region it runs
 * on the calling thread; outside one, on LibTorch's threads.
 *
 * @param x [M, K] float32, rows contiguous
 * @param w [N, K] float32, rows contiguous
 * @param y [M, N] float32, contiguous: accumulated into
 */
void AddProduct(const at::Tensor& x, const at::Tensor& w, at::Tensor& y);

/** What AffineInto does with a frozen layer's outputs. */
enum class Epilogue
{
    Store,      //!< y = bias + x w^T
    Accumulate, //!< y += bias + x w^T (a residual connection: y holds the residual)
    Gelu,       //!< y = GELU(bias + x w^T), erf's form, by oneDNN (evaluation's feed-forward)
};

/**
 * @brief A frozen layer's product with its bias and epilogue, by one oneDNN matmul (the bias
 * and the epilogue applied as each block of outputs is written, not in passes of their own).
 *
 * Not differentiable: FrozenAffine's forward and evaluation call it. oneDNN's GELU differs from
 * Gelu() (tadlora-gelu.h) in the last bits (within 5e-7 on the model's activations).
 *
 * @param x [M, K] float32 (copied first unless its rows are contiguous)
 * @param w [N, K] float32, contiguous
 * @param bias [N] float32
 * @param then what to do with the outputs
 * @param y [M, N] float32, contiguous: written (read first for Accumulate)
 */
void AffineInto(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, Epilogue then,
                at::Tensor& y);

/**
 * @brief A frozen layer: bias + x w^T, differentiable in x, whose gradient dy w is oneDNN's
 * product too.
 * @param x [M, K] float32
 * @param w [N, K] float32, rows contiguous, not requiring grad
 * @param bias [N] float32, not requiring grad
 * @return [M, N]
 */
at::Tensor FrozenAffine(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias);

/**
 * @brief x w (+ bias) for every matrix of a batch, by oneDNN's sgemm one matrix at a time,
 * differentiable in x, w and the bias (x's and w's gradients oneDNN's products too).
 *
 * Batched products of small matrices (a model's or a head's) through LibTorch's bmm ran one
 * OpenBLAS call per matrix behind a select and a dispatch for each operand; here each matrix is
 * one sgemm call on the operands' memory as it is laid out.
 *
 * @param x [..., M, K] float32, each matrix row- or column-major (one stride 1); a batch
 * stride 0 (expand) shares one matrix
 * @param w [..., K, N] likewise, with x's leading sizes
 * @param bias [N] added to every row if defined
 * @return [..., M, N], contiguous
 */
at::Tensor Products(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias = {});

} // namespace tadlora

#endif // TADLORA_PRODUCT_H
