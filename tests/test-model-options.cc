// SPDX-License-Identifier: GPL-2.0-only
// The base's pretraining objectives (--pretrain, --pretrain-samples) and the model's shape
// options (--model-width, --model-layers, --model-heads, --patch-size, --lora-targets).

#include "tadlora-dataset.h"
#include "tadlora-lora-factors.h"
#include "tadlora-pretrain.h"
#include "tadlora-test-task.h"
#include "tadlora-transformer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

using namespace tadlora;

namespace
{

/** @return n samples whose single feature is their own index, labelled index mod 3 */
Dataset
Numbered(int64_t n)
{
    const auto index = torch::arange(n, torch::kLong);
    return {index.to(torch::kFloat32).view({n, 1, 1}), index.remainder(3), 3};
}

/** @return the indices a data set of Numbered() samples holds */
std::set<int64_t>
Numbers(const Dataset& data)
{
    const auto values = data.inputs.flatten().to(torch::kLong);
    return {values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + values.numel()};
}

/** @return the frozen base and head's accuracy on the data */
double
BaseAccuracy(TransformerClassifier& model, const Dataset& data)
{
    torch::NoGradGuard noGrad;
    const auto logits = model->forward(data.inputs.unsqueeze(0), nullptr)[0];
    return logits.argmax(1).eq(data.labels).to(torch::kDouble).mean().item<double>();
}

/** @return a small feature-token model's shape, LoRA on the targets (ParseLoraTargets) */
ModelConfig
SmallModel(const std::string& targets, int64_t layers)
{
    ModelConfig config;
    config.tokens = 5;
    config.tokenDim = 6;
    config.dModel = 32;
    config.heads = 2;
    config.layers = layers;
    config.ffn = 48;
    config.loraTargets = ParseLoraTargets(targets);
    return config;
}

/** @return two models' factors for the model: A drawn in the adapted layers' order, B = 0 */
LoraFactors
TwoModels(TransformerClassifier& model)
{
    std::vector<torch::Tensor> a;
    std::vector<int64_t> outputs;
    for (const auto& [in, out] : model->AdaptedShapes())
    {
        a.push_back(torch::randn({model->config.rank, in}) / 4);
        outputs.push_back(out);
    }
    return LoraFactors(a, outputs, 2);
}

} // namespace

TEST(Pretraining, SupervisedSplitIsHeldOutFromTheClientsAndFixedBySeed)
{
    PretrainConfig recipe;
    recipe.objective = "supervised";
    recipe.samples = 300;
    const Dataset train = Numbered(1000);
    const PretrainingSplit split = SplitForPretraining(train, recipe);
    const auto held = Numbers(split.data);
    EXPECT_EQ(held.size(), 300u);
    ASSERT_EQ(split.clientRows.size(), 700u);
    EXPECT_TRUE(std::is_sorted(split.clientRows.begin(), split.clientRows.end()));
    for (uint32_t row : split.clientRows)
    {
        EXPECT_EQ(held.count(row), 0u) << "sample " << row << " is in both";
    }
    EXPECT_TRUE(split.data.labels.equal(split.data.inputs.flatten().to(torch::kLong).remainder(3)));
    EXPECT_TRUE(train.inputs.equal(Numbered(1000).inputs)); // the training set is left alone

    EXPECT_EQ(Numbers(SplitForPretraining(train, recipe).data), held); // the seed fixes it
    recipe.seed = 2;
    EXPECT_NE(Numbers(SplitForPretraining(train, recipe).data), held);

    recipe.samples = 501; // more than half: the clients would hold less than the base
    EXPECT_THROW(
        {
            try
            {
                SplitForPretraining(train, recipe);
            }
            catch (const std::invalid_argument& e)
            {
                EXPECT_EQ(std::string(e.what()).rfind("pretraining split of 501 samples", 0), 0u);
                throw;
            }
        },
        std::invalid_argument);

    PretrainConfig masked; // masked pretraining reads every input; the clients keep them all
    const PretrainingSplit all = SplitForPretraining(train, masked);
    EXPECT_EQ(Numbers(all.data).size(), 1000u);
    ASSERT_EQ(all.clientRows.size(), 1000u);
    EXPECT_EQ(all.clientRows.front(), 0u);
    EXPECT_EQ(all.clientRows.back(), 999u);
}

