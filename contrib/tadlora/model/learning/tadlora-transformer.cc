// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-transformer.h"

#include "tadlora-attention.h"
#include "tadlora-dataset.h"
#include "tadlora-gelu.h"
#include "tadlora-layer-norm.h"
#include "tadlora-lora-factors.h"
#include "tadlora-low-rank.h"
#include "tadlora-product.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace tadlora
{

std::vector<Projection>
ParseLoraTargets(const std::string& spec)
{
    const std::vector<std::pair<std::string, Projection>> names{
        {"q", Projection::Query},          {"k", Projection::Key},
        {"v", Projection::Value},          {"o", Projection::Output},
        {"ff1", Projection::FeedForward1}, {"ff2", Projection::FeedForward2}};
    std::vector<bool> chosen(names.size(), spec == "all");
    if (spec != "all")
    {
        std::istringstream items(spec);
        std::string item;
        bool any = false;
        while (std::getline(items, item, ','))
        {
            const auto it = std::find_if(names.begin(), names.end(),
                                         [&item](const auto& n) { return n.first == item; });
            if (it == names.end())
            {
                throw std::invalid_argument("unknown LoRA target '" + item + "' in '" + spec +
                                            "' (allowed: q, k, v, o, ff1, ff2, comma-separated, "
                                            "or all)");
            }
            chosen[it - names.begin()] = true;
            any = true;
        }
        if (!any)
        {
            throw std::invalid_argument("no LoRA target named");
        }
    }
    std::vector<Projection> targets;
    for (size_t i = 0; i < names.size(); ++i)
    {
        if (chosen[i])
        {
            targets.push_back(names[i].second);
        }
    }
    return targets;
}

std::string
ModelConfig::BaseKey() const
{
    std::ostringstream key;
    // r2: the base no longer holds LoRA factors, so its initialization draws differently.
    // r3: layer norm and GELU by our kernels, which round differently from LibTorch's.
    key << "r3-t" << tokens;
    if (vocab > 0)
    {
        key << "v" << vocab;
    }
    else
    {
        key << "x" << tokenDim;
    }
    key << "-d" << dModel << "-h" << heads << "-l" << layers << "-f" << ffn << "-c" << classes;
    return key.str();
}

ModelConfig
ModelConfigFor(const TaskData& task)
{
    ModelConfig config;
    config.tokens = task.tokens;
    config.tokenDim = task.tokenDim;
    config.vocab = task.vocab;
    config.classes = task.train.numClasses;
    return config;
}

double
TrainingFlopsPerSample(const ModelConfig& c)
{
    const double s = static_cast<double>(c.tokens + 1); // keys: every token and the class token
    const double d = static_cast<double>(c.dModel);
    const double f = static_cast<double>(c.ffn);
    const double r = static_cast<double>(c.rank);
    double flops = (c.vocab > 0 ? 0 : 2 * c.tokens * c.tokenDim * d) // embedding, no backward
                   + 2 * (2 * d * c.classes);                        // head and its input gradient
    for (int64_t l = 0; l < c.layers; ++l)
    {
        const double sq = l + 1 == c.layers ? 1 : s; // tokens whose queries and outputs count
        // Forward: query and output over sq tokens, key and value over s; scores and weighted
        // sum; feed-forward.
        const double queryOutput = 4 * sq * d * d;
        const double keyValue = 4 * s * d * d;
        const double attention = 4 * sq * s * d;
        const double feedForward = 4 * sq * d * f;
        flops += queryOutput + keyValue + attention + feedForward;
        // Backward: every frozen matmul's input gradient, both operands of the attention's
        // products; the first block's input needs no gradient: no query, key or value input
        // gradient, no key gradient.
        flops += l > 0 ? queryOutput + keyValue + feedForward + 2 * attention
                       : queryOutput / 2 + feedForward + 1.5 * attention;
        // LoRA, x A^T then (x A^T) B^T over t tokens, d_in a -> d_out b: 2 t r (a + b) forward;
        // backward both factors' gradients and the input's, which the first block's query, key
        // and value do without.
        for (Projection p : c.loraTargets)
        {
            const bool blockInput =
                p == Projection::Query || p == Projection::Key || p == Projection::Value;
            const double t = p == Projection::Key || p == Projection::Value ? s : sq;
            const double a = p == Projection::FeedForward2 ? f : d;
            const double b = p == Projection::FeedForward1 ? f : d;
            flops += 2 * t * r * (a + b) +
                     (l == 0 && blockInput ? 2 * t * r * (a + 2 * b) : 4 * t * r * (a + b));
        }
    }
    return flops;
}

namespace
{

/**
 * @return linear(x) for x [..., d_in]. A trainable layer (pretraining) keeps linear's autograd
 * form; a frozen one is one product over x's rows onto the bias, by oneDNN (FrozenAffine).
 */
torch::Tensor
Affine(torch::nn::Linear& linear, const torch::Tensor& x)
{
    if (linear->bias.requires_grad())
    {
        return linear(x);
    }
    auto sizes = x.sizes().vec();
    sizes.back() = linear->weight.size(0);
    return FrozenAffine(x.reshape({-1, x.size(-1)}), linear->weight, linear->bias).view(sizes);
}

/** @return each model's W + scaling B A: [G, d_out, d_in] */
torch::Tensor
AdaptedWeights(torch::nn::Linear& linear, const torch::Tensor& a, const torch::Tensor& b,
               double scaling)
{
    return torch::baddbmm(linear->weight.unsqueeze(0), b, a, 1, scaling);
}

/**
 * @param linear the frozen layer, W [d_out, d_in] and its bias
 * @param x [G_x, N, S, d_in]: one input per model, or one for all (G_x = 1)
 * @param a [G, r, d_in]
 * @param b [G, d_out, r]
 * @param scaling alpha / r
 * @param weights the models' W + scaling B A if formed already (AdaptedWeights), else undefined
 * @return (W + scaling B A) x + bias for each of the G models: [G, N, S, d_out]
 */
torch::Tensor
Adapted(torch::nn::Linear& linear, const torch::Tensor& x, const torch::Tensor& a,
        const torch::Tensor& b, double scaling, const torch::Tensor& weights)
{
    const int64_t g = a.size(0);
    const int64_t r = a.size(1);
    const int64_t out = b.size(1);
    const auto rows = x.reshape({x.size(0), -1, x.size(-1)}); // [G_x, N S, d_in]
    torch::Tensor y;                                          // [G, N S, d_out]
    if (x.size(0) == 1 && g > 1)
    {
        // One input for every model (evaluation): W x once, every model's A x in one matmul, and
        // each model's B on top by a kernel of our own.
        const auto down = Products(rows[0], a.reshape({g * r, -1}).t()) // [N S, G r]
                              .view({-1, g, r})
                              .transpose(0, 1);
        y = LowRankUpdate(Affine(linear, rows[0]), down, b, scaling);
    }
    else
    {
        // An input per model: each model's weight is formed first (cheap at r << d), so the
        // products run at the layer's full width instead of at r.
        y = Products(
            rows,
            (weights.defined() ? weights : AdaptedWeights(linear, a, b, scaling)).transpose(1, 2),
            linear->bias);
    }
    return y.view({g, x.size(1), x.size(2), out});
}

/**
 * @param x [G_x, heads, N, K]
 * @param w [G_w, heads, K, M]: each model's, or one for every model (G_w = 1)
 * @return x w for every model and head: [max(G_x, G_w), heads, N, M]; with one w, one product
 * per head over all of x's models' rows, not one per model and head
 */
torch::Tensor
PerHead(const torch::Tensor& x, const torch::Tensor& w)
{
    const int64_t heads = x.size(1);
    const int64_t n = x.size(2);
    const int64_t k = x.size(3);
    const int64_t m = w.size(3);
    if (w.size(0) == 1)
    {
        return Products(x.transpose(0, 1).reshape({heads, -1, k}), w[0]) // [heads, G_x N, M]
            .view({heads, x.size(0), n, m})
            .transpose(0, 1);
    }
    return Products(x.expand({w.size(0), heads, n, k}), w);
}

/**
 * @brief The class token's attention output in a last block: per head h,
 * softmax_j(q^h . k_j^h) v_j^h with k_j = W_k x_j + b_k and v_j = W_v x_j + b_v equals
 * W_v^h (sum_j p_j x_j) + b_v^h with p = softmax_j((W_k^h^T q^h) . x_j): the key bias adds
 * the same to every score, and the weights sum to 1. About 8 times less arithmetic than the
 * key and value projections of every token, forward and backward (the gradients are those of
 * the same function; the key bias gets none, as its true gradient is 0).
 *
 * @param q [G_q, N, 1, d] the class token's queries
 * @param h [G_x, N, S, d] the block's normalized input
 * @param wk [G_k, d, d] each model's key weight (W + s B A where LoRA adapts it), or one shared
 * @param wv [G_v, d, d] likewise for the value
 * @param bv [d] the value bias
 * @return [G, N, 1, d]
 */
torch::Tensor
ClassTokenAttention(const torch::Tensor& q, const torch::Tensor& h, const torch::Tensor& wk,
                    const torch::Tensor& wv, const torch::Tensor& bv, int64_t heads, double scale)
{
    const int64_t g = std::max({q.size(0), h.size(0), wk.size(0), wv.size(0)});
    const int64_t n = q.size(1);
    const int64_t d = q.size(3);
    const int64_t dh = d / heads;
    const auto queries =
        q.view({q.size(0), n, heads, dh}).permute({0, 2, 1, 3}); // [G_q, heads, N, dh]
    const auto keyed =
        PerHead(queries, wk.view({wk.size(0), heads, dh, d})) // [max(G_q, G_k), heads, N, d]
            .permute({0, 2, 1, 3});
    // sum_j p_j x_j per head; the attention broadcasts whichever of keyed and h is shared
    const auto mixed =
        Attention(keyed.reshape({keyed.size(0), n, 1, heads * d}), h, h, heads, scale)
            .view({-1, n, heads, d})
            .permute({0, 2, 1, 3}); // [max(G_q, G_k, G_x), heads, N, d]
    return PerHead(mixed, wv.view({wv.size(0), heads, dh, d}).transpose(2, 3)) // [G, heads, N, dh]
               .permute({0, 2, 1, 3})
               .reshape({g, n, 1, d}) +
           bv;
}

/** @return the module's normalization of x, by our kernel (tadlora-layer-norm.h) */
torch::Tensor
Normalize(torch::nn::LayerNorm& norm, const torch::Tensor& x)
{
    return LayerNorm(x, norm->weight, norm->bias, norm->options.eps());
}

} // namespace

EncoderBlockImpl::EncoderBlockImpl(const ModelConfig& c)
    : heads(c.heads)
    , scaling(c.alpha / static_cast<double>(c.rank))
    , targets(c.loraTargets)
    , norm1(register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dModel}))))
    , query(register_module("query", torch::nn::Linear(c.dModel, c.dModel)))
    , key(register_module("key", torch::nn::Linear(c.dModel, c.dModel)))
    , value(register_module("value", torch::nn::Linear(c.dModel, c.dModel)))
    , output(register_module("output", torch::nn::Linear(c.dModel, c.dModel)))
    , norm2(register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dModel}))))
    , ff1(register_module("ff1", torch::nn::Linear(c.dModel, c.ffn)))
    , ff2(register_module("ff2", torch::nn::Linear(c.ffn, c.dModel)))
{
}

