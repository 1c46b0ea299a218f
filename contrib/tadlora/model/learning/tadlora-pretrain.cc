// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-pretrain.h"

#include "tadlora-checked-file.h"
#include "tadlora-dataset.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <sstream>

namespace tadlora
{

std::vector<std::string>
PretrainConfig::Objectives()
{
    return {"masked", "supervised"};
}

std::string
PretrainConfig::Key() const
{
    std::ostringstream key;
    if (objective == "supervised")
    {
        key << "sup-n" << samples;
    }
    else
    {
        key << "mtm";
    }
    key << "-s" << steps << "-b" << batchSize << "-lr" << lr;
    if (objective != "supervised")
    {
        key << "-m" << maskRatio;
    }
    key << "-seed" << seed;
    return key.str();
}

int64_t
DefaultPretrainSamples(int64_t trainSize)
{
    return std::max<int64_t>(1, trainSize / 12);
}

PretrainingSplit
SplitForPretraining(const Dataset& train, const PretrainConfig& recipe)
{
    const int64_t n = train.inputs.size(0);
    if (recipe.objective != "supervised")
    {
        std::vector<uint32_t> every(static_cast<size_t>(n));
        std::iota(every.begin(), every.end(), 0u);
        return {train, every};
    }
    if (recipe.samples < 1 || 2 * recipe.samples > n)
    {
        throw std::invalid_argument("pretraining split of " + std::to_string(recipe.samples) +
                                    " samples: must be in [1, " + std::to_string(n / 2) +
                                    "] (half of the task's " + std::to_string(n) +
                                    " training samples: the clients keep the rest)");
    }
    auto generator = at::make_generator<at::CPUGeneratorImpl>(recipe.seed + 2);
    const auto order = torch::randperm(n, generator, torch::kLong);
    const auto held = std::get<0>(order.slice(0, 0, recipe.samples).sort());
    const auto kept = std::get<0>(order.slice(0, recipe.samples).sort());
    PretrainingSplit split{train, {}};
    split.data.inputs = train.inputs.index_select(0, held);
    split.data.labels = train.labels.index_select(0, held);
    const int64_t* rows = kept.data_ptr<int64_t>();
    split.clientRows.assign(rows, rows + kept.numel());
    return split;
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

/** @return the classification loss of the frozen-to-be base and head on one labelled batch */
torch::Tensor
SupervisedLoss(TransformerClassifier& model, const torch::Tensor& x, const torch::Tensor& y)
{
    const auto logits = model->forward(x.unsqueeze(0), nullptr)[0];
    return torch::nn::functional::cross_entropy(logits, y);
}

void
Pretrain(TransformerClassifier& model, const Dataset& data, const PretrainConfig& recipe,
         const std::function<void(int64_t, int64_t, double)>& progress)
{
    const ModelConfig& c = model->config;
    const bool supervised = recipe.objective == "supervised";
    // Masked: predicts a hidden token's id (vocab > 0) or features from its state; used only
    // here. The head stays random: masked pretraining shapes the encoder only.
    torch::nn::Linear predict(c.dModel, c.vocab > 0 ? c.vocab : c.tokenDim);
    const std::vector<torch::Tensor> head = model->head->parameters();
    std::vector<torch::Tensor> params;
    for (const auto& p : model->parameters())
    {
        if (supervised ||
            std::none_of(head.begin(), head.end(), [&p](const auto& h) { return h.is_same(p); }))
        {
            params.push_back(p);
        }
    }
    if (!supervised)
    {
        for (auto& p : predict->parameters())
        {
            params.push_back(p);
        }
    }
    torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(recipe.lr).weight_decay(0.01));
    auto generator = at::make_generator<at::CPUGeneratorImpl>(recipe.seed + 1);
    const int64_t n = data.inputs.size(0);
    for (int64_t step = 0; step < recipe.steps; ++step)
    {
        const double lr = 0.5 * recipe.lr * (1 + std::cos(M_PI * step / recipe.steps));
        for (auto& group : optimizer.param_groups())
        {
            static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
        }
        auto index = torch::randint(n, {recipe.batchSize}, generator, torch::kLong);
        const auto x = data.ModelInputs(data.inputs.index_select(0, index));
        auto loss = supervised ? SupervisedLoss(model, x, data.labels.index_select(0, index))
                               : MaskedTokenLoss(model, predict, x, recipe.maskRatio, generator);
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
BaseCacheName(const ModelConfig& config, const Dataset& data, const std::string& taskName,
              const PretrainConfig& recipe)
{
    // A checksum of the data, so that other files of the same task and size, or another
    // split, never share a base: FNV-1a over the inputs' and labels' bytes, 8 at a time.
    uint64_t hash = 14695981039346656037ull;
    for (const torch::Tensor& t : {data.inputs.contiguous(), data.labels.contiguous()})
    {
        const auto* bytes = static_cast<const uint8_t*>(t.data_ptr());
        const size_t size = t.numel() * t.element_size();
        for (size_t i = 0; i < size; i += 8)
        {
            uint64_t word = 0;
            std::memcpy(&word, bytes + i, std::min<size_t>(8, size - i));
            hash = (hash ^ word) * 1099511628211ull;
        }
    }
    std::ostringstream name;
    name << "base-" << taskName << "-n" << data.inputs.size(0) << "-" << std::hex
         << static_cast<uint32_t>(hash ^ (hash >> 32)) << "-" << config.BaseKey() << "-"
         << recipe.Key() << "-threads" << at::get_num_threads() << ".base";
    return name.str();
}

void
WriteCachedBase(TransformerClassifier& model, const std::string& path, const std::string& key)
{
    std::ostringstream archive;
    torch::save(model, archive);
    WriteCheckedFile(path, kBaseFileMagic, key, {archive.str()});
}

std::string
ReadCachedBase(TransformerClassifier& model, const std::string& path, const std::string& key)
{
    std::string payload;
    if (std::string problem = ReadCheckedFile(path, kBaseFileMagic, key, payload); !problem.empty())
    {
        return problem;
    }
    try
    {
        std::istringstream archive(payload);
        torch::load(model, archive);
    }
    catch (const std::exception& e)
    {
        const std::string what = e.what();
        return "does not load: " + what.substr(0, what.find('\n'));
    }
    for (const torch::Tensor& t : model->parameters())
    {
        if (!torch::isfinite(t).all().item<bool>())
        {
            return "holds NaN or infinite weights";
        }
    }
    return "";
}

TransformerClassifier
PretrainedModel(const ModelConfig& config, const Dataset& data, const std::string& taskName,
                const PretrainConfig& recipe, const std::string& cacheDir,
                const std::function<void(int64_t, int64_t, double)>& progress,
                const std::function<void(const std::string&)>& notice)
{
    const std::string name = BaseCacheName(config, data, taskName, recipe);
    const std::filesystem::path path = std::filesystem::path(cacheDir) / name;
    auto fresh = [&config, &recipe]
    {
        torch::manual_seed(recipe.seed);
        return TransformerClassifier(config);
    };
    TransformerClassifier model = fresh();
    std::string problem = "is not there";
    if (std::filesystem::exists(path))
    {
        problem = ReadCachedBase(model, path.string(), name);
        if (!problem.empty())
        {
            if (notice)
            {
                notice("cached base " + path.string() + " " + problem + ": rebuilding it");
            }
            model = fresh(); // a failed load may have left some weights behind
        }
    }
    if (!problem.empty())
    {
        Pretrain(model, data, recipe, progress);
        std::filesystem::create_directories(path.parent_path());
        WriteCachedBase(model, path.string(), name);
    }
    model->Freeze();
    return model;
}

} // namespace tadlora