TEST(Pretraining, DefaultSplitIsATwelfthOfTheTrainingSet)
{
    EXPECT_EQ(DefaultPretrainSamples(60000), 5000); // Fashion-MNIST
    EXPECT_EQ(DefaultPretrainSamples(4805), 400);   // SpamAssassin's training mails
    EXPECT_EQ(DefaultPretrainSamples(6000), 500);   // the synthetic task
    EXPECT_EQ(DefaultPretrainSamples(11), 1);       // never an empty split
}

TEST(Pretraining, SupervisedBaseAndHeadClassifyMaskedBaseWithRandomHeadDoesNot)
{
    const auto task = test::SyntheticTask(); // 10 classes
    const ModelConfig config = ModelConfigFor(*task);
    PretrainConfig supervised;
    supervised.objective = "supervised";
    supervised.samples = 1000;
    supervised.steps = 300;
    const Dataset split = SplitForPretraining(task->train, supervised).data;
    auto model = PretrainedModel(config, split, task->name, supervised, test::CacheDir(), nullptr);
    auto masked = test::PretrainedSyntheticModel();
    const double supervisedAccuracy = BaseAccuracy(model, task->test);
    const double maskedAccuracy = BaseAccuracy(masked, task->test);
    // Chance is 0.1. The task is noisy: a thousand samples train this small model to about 0.67.
    EXPECT_GT(supervisedAccuracy, 0.6);
    EXPECT_LT(maskedAccuracy, 0.2);
    for (const auto& p : model->parameters())
    {
        EXPECT_FALSE(p.requires_grad()); // base and head frozen
    }
    // From the cache: the same base.
    auto cached = PretrainedModel(config, split, task->name, supervised, test::CacheDir(), nullptr);
    EXPECT_EQ(BaseAccuracy(cached, task->test), supervisedAccuracy);
}

TEST(Pretraining, CacheNameChangesWithEverythingThatDeterminesTheBase)
{
    const auto task = test::SyntheticTask();
    const ModelConfig config = ModelConfigFor(*task);
    PretrainConfig supervised;
    supervised.objective = "supervised";
    supervised.samples = 1000;
    const Dataset split = SplitForPretraining(task->train, supervised).data;
    const std::string name = BaseCacheName(config, split, task->name, supervised);

    std::set<std::string> names{name, BaseCacheName(config, task->train, task->name, {})};
    PretrainConfig fewer = supervised;
    fewer.samples = 900;
    names.insert(BaseCacheName(config, split, task->name, fewer));
    Dataset shifted = split;
    shifted.labels = (split.labels + 1).remainder(10); // same size, other contents
    names.insert(BaseCacheName(config, shifted, task->name, supervised));
    for (auto change :
         std::vector<std::function<void(ModelConfig&)>>{
             [](ModelConfig& c) { c.dModel = 32; }, [](ModelConfig& c) { c.layers = 3; },
             [](ModelConfig& c) { c.heads = 2; }, [](ModelConfig& c) { c.ffn = 64; },
             [](ModelConfig& c) { c.tokens = 4; }, [](ModelConfig& c) { c.tokenDim = 32; }})
    {
        ModelConfig other = config;
        change(other);
        names.insert(BaseCacheName(other, split, task->name, supervised));
    }
    // A base pretrained at another thread count is another base (its sums split otherwise).
    const int threads = at::get_num_threads();
    at::set_num_threads(threads == 1 ? 2 : 1);
    names.insert(BaseCacheName(config, split, task->name, supervised));
    at::set_num_threads(threads);
    EXPECT_EQ(names.size(), 11u) << testing::PrintToString(names);
    // LoRA's targets do not determine the base: one base serves all of them.
    ModelConfig allTargets = config;
    allTargets.loraTargets = ParseLoraTargets("all");
    EXPECT_EQ(BaseCacheName(allTargets, split, task->name, supervised), name);
}

