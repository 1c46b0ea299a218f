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

/**
 * @return whether FusedClassTokenAttention runs models of width d with these heads here: the
 * default model's widths (d = 64, heads of 16), where ExpLikeLibTorch runs (tadlora-exp.h)
 */
bool FusedClassTokenRuns(int64_t d, int64_t heads);

/**
 * @brief The class token's attention output in a model's last block, evaluating (no autograd):
 * q = W_q x_0 + b_q and, per head h, W_v^h (sum_j p_j x_j) + b_v^h with p =
 * softmax_j(scale (W_k^h^T q^h) . x_j): the form ClassTokenAttention composes from products and
 * Attention for training (tadlora-transformer.cc), here one pass per model and sample.
 *
 * Why: evaluating, a pass holds a few samples per model, and the composed form ran the query and
 * value products as one small oneDNN call per model and head, with copies between the heads'
 * layouts; it took about a tenth of an evaluation. The scores, softmax and weighted sums are
 * Attention's arithmetic in its order; the products sum over their inputs in order.
 *
 * @param x [G_x, N, S, d] the block's normalized input (token 0 the class token), features
 *          contiguous
 * @param wq [G_q, d, d] each model's query weight (W + s B A where LoRA adapts it), or one shared;
 *           contiguous, like wk and wv
 * @param bq [d] the query bias
 * @param wk [G_k, d, d] the key weight (the key bias adds the same to every score: not needed)
 * @param wv [G_v, d, d] the value weight
 * @param bv [d] the value bias
 * @param heads heads of d / heads features; FusedClassTokenRuns(d, heads) must hold
 * @param scale the scores' factor
 * @return [G, N, 1, d], G the largest of the G's
 */
at::Tensor FusedClassTokenAttention(const at::Tensor& x, const at::Tensor& wq, const at::Tensor& bq,
                                    const at::Tensor& wk, const at::Tensor& wv,
                                    const at::Tensor& bv, int64_t heads, double scale);

} // namespace tadlora

#endif // TADLORA_ATTENTION_H
