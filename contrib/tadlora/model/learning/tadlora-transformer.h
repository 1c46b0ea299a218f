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
#include <utility>
#include <vector>

/**
 * @file
 * A small transformer encoder classifier with LoRA on some of its blocks' projections (the
 * attention query and value by default, as the paper).
 */

namespace tadlora
{

struct TaskData;

/** @brief A linear projection of an encoder block, which LoRA may adapt. */
enum class Projection
{
    Query,
    Key,
    Value,
    Output,       //!< the attention's output projection
    FeedForward1, //!< d -> ffn
    FeedForward2, //!< ffn -> d
};

/**
 * @param spec a comma-separated set of q, k, v, o, ff1, ff2, or `all` (every one)
 * @return those projections, each once, in the block's order (q, k, v, o, ff1, ff2)
 * @throws std::invalid_argument on anything else
 */
std::vector<Projection> ParseLoraTargets(const std::string& spec);

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
    /** the adapted projections of every block (ParseLoraTargets); the base does not depend on
     * them, so they are not part of BaseKey() */
    std::vector<Projection> loraTargets{Projection::Query, Projection::Value};

    /** @return a short text that changes whenever the frozen base's shape changes */
    std::string BaseKey() const;
};

/**
 * @param task a task
 * @return the default shape, with the task's tokens, token features or vocabulary, and classes
 */
ModelConfig ModelConfigFor(const TaskData& task);

/**
 * @brief The floating-point operations of one training sample, counted from the model's shape:
 * 2 x the multiply-adds of every matmul of the forward pass, and of those of the backward pass
 * that autograd must run to reach every LoRA factor, as a plain implementation computes them
 * (README, "Performance"). The last block counts the class token's query, attention output and
 * feed-forward only (nothing reads the other tokens' states), and the keys and values of every
 * token, which standard attention reads. The model does more in places (each model's weights
 * formed at full width) and less in others (the last block's attention in the class-token
 * form): this is the model's count, not the implementation's.
 * @param config the model's shape
 * @return FLOPs per sample; a local step costs this x the batch size
 */
double TrainingFlopsPerSample(const ModelConfig& config);

/**
 * @brief The LoRA factors of G models over one frozen base, stacked: for every adapted layer
 * (block by block, in each block the config's loraTargets), A [G, r, d_in] and B [G, d_out, r].
 *
 * Defined in tadlora-lora-factors.h; the model only reads it.
 */
class LoraFactors;

/** @brief Pre-norm multi-head self-attention and feed-forward block. */
struct EncoderBlockImpl : torch::nn::Module
{
    /** @param config the model's shape */
    explicit EncoderBlockImpl(const ModelConfig& config);
    /**
     * @param x [G_x, N, S, d]: G_x = 1 when every model reads the same inputs
     * @param lora the models' factors, or nullptr for the frozen base alone
     * @param layer index in lora of this block's first adapted projection's factors
     * @param outputs how many leading tokens' states to compute (keys and values are always
     *        every token's): S, or 1 when only the class token matters next
     * @param weights lora's adapted weights if formed already (AdaptedWeights), or nullptr
     * @return [G, N, outputs, d]
     */
    torch::Tensor forward(const torch::Tensor& x, const LoraFactors* lora, size_t layer,
                          int64_t outputs, const std::vector<torch::Tensor>* weights);

    /** @return the frozen layer of projection p */
    torch::nn::Linear& Layer(Projection p);

    int64_t heads;                       //!< attention heads
    double scaling;                      //!< LoRA's alpha / r
    std::vector<Projection> targets;     //!< the projections LoRA adapts, in lora's order
    torch::nn::LayerNorm norm1{nullptr}; //!< before attention
    torch::nn::Linear query{nullptr};    //!< frozen, like every projection (LoRA on top)
    torch::nn::Linear key{nullptr};      //!< frozen
    torch::nn::Linear value{nullptr};    //!< frozen
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
 * The module holds the frozen base only. LoRA factors come with each call, stacked over G
 * models (tadlora::LoraFactors), so one pass runs many clients' models: every frozen matmul
 * over all of their inputs at once, every adapted one as a batched matmul with each model's
 * weight W + s B A (or, when all models read one input, W x once and each model's rank-r
 * term on top). Inputs carry a leading model axis: [G, N, ...], one batch per model, or [1, N,
 * ...], one batch that all models read; then whatever the base computes before the first adapted
 * projection runs once.
 *
 * The encoder is pretrained once (see tadlora-pretrain.h); fine-tuning then trains only the
 * LoRA factors: the base and the classification head stay frozen, as in the paper.
 */
struct TransformerClassifierImpl : torch::nn::Module
{
    /** @param config the model's shape */
    explicit TransformerClassifierImpl(const ModelConfig& config);
    /**
     * @param x inputs [G_x, N, tokens, tokenDim] or [G_x, N, tokens] ids (see above)
     * @param lora G models' factors, or nullptr for the frozen base alone (G = G_x)
     * @param outputs how many leading tokens' final states to compute: 1 + tokens, or 1 for the
     *        class token alone (the last block then skips the other tokens' queries, attention
     *        outputs and feed-forward, which nothing reads)
     * @return hidden states [G, N, outputs, d]
     */
    torch::Tensor Encode(const torch::Tensor& x, const LoraFactors* lora, int64_t outputs,
                         const std::vector<torch::Tensor>* weights = nullptr);
    /**
     * @param x inputs (see Encode)
     * @param lora G models' factors, or nullptr for the frozen base and head alone (G = G_x)
     * @param weights their adapted weights if formed already (AdaptedWeights), or nullptr
     * @return class logits [G, N, classes], from the class token's final state
     */
    torch::Tensor forward(const torch::Tensor& x, const LoraFactors* lora,
                          const std::vector<torch::Tensor>* weights = nullptr);
    /**
     * @param lora G models' factors
     * @return per adapted projection (lora's order), each model's W + s B A [G, d_out, d_in]:
     * what a pass forms where the models read inputs of their own, formed once for the many
     * passes of an evaluation (without autograd: training forms them in every step's graph)
     */
    std::vector<torch::Tensor> AdaptedWeights(const LoraFactors& lora);
    /** @return [in, out] of every adapted projection, block by block, in loraTargets' order */
    std::vector<std::pair<int64_t, int64_t>> AdaptedShapes() const;
    /** @brief Freeze every parameter: only LoRA factors, held outside, are trained. */
    void Freeze();

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