TEST(Pretraining, ADamagedCachedBaseIsNamedRebuiltAndNeverUsed)
{
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(test::TempDir()) / "cache-integrity";
    fs::remove_all(dir);
    const auto task = test::SyntheticTask();
    const ModelConfig config = ModelConfigFor(*task);
    PretrainConfig recipe;
    recipe.steps = 20;
    std::vector<std::string> notices;
    auto load = [&]
    {
        notices.clear();
        return PretrainedModel(config, task->train, task->name, recipe, dir.string(), nullptr,
                               [&notices](const std::string& n) { notices.push_back(n); });
    };
    auto same = [](TransformerClassifier& a, TransformerClassifier& b)
    {
        const auto x = a->parameters();
        const auto y = b->parameters();
        for (size_t k = 0; k < x.size(); ++k)
        {
            if (!x[k].equal(y[k]))
            {
                return false;
            }
        }
        return x.size() == y.size();
    };
    TransformerClassifier original = load();
    EXPECT_TRUE(notices.empty());
    const std::string key = BaseCacheName(config, task->train, task->name, recipe);
    const fs::path path = dir / key;
    const std::string good = test::Slurp(path.string());
    ASSERT_EQ(good.rfind(std::string(kBaseFileMagic) + "\nkey " + key + "\n", 0), 0u);
    TransformerClassifier cached = load();
    EXPECT_TRUE(notices.empty());
    EXPECT_TRUE(same(cached, original));

    const size_t payload = good.find("\n", good.find("crc32 ")) + 1;
    auto rewrite = [&path](const std::string& bytes)
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes; };
    const std::vector<std::pair<std::string, std::function<void()>>> damages = {
        {"is truncated or padded", [&] { rewrite(good.substr(0, good.size() - 100)); }},
        {"fails its CRC-32",
         [&]
         {
             std::string flipped = good;
             flipped[good.size() - 200] ^= 0x20;
             rewrite(flipped);
         }},
        {"does not begin with 'tadlora-base 2'", [&] { rewrite(good.substr(payload)); }},
        {"has a damaged header", [&] { rewrite(good.substr(0, payload - 3)); }},
        {"was made by another configuration",
         [&]
         {
             std::string other = good;
             other.replace(other.find(key), 4, "BASE");
             rewrite(other);
         }},
        {"holds NaN or infinite weights",
         [&]
         {
             TransformerClassifier poisoned = load();
             torch::NoGradGuard noGrad;
             poisoned->parameters()[0].view(-1)[0] = std::nanf("");
             WriteCachedBase(poisoned, path.string(), key);
         }},
    };
    for (const auto& [problem, damage] : damages)
    {
        damage();
        TransformerClassifier rebuilt = load();
        ASSERT_EQ(notices.size(), 1u) << problem;
        EXPECT_NE(notices[0].find(path.string() + " " + problem), std::string::npos) << notices[0];
        EXPECT_NE(notices[0].find("rebuilding it"), std::string::npos) << notices[0];
        EXPECT_TRUE(same(rebuilt, original)) << problem;        // pretraining is deterministic
        EXPECT_EQ(test::Slurp(path.string()), good) << problem; // the file was replaced
    }
}

TEST(ModelShape, LoraTargetsParseToTheBlocksOrder)
{
    using P = Projection;
    EXPECT_EQ(ParseLoraTargets("q,v"), (std::vector<P>{P::Query, P::Value}));
    EXPECT_EQ(ParseLoraTargets("v,q,v"), (std::vector<P>{P::Query, P::Value}));
    EXPECT_EQ(ParseLoraTargets("q,k,v,o"), (std::vector<P>{P::Query, P::Key, P::Value, P::Output}));
    EXPECT_EQ(ParseLoraTargets("all"), (std::vector<P>{P::Query, P::Key, P::Value, P::Output,
                                                       P::FeedForward1, P::FeedForward2}));
    for (const std::string bad : {"", "x", "q,,v", "q;v", "ALL"})
    {
        EXPECT_THROW(ParseLoraTargets(bad), std::invalid_argument) << bad;
    }
}