torch::nn::Linear&
EncoderBlockImpl::Layer(Projection p)
{
    switch (p)
    {
        case Projection::Query:
            return query;
        case Projection::Key:
            return key;
        case Projection::Value:
            return value;
        case Projection::Output:
            return output;
        case Projection::FeedForward1:
            return ff1;
        case Projection::FeedForward2:
            return ff2;
    }
    throw std::logic_error("EncoderBlock: unknown projection");
}

torch::Tensor
EncoderBlockImpl::forward(const torch::Tensor& x, const LoraFactors* lora, size_t layer,
                          int64_t outputs, const std::vector<torch::Tensor>* weights)
{
    const int64_t d = x.size(3);
    const int64_t dh = d / heads;
    // Which of lora's factors adapt projection p, if any.
    auto adapted = [&](Projection p) -> std::optional<size_t>
    {
        const auto it = std::find(targets.begin(), targets.end(), p);
        if (lora == nullptr || it == targets.end())
        {
            return std::nullopt;
        }
        return layer + (it - targets.begin());
    };
    // A projection of input [G_in, N, tokens, d_in]: each model's own if LoRA adapts it
    // ([G, ...]), else the frozen one ([G_in, ...]; a shared one broadcasts over the models).
    auto project = [&](Projection p, const torch::Tensor& input)
    {
        const auto l = adapted(p);
        return l ? Adapted(Layer(p), input, lora->a[*l], lora->b[*l], scaling,
                           weights != nullptr ? (*weights)[*l] : torch::Tensor())
                 : Affine(Layer(p), input);
    };
    // [G_w, d_out, d_in]: each model's weight, or the frozen one.
    auto weight = [&](Projection p)
    {
        const auto l = adapted(p);
        if (!l)
        {
            return Layer(p)->weight.unsqueeze(0);
        }
        return weights != nullptr ? (*weights)[*l]
                                  : AdaptedWeights(Layer(p), lora->a[*l], lora->b[*l], scaling);
    };
    const auto h = Normalize(norm1, x); // [G_x, N, S, d]
    const double scale = 1 / std::sqrt(double(dh));
    // [G, N, outputs, d]; in a last block, the cheaper form of the same attention, except where
    // the base itself trains (pretraining): the form rounds otherwise, and a base pretrained now
    // must be the one that earlier runs cached. Evaluating, that form is one kernel.
    const bool baseTrains = torch::GradMode::is_enabled() && key->bias.requires_grad();
    torch::Tensor mixed;
    if (outputs == 1 && !torch::GradMode::is_enabled() && FusedClassTokenRuns(d, heads))
    {
        mixed = FusedClassTokenAttention(h, weight(Projection::Query), query->bias,
                                         weight(Projection::Key), weight(Projection::Value),
                                         value->bias, heads, scale);
    }
    else
    {
        // the queries of the first `outputs` tokens
        const auto q = project(Projection::Query, h.narrow(2, 0, outputs));
        mixed = outputs == 1 && !baseTrains
                    ? ClassTokenAttention(q, h, weight(Projection::Key), weight(Projection::Value),
                                          value->bias, heads, scale)
                    : Attention(q, project(Projection::Key, h), project(Projection::Value, h),
                                heads, scale);
    }
    // base + the projection p of input. Evaluating, a frozen projection's product and bias
    // accumulate onto base in oneDNN's matmul (fewer passes over the outputs than adding its
    // result to base; the sums round in another order, which evaluation's accuracies do not
    // see); base is written in place where it is the block's own and has the outputs' shape.
    auto residual =
        [&](const torch::Tensor& base, bool own, Projection p, const torch::Tensor& input)
    {
        if (adapted(p) || torch::GradMode::is_enabled())
        {
            return base + project(p, input);
        }
        torch::nn::Linear& linear = Layer(p);
        auto sizes = input.sizes().vec();
        sizes[0] = std::max(base.size(0), input.size(0));
        const auto in = input.expand(sizes).reshape({-1, input.size(-1)});
        sizes.back() = linear->weight.size(0);
        auto y = own ? base.expand(sizes).contiguous()
                     : base.expand(sizes).clone(at::MemoryFormat::Contiguous);
        auto rows = y.view({-1, sizes.back()});
        AffineInto(in, linear->weight, linear->bias, Epilogue::Accumulate, rows);
        return y;
    };
    // GELU(the first feed-forward projection of input). Evaluating a frozen one, in the product's
    // epilogue (oneDNN's GELU, not a pass of its own).
    auto activated = [&](const torch::Tensor& input)
    {
        if (adapted(Projection::FeedForward1) || torch::GradMode::is_enabled())
        {
            return Gelu(project(Projection::FeedForward1, input));
        }
        auto sizes = input.sizes().vec();
        sizes.back() = ff1->weight.size(0);
        auto y = torch::empty(sizes, input.options());
        auto rows = y.view({-1, sizes.back()});
        AffineInto(input.reshape({-1, input.size(-1)}), ff1->weight, ff1->bias, Epilogue::Gelu,
                   rows);
        return y;
    };
    const auto y = residual(x.narrow(2, 0, outputs), false, Projection::Output, mixed);
    return residual(y, true, Projection::FeedForward2, activated(Normalize(norm2, y)));
}

