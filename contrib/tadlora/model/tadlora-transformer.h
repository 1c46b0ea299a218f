// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_TRANSFORMER_H
#define TADLORA_TRANSFORMER_H

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

/**
 * @file
 * A small transformer encoder classifier with LoRA on the attention query and value projections.
 */

namespace tadlora
{

struct TaskData;

/** @brief Shape of the encoder and of its LoRA adapters. */
struct ModelConfig
{
    int64_t tokens = 16;   //!< input tokens per sample
    int64_t tokenDim = 49; //!< features per input token (unused when vocab > 0)
    int64_t vocab = 0;     //!< > 0: inputs are token ids in [0, vocab); 0: feature vectors
    int64_t dModel = 64;   //!< residual width
    int64_t heads = 4;     //!< attention heads
    int64_t layers = 2;    //!< encoder blocks
    int64_t ffn = 128;     //!< feed-forward width
    int64_t classes = 10;  //!< classification head outputs
    int64_t rank = 8;      //!< LoRA rank r
    double alpha = 16;     //!< LoRA alpha; the update is scaled by alpha / r

    /** @return a short text that changes whenever the frozen base's shape changes */
    std::string BaseKey() const;
};

/**
 * @param task a task
 * @return the default shape, with the task's tokens, token features or vocabulary, and classes
 */
ModelConfig ModelConfigFor(const TaskData& task);

/**
 * @brief y = W x + b + (alpha / r) B A x, with W, b frozen after pretraining.
 */
struct LoraLinearImpl : torch::nn::Module
{
    /**
     * @param in d_in
     * @param out d_out
     * @param rank r
     * @param alpha LoRA alpha
     */
    LoraLinearImpl(int64_t in, int64_t out, int64_t rank, double alpha);
    /** @param x [..., d_in] @return [..., d_out] */
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::Linear base{nullptr}; //!< the pretrained projection
    torch::Tensor a;                 //!< [r, d_in]
    torch::Tensor b;                 //!< [d_out, r]
    double scaling;                  //!< alpha / r
};
TORCH_MODULE(LoraLinear);

/** @brief Pre-norm multi-head self-attention and feed-forward block. */
struct EncoderBlockImpl : torch::nn::Module
{
    /** @param config the model's shape */
    explicit EncoderBlockImpl(const ModelConfig& config);
    /** @param x [N, S, d] @return [N, S, d] */
    torch::Tensor forward(const torch::Tensor& x);

    int64_t heads;                       //!< attention heads
    torch::nn::LayerNorm norm1{nullptr}; //!< before attention
    LoraLinear query{nullptr};           //!< adapted
    torch::nn::Linear key{nullptr};      //!< frozen
    LoraLinear value{nullptr};           //!< adapted
    torch::nn::Linear output{nullptr};   //!< frozen
    torch::nn::LayerNorm norm2{nullptr}; //!< before the feed-forward
    torch::nn::Linear ff1{nullptr};      //!< frozen
    torch::nn::Linear ff2{nullptr};      //!< frozen
};
TORCH_MODULE(EncoderBlock);

/**
 * @brief Token embedding, a class token, encoder blocks and a linear classification head.
 *
 * Inputs x are [N, tokens, tokenDim] features, embedded by a linear map, or, when the config
 * has a vocabulary, [N, tokens] int64 ids, embedded by a lookup table (padding embeds to 0).
 *
 * The encoder is pretrained once (see tadlora-pretrain.h); fine-tuning then trains only the
 * LoRA factors: the base and the classification head stay frozen, as in the paper.
 */
struct TransformerClassifierImpl : torch::nn::Module
{
    /** @param config the model's shape */
    explicit TransformerClassifierImpl(const ModelConfig& config);
    /** @param x inputs (see above) @return hidden states [N, 1 + tokens, d] */
    torch::Tensor Encode(const torch::Tensor& x);
    /** @param x inputs (see above) @return class logits [N, classes] */
    torch::Tensor forward(const torch::Tensor& x);
    /** @return every adapted projection, block by block, query before value */
    std::vector<LoraLinear> Adapted() const;
    /** @brief Freeze everything but the LoRA factors. */
    void FreezeBase();

    ModelConfig config;                       //!< shape
    torch::nn::Linear embedFeatures{nullptr}; //!< token features -> d (vocab = 0)
    torch::nn::Embedding embedIds{nullptr};   //!< token id -> d (vocab > 0)
    torch::Tensor classToken;                 //!< [1, 1, d]
    torch::Tensor position;                   //!< [1, 1 + tokens, d]
    torch::nn::ModuleList blocks;             //!< EncoderBlock x layers
    torch::nn::LayerNorm norm{nullptr};       //!< final norm
    torch::nn::Linear head{nullptr};          //!< classification head
};
TORCH_MODULE(TransformerClassifier);

} // namespace tadlora

#endif // TADLORA_TRANSFORMER_H