TEST(ModelShape, EveryTargetIsAdaptedWithItsOwnShapeAndGradient)
{
    const ModelConfig config = SmallModel("all", 3);
    torch::manual_seed(3);
    TransformerClassifier model(config);
    model->Freeze();
    const auto shapes = model->AdaptedShapes();
    ASSERT_EQ(shapes.size(), 18u); // 6 projections x 3 blocks
    for (size_t l = 0; l < shapes.size(); ++l)
    {
        const auto expected = l % 6 == 4   ? std::make_pair<int64_t, int64_t>(32, 48)
                              : l % 6 == 5 ? std::make_pair<int64_t, int64_t>(48, 32)
                                           : std::make_pair<int64_t, int64_t>(32, 32);
        EXPECT_EQ(shapes[l], expected) << "layer " << l;
    }
    LoraFactors factors = TwoModels(model);
    const auto x = torch::randn({2, 4, config.tokens, config.tokenDim});
    // B = 0: every model is the frozen base.
    const auto base = model->forward(x, nullptr);
    EXPECT_LT((model->forward(x, &factors) - base).abs().max().item<double>(), 1e-6);
    // Each layer's B moves the output, and receives a gradient.
    for (auto& b : factors.b)
    {
        b.normal_(0, 0.1);
        b.set_requires_grad(true);
    }
    const auto logits = model->forward(x, &factors);
    EXPECT_GT((logits - base).abs().max().item<double>(), 1e-3);
    logits.pow(2).sum().backward();
    for (size_t l = 0; l < factors.b.size(); ++l)
    {
        EXPECT_GT(factors.b[l].grad().abs().max().item<double>(), 0) << "layer " << l;
    }
}

TEST(ModelShape, PatchSizeCutsImagesIntoThatManyTokens)
{
    const TaskData seven = LoadFashionMnist(kFashionMnistDir, 5, 5);
    const TaskData four = LoadFashionMnist(kFashionMnistDir, 5, 5, 4);
    const TaskData whole = LoadFashionMnist(kFashionMnistDir, 5, 5, 28);
    EXPECT_EQ(seven.tokens, 16);
    EXPECT_EQ(seven.tokenDim, 49);
    EXPECT_EQ(four.tokens, 49);
    EXPECT_EQ(four.tokenDim, 16);
    EXPECT_EQ(whole.tokens, 1);
    const auto image = whole.train.inputs.view({5, 28, 28}); // row-major pixels
    // Token 8 of the 4-pixel patches is patch row 1, column 1: rows and columns 4..7.
    EXPECT_TRUE(
        four.train.inputs.select(1, 8).view({5, 4, 4}).equal(image.slice(1, 4, 8).slice(2, 4, 8)));
    EXPECT_TRUE(seven.train.inputs.select(1, 3).view({5, 7, 7}).equal(
        image.slice(1, 0, 7).slice(2, 21, 28)));
    EXPECT_THROW(LoadFashionMnist(kFashionMnistDir, 5, 5, 5), std::invalid_argument);
}

TEST(ModelShape, ClassTokenAttentionEqualsTheProjectionsFormInValuesAndGradients)
{
    // The last block attends from the class token by W_v (sum_j p_j x_j) + b_v with p from
    // (W_k^T q) . x_j, in training and in evaluation; computing every token's outputs (Encode
    // with 1 + tokens outputs) runs the key and value projections of every token instead. The
    // class token's logits and every factor's gradient must agree, with every projection adapted
    // (each model's own key and value weights) and with q and v, for inputs per model and one
    // input shared by both models.
    for (const std::string& targets : {std::string("all"), std::string("q,v")})
    {
        SCOPED_TRACE(targets);
        const ModelConfig config = SmallModel(targets, 2);
        torch::manual_seed(8);
        TransformerClassifier model(config);
        model->Freeze();
        for (auto& p : model->parameters())
        {
            p.normal_(0, 0.3); // biases too: the key bias must drop out, the value bias not
        }
        LoraFactors factors = TwoModels(model);
        std::vector<torch::Tensor> trained;
        for (size_t l = 0; l < factors.a.size(); ++l)
        {
            factors.b[l].normal_(0, 0.3);
            trained.push_back(factors.a[l].requires_grad_());
            trained.push_back(factors.b[l].requires_grad_());
        }
        for (int64_t inputs : {2, 1})
        {
            const auto x = torch::randn({inputs, 4, config.tokens, config.tokenDim});
            const auto probe = torch::randn({2, 4, config.classes});
            const auto logits = model->forward(x, &factors);
            const auto projected =
                model->head(model->Encode(x, &factors, 1 + config.tokens).select(2, 0));
            ASSERT_EQ(logits.sizes(), projected.sizes());
            EXPECT_GT(projected.abs().max().item<double>(), 0.1);
            EXPECT_LT((logits - projected).abs().max().item<double>(), 1e-5) << inputs;
            const auto grads = torch::autograd::grad({(logits * probe).sum()}, trained);
            const auto expected = torch::autograd::grad({(projected * probe).sum()}, trained);
            for (size_t i = 0; i < grads.size(); ++i)
            {
                EXPECT_GT(expected[i].abs().max().item<double>(), 1e-2) << i;
                EXPECT_LT((grads[i] - expected[i]).abs().max().item<double>(), 1e-4)
                    << "factor " << i << ", " << inputs << " inputs";
            }
            c10::InferenceMode inference; // evaluation's form (its residual sums round otherwise)
            EXPECT_LT((model->forward(x, &factors) - logits).abs().max().item<double>(), 1e-5)
                << inputs;
        }
    }
}

