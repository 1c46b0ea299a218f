// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_ATTENTION_H
#define TADLORA_ATTENTION_H

#include <ATen/core/Tensor.h>

/**
 * @file
 * Scaled dot-product attention over many short sequences, as one fused CPU kernel.
 */

namespace tadlora
{

/**
 * @brief Multi-head softmax(q k^T scale) v for every sequence of every model, differentiable;
 * a sequence may have fewer queries than keys.
 *
 * Why kernels of our own: a batch of the default model has thousands of 17 x 16 sequences
 * (clients x samples x heads), and LibTorch 1.13's CPU bmm runs such a batch as one BLAS call
 * per matrix, one thread, with a select and a conjugation check around each: the profile showed
 * those wrappers taking most of a training step. Here the scores, the softmax's row sums and the
 * weighted sums (and, backward, their gradients) are short loops over each sequence's few
 * kilobytes, the sequences spread over LibTorch's threads. They read each head's features where
 * the projections wrote them and write the result where the output projection reads it: no
 * copies to a per-head layout and back. Sequences of the default model's first block take one
 * fused pass each, scores to output, with the same arithmetic and LibTorch's own exp
 * (tadlora-exp.h): the same bits, 1.2 times faster in evaluation; training's forward pass stores
 * the softmax on the way.
 *
 * @param q [G_q, N, Sq, heads x dh] queries, float32, features contiguous
 * @param k [G_k, N, Sk, heads x dh] keys, or [G_k, N, Sk, dh] read by every head (whose
 *          gradient is then the heads' sum; for Sq = 1 only)
 * @param v [G_k, N, Sk, heads x dh] values, or [G_k, N, Sk, dh] likewise
 * @param heads the number of heads the features split into
 * @param scale the scores' factor, usually 1 / sqrt(dh)
 * @return [G, N, Sq, heads x dh], G the largest of q's, k's and v's (a G of 1 is shared by
 *         every model)
 */
at::Tensor Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                     double scale);

} // namespace tadlora

#endif // TADLORA_ATTENTION_H
