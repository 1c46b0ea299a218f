// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-pretrain.h"

#include "tadlora-dataset.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <unistd.h>

namespace tadlora
{

std::string
PretrainConfig::Key() const
{
    std::ostringstream key;
    key << "mtm-s" << steps << "-b" << batchSize << "-lr" << lr << "-m" << maskRatio << "-seed"
        << seed;
    return key.str();
}

std::string
DefaultCacheDir()
{
    if (const char* dir = std::getenv("TADLORA_CACHE_DIR"); dir != nullptr && *dir != '\0')
    {
        return dir;
    }
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0')
    {
        return std::string(xdg) + "/tadlora";
    }
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr ? home : ".") + "/.cache/tadlora";
}

namespace
{

/**
 * @return the pretraining loss of one batch: hide a random share of its tokens and predict
 *         them from the encoder's output, by cross-entropy over the vocabulary for token ids,
 *         by mean squared error for feature tokens
 */
torch::Tensor
MaskedTokenLoss(TransformerClassifier& model, torch::nn::Linear& predict, const torch::Tensor& x,
                double maskRatio, at::Generator& generator)
{
    const ModelConfig& c = model->config;
    const int64_t batch = x.size(0);
    if (c.vocab > 0)
    {
        // x: [batch, tokens] ids; padding is never a target.
        auto mask = (torch::rand({batch, c.tokens}, generator) < maskRatio) & x.ne(kPaddingToken);
        auto hidden =
            model->Encode(x.masked_fill(mask, kMaskToken).unsqueeze(0), nullptr, 1 + c.tokens)[0]
                .slice(1, 1);
        auto logits = predict(hidden.index({mask})); // [masked, vocab]
        return torch::nn::functional::cross_entropy(
                   logits, x.index({mask}),
                   torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
               mask.sum().clamp_min(1);
    }
    // x: [batch, tokens, tokenDim]
    auto mask = torch::rand({batch, c.tokens, 1}, generator) < maskRatio;
    auto hidden =
        model->Encode(x.masked_fill(mask, 0).unsqueeze(0), nullptr, 1 + c.tokens)[0].slice(
            1, 1); // [batch, tokens, d]
    auto error = (predict(hidden) - x).pow(2) * mask;
    return error.sum() / (mask.sum() * c.tokenDim).clamp_min(1);
}

void
Pretrain(TransformerClassifier& model, const Dataset& unlabeled, const PretrainConfig& recipe,
         const std::function<void(int64_t, int64_t, double)>& progress)
{
    const ModelConfig& c = model->config;
    // Used only here: predicts a hidden token's id (vocab > 0) or features from its state.
    torch::nn::Linear predict(c.dModel, c.vocab > 0 ? c.vocab : c.tokenDim);
    // The head stays random: pretraining shapes the encoder only.
    const std::vector<torch::Tensor> head = model->head->parameters();
    std::vector<torch::Tensor> params;
    for (const auto& p : model->parameters())
    {
        if (std::none_of(head.begin(), head.end(), [&p](const auto& h) { return h.is_same(p); }))
        {
            params.push_back(p);
        }
    }
    for (auto& p : predict->parameters())
    {
        params.push_back(p);
    }
    torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(recipe.lr).weight_decay(0.01));
    auto generator = at::make_generator<at::CPUGeneratorImpl>(recipe.seed + 1);
    const int64_t n = unlabeled.inputs.size(0);
    for (int64_t step = 0; step < recipe.steps; ++step)
    {
        const double lr = 0.5 * recipe.lr * (1 + std::cos(M_PI * step / recipe.steps));
        for (auto& group : optimizer.param_groups())
        {
            static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
        }
        auto index = torch::randint(n, {recipe.batchSize}, generator, torch::kLong);
        auto loss = MaskedTokenLoss(model, predict, unlabeled.inputs.index_select(0, index),
                                    recipe.maskRatio, generator);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        if (progress && (step % 100 == 0 || step + 1 == recipe.steps))
        {
            progress(step + 1, recipe.steps, loss.item<double>());
        }
    }
}

} // namespace

std::string
BaseCacheName(const ModelConfig& config, const Dataset& unlabeled, const std::string& taskName,
              const PretrainConfig& recipe)
{
    return "base-" + taskName + "-n" + std::to_string(unlabeled.inputs.size(0)) + "-" +
           config.BaseKey() + "-" + recipe.Key() + ".pt";
}

TransformerClassifier
PretrainedModel(const ModelConfig& config, const Dataset& unlabeled, const std::string& taskName,
                const PretrainConfig& recipe, const std::string& cacheDir,
                const std::function<void(int64_t, int64_t, double)>& progress)
{
    torch::manual_seed(recipe.seed);
    TransformerClassifier model(config);
    const std::filesystem::path path =
        std::filesystem::path(cacheDir) / BaseCacheName(config, unlabeled, taskName, recipe);
    if (std::filesystem::exists(path))
    {
        torch::load(model, path.string());
    }
    else
    {
        Pretrain(model, unlabeled, recipe, progress);
        std::filesystem::create_directories(path.parent_path());
        // Written under a private name, then renamed: a concurrent or interrupted run never
        // sees half a file.
        const std::string partial = path.string() + ".partial-" + std::to_string(getpid());
        torch::save(model, partial);
        std::filesystem::rename(partial, path);
    }
    model->Freeze();
    return model;
}

} // namespace tadlora