TEST(ModelShape, AdaptedWeightsFormedOnceAreWPlusScaledBAAndGiveTheSameLogitsBitForBit)
{
    // The evaluator forms each model's W + (alpha / r) B A once for all of its passes; the
    // logits must be those of a pass that forms them itself, for inputs per model and shared.
    const ModelConfig config = SmallModel("all", 2);
    torch::manual_seed(9);
    TransformerClassifier model(config);
    model->Freeze();
    LoraFactors factors = TwoModels(model);
    for (auto& b : factors.b)
    {
        b.normal_(0, 0.3);
    }
    c10::InferenceMode inference;
    const std::vector<torch::Tensor> weights = model->AdaptedWeights(factors);
    ASSERT_EQ(weights.size(), factors.a.size());
    const auto& ff2 = model->blocks[1]->as<EncoderBlock>()->ff2->weight; // the last layer's W
    const double scaling = config.alpha / static_cast<double>(config.rank);
    for (int64_t g = 0; g < 2; ++g)
    {
        const auto expected = ff2.to(torch::kDouble) +
                              scaling * torch::matmul(factors.b.back()[g].to(torch::kDouble),
                                                      factors.a.back()[g].to(torch::kDouble));
        EXPECT_LT((weights.back()[g].to(torch::kDouble) - expected).abs().max().item<double>(),
                  1e-6)
            << g;
    }
    // And the pass reads them: other weights, other logits.
    std::vector<torch::Tensor> others = weights;
    others.back() = weights.back() * 2; // (a constant added would drop out in the final norm)
    for (int64_t inputs : {2, 1})
    {
        const auto x = torch::randn({inputs, 4, config.tokens, config.tokenDim});
        const auto logits = model->forward(x, &factors);
        EXPECT_TRUE(torch::equal(model->forward(x, &factors, &weights), logits)) << inputs;
        EXPECT_GT((model->forward(x, &factors, &others) - logits).abs().max().item<double>(), 1e-3)
            << inputs;
    }
}

TEST(ModelShape, TrainingFlopsAreCountedFromTheShapeAsTheReadmeStatesThem)
{
    // README, "Performance": S = 17, d = 64, f = 128, r = 8, L = 2, 16 tokens of 49 features,
    // 10 classes, LoRA on q and v. Block 1 (S_q = 17): forward 278,528 (q, o) + 278,528 (k, v)
    // + 69,632 (LoRA) + 73,984 (attention) + 557,056 (feed-forward); backward, its input
    // needing no gradient, 139,264 + 557,056 + 110,976 + 104,448. Block 2 (S_q = 1): forward
    // 16,384 + 278,528 + 36,864 + 4,352 + 32,768; backward the same with attention and LoRA
    // doubled. Embedding 100,352; head 2,560.
    ModelConfig c;
    EXPECT_DOUBLE_EQ(TrainingFlopsPerSample(c), 3051392.0);
    // Every projection adapted (q, k, v, o, ff1, ff2): k and v over 17 tokens, o and the
    // feed-forward ones over S_q; ff1 is 64 -> 128, ff2 128 -> 64.
    c.loraTargets = ParseLoraTargets("all");
    EXPECT_DOUBLE_EQ(TrainingFlopsPerSample(c), 3685248.0);
    // The synthetic task's shape: 8 tokens of 16 features.
    c = ModelConfig{};
    c.tokens = 8;
    c.tokenDim = 16;
    EXPECT_DOUBLE_EQ(TrainingFlopsPerSample(c), 1582976.0);
}