TransformerClassifierImpl::TransformerClassifierImpl(const ModelConfig& c)
    : config(c)
    // Either embedding is registered as "embed", first, so a base pretrained before the token
    // inputs existed is initialized and named as it was.
    , embedFeatures(c.vocab > 0 ? torch::nn::Linear{nullptr}
                                : register_module("embed", torch::nn::Linear(c.tokenDim, c.dModel)))
    , embedIds(
          c.vocab > 0
              ? register_module(
                    "embed",
                    torch::nn::Embedding(
                        torch::nn::EmbeddingOptions(c.vocab, c.dModel).padding_idx(kPaddingToken)))
              : torch::nn::Embedding{nullptr})
    , classToken(register_parameter("classToken", torch::randn({1, 1, c.dModel}) * 0.02))
    , position(register_parameter("position", torch::randn({1, 1 + c.tokens, c.dModel}) * 0.02))
    , blocks(register_module("blocks", torch::nn::ModuleList()))
    , norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dModel}))))
    , head(register_module("head", torch::nn::Linear(c.dModel, c.classes)))
{
    for (int64_t l = 0; l < c.layers; ++l)
    {
        blocks->push_back(EncoderBlock(c));
    }
}

torch::Tensor
TransformerClassifierImpl::Encode(const torch::Tensor& x, const LoraFactors* lora, int64_t outputs,
                                  const std::vector<torch::Tensor>* weights)
{
    auto h = config.vocab > 0 ? embedIds(x) : Affine(embedFeatures, x); // [G_x, N, tokens, d]
    h = torch::cat({classToken.expand({h.size(0), h.size(1), 1, h.size(3)}), h}, 2) + position;
    for (size_t l = 0; l < blocks->size(); ++l)
    {
        const bool last = l + 1 == blocks->size();
        h = blocks[l]->as<EncoderBlock>()->forward(h, lora, l * config.loraTargets.size(),
                                                   last ? outputs : h.size(2), weights);
    }
    return Normalize(norm, h);
}

