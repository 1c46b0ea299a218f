// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-transformer.h"

#include "tadlora-dataset.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace tadlora
{

std::string
ModelConfig::BaseKey() const
{
    std::ostringstream key;
    key << "t" << tokens;
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

LoraLinearImpl::LoraLinearImpl(int64_t in, int64_t out, int64_t rank, double alpha)
    : base(register_module("base", torch::nn::Linear(in, out)))
    , a(register_parameter("a", torch::empty({rank, in})))
    , b(register_parameter("b", torch::zeros({out, rank})))
    , scaling(alpha / static_cast<double>(rank))
{
    // Kaiming-uniform with a = sqrt(5), as nn.Linear and the LoRA reference initialize A.
    torch::NoGradGuard noGrad;
    torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
}

torch::Tensor
LoraLinearImpl::forward(const torch::Tensor& x)
{
    return base(x) +
           scaling * torch::nn::functional::linear(torch::nn::functional::linear(x, a), b);
}

EncoderBlockImpl::EncoderBlockImpl(const ModelConfig& c)
    : heads(c.heads)
    , norm1(register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dModel}))))
    , query(register_module("query", LoraLinear(c.dModel, c.dModel, c.rank, c.alpha)))
    , key(register_module("key", torch::nn::Linear(c.dModel, c.dModel)))
    , value(register_module("value", LoraLinear(c.dModel, c.dModel, c.rank, c.alpha)))
    , output(register_module("output", torch::nn::Linear(c.dModel, c.dModel)))
    , norm2(register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dModel}))))
    , ff1(register_module("ff1", torch::nn::Linear(c.dModel, c.ffn)))
    , ff2(register_module("ff2", torch::nn::Linear(c.ffn, c.dModel)))
{
}

torch::Tensor
EncoderBlockImpl::forward(const torch::Tensor& x)
{
    const int64_t n = x.size(0);
    const int64_t s = x.size(1);
    const int64_t d = x.size(2);
    const int64_t dh = d / heads;
    auto h = norm1(x);
    auto split = [&](const torch::Tensor& t) { return t.view({n, s, heads, dh}).transpose(1, 2); };
    auto q = split(query(h)); // [N, heads, S, dh]
    auto k = split(key(h));
    auto v = split(value(h));
    auto attention =
        torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(dh)), -1);
    auto mixed = torch::matmul(attention, v).transpose(1, 2).reshape({n, s, d});
    auto y = x + output(mixed);
    return y + ff2(torch::gelu(ff1(norm2(y))));
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
TransformerClassifierImpl::Encode(const torch::Tensor& x)
{
    auto h = config.vocab > 0 ? embedIds(x) : embedFeatures(x); // [N, tokens, d]
    h = torch::cat({classToken.expand({h.size(0), 1, h.size(2)}), h}, 1) + position;
    for (const auto& block : *blocks)
    {
        h = block->as<EncoderBlock>()->forward(h);
    }
    return norm(h);
}

torch::Tensor
TransformerClassifierImpl::forward(const torch::Tensor& x)
{
    return head(Encode(x).select(1, 0));
}

std::vector<LoraLinear>
TransformerClassifierImpl::Adapted() const
{
    std::vector<LoraLinear> adapted;
    for (const auto& block : *blocks)
    {
        const auto* b = block->as<EncoderBlock>();
        adapted.push_back(b->query);
        adapted.push_back(b->value);
    }
    return adapted;
}

void
TransformerClassifierImpl::FreezeBase()
{
    for (auto& p : parameters())
    {
        p.set_requires_grad(false);
    }
    for (auto& adapted : Adapted())
    {
        adapted->a.set_requires_grad(true);
        adapted->b.set_requires_grad(true);
    }
}

} // namespace tadlora