torch::Tensor
TransformerClassifierImpl::forward(const torch::Tensor& x, const LoraFactors* lora,
                                   const std::vector<torch::Tensor>* weights)
{
    return Affine(head, Encode(x, lora, 1, weights).select(2, 0));
}

std::vector<torch::Tensor>
TransformerClassifierImpl::AdaptedWeights(const LoraFactors& lora)
{
    std::vector<torch::Tensor> weights;
    for (size_t l = 0; l < blocks->size(); ++l)
    {
        auto& block = *blocks[l]->as<EncoderBlock>();
        for (Projection p : config.loraTargets)
        {
            const size_t i = weights.size();
            weights.push_back(
                tadlora::AdaptedWeights(block.Layer(p), lora.a[i], lora.b[i], block.scaling));
        }
    }
    return weights;
}

std::vector<std::pair<int64_t, int64_t>>
TransformerClassifierImpl::AdaptedShapes() const
{
    std::vector<std::pair<int64_t, int64_t>> shapes;
    for (int64_t l = 0; l < config.layers; ++l)
    {
        for (Projection p : config.loraTargets)
        {
            shapes.emplace_back(p == Projection::FeedForward2 ? config.ffn : config.dModel,
                                p == Projection::FeedForward1 ? config.ffn : config.dModel);
        }
    }
    return shapes;
}

void
TransformerClassifierImpl::Freeze()
{
    for (auto& p : parameters())
    {
        p.set_requires_grad(false);
    }
}

} // namespace tadlora
