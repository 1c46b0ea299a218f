// SPDX-License-Identifier: GPL-2.0-only
// Token-id inputs (the text task's path) through the model, its pretraining and its cache, and
// LoRA fine-tuning in a federation.

#include "tadlora-federation.h"
#include "tadlora-lora-factors.h"
#include "tadlora-partition.h"
#include "tadlora-pretrain.h"
#include "tadlora-test-task.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

using namespace tadlora;

namespace
{

constexpr int64_t kTokens = 12;
constexpr int64_t kVocab = 40;

/** A short pretraining, in small batches: the test's task is easy. */
PretrainConfig
QuickRecipe()
{
    PretrainConfig recipe;
    recipe.steps = 150;
    recipe.batchSize = 32;
    return recipe;
}

/**
 * @return n samples, each one id repeated (a masked token is its neighbours' id), labelled 1
 *         when the id is below the middle of the vocabulary
 */
Dataset
RepeatedIds(int64_t n, uint64_t seed)
{
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const torch::Tensor ids = torch::randint(2, kVocab, {n, 1}, generator, torch::kInt64);
    return {ids.expand({n, kTokens}).contiguous(), ids.squeeze(1).lt(kVocab / 2).to(torch::kInt64),
            2};
}

std::shared_ptr<const TaskData>
RepeatedIdsTask()
{
    auto task = std::make_shared<TaskData>();
    task->train = RepeatedIds(800, 1);
    task->test = RepeatedIds(200, 2);
    task->name = "repeated-ids";
    task->tokens = kTokens;
    task->vocab = kVocab;
    return task;
}

} // namespace

TEST(TokenModel, EmbedsIdsAndGivesTheFeatureModelsShapes)
{
    ModelConfig config = ModelConfigFor(*RepeatedIdsTask());
    EXPECT_EQ(config.vocab, kVocab);
    EXPECT_EQ(config.classes, 2);
    TransformerClassifier model(config);
    const torch::Tensor x = torch::randint(0, kVocab, {1, 3, kTokens}, torch::kInt64);
    EXPECT_EQ(model->Encode(x, nullptr, 1 + kTokens).sizes(),
              (std::vector<int64_t>{1, 3, 1 + kTokens, 64}));
    EXPECT_EQ(model->Encode(x, nullptr, 1).sizes(), (std::vector<int64_t>{1, 3, 1, 64}));
    const LoraFactors twoModels(std::vector<torch::Tensor>(4, torch::zeros({config.rank, 64})),
                                std::vector<int64_t>(4, 64), 2);
    EXPECT_EQ(model->forward(x, &twoModels).sizes(), (std::vector<int64_t>{2, 3, 2}));
    EXPECT_EQ(model->named_parameters()["embed.weight"].sizes(),
              (std::vector<int64_t>{kVocab, 64}));
    EXPECT_EQ(model->named_parameters().find("embed.bias"), nullptr);
    EXPECT_TRUE(model->embedIds->weight[kPaddingToken].eq(0).all().item<bool>());
    EXPECT_EQ(model->AdaptedShapes().size(), 4U); // query and value of both blocks
}

TEST(PretrainCache, NameDiffersBetweenTasksAndBetweenVocabularies)
{
    const auto tokenTask = RepeatedIdsTask();
    const ModelConfig tokenConfig = ModelConfigFor(*tokenTask);
    ModelConfig featureConfig = tokenConfig;
    featureConfig.vocab = 0;
    featureConfig.tokenDim = kVocab;
    const PretrainConfig recipe;
    const std::string name = BaseCacheName(tokenConfig, tokenTask->train, "spam-assassin", recipe);
    EXPECT_EQ(name,
              "base-spam-assassin-n800-70bd48a5-r3-t12v40-d64-h4-l2-f128-c2-mtm-s600-b128-lr0.002-"
              "m0.3-seed1-threads" +
                  std::to_string(at::get_num_threads()) +
                  ".base"); // 70bd48a5: the checksum of the training set
    EXPECT_NE(BaseCacheName(tokenConfig, tokenTask->train, "fashion-mnist", recipe), name);
    EXPECT_NE(BaseCacheName(featureConfig, tokenTask->train, "spam-assassin", recipe), name);
    // Feature models keep the names they had before token inputs existed (but the version).
    EXPECT_EQ(featureConfig.BaseKey(), "r3-t12x40-d64-h4-l2-f128-c2");
}

TEST(TokenPretraining, LearnsToPredictMaskedIdsAndLeavesTheHeadAlone)
{
    const auto task = RepeatedIdsTask();
    const PretrainConfig recipe = QuickRecipe();
    std::vector<double> losses;
    torch::manual_seed(recipe.seed);
    const torch::Tensor randomHead = TransformerClassifier(ModelConfigFor(*task))->head->weight;
    TransformerClassifier model =
        PretrainedModel(ModelConfigFor(*task), task->train, task->name, recipe, test::TempDir(),
                        [&losses](int64_t, int64_t, double loss) { losses.push_back(loss); });
    ASSERT_EQ(losses.size(), 3U); // steps 1, 101 and 150
    // Chance is ln(38) = 3.6: every other token shows the hidden one's id.
    EXPECT_GT(losses.front(), 3.0) << losses.front();
    EXPECT_LT(losses.back(), 0.5) << losses.back();
    EXPECT_TRUE(model->head->weight.equal(randomHead));
    EXPECT_FALSE(model->head->weight.requires_grad());
    EXPECT_FALSE(model->embedIds->weight.requires_grad());
}

TEST(TokenFederation, LoraFineTuningLearnsATokenTask)
{
    const auto task = RepeatedIdsTask();
    TransformerClassifier model = PretrainedModel(ModelConfigFor(*task), task->train, task->name,
                                                  QuickRecipe(), test::TempDir(), nullptr);
    FederationConfig config;
    config.localSteps = 5;
    config.batchSize = 16;
    config.lr = 1e-2; // a few short rounds from a random-head base: a fast rate
    config.method = "lora";
    const auto shards = Partition(LabelsOf(task->train), 2, 4, "label-skew", 1);
    Federation federation(config, model.ptr(), task, shards);
    const double base = federation.BaseAccuracy();
    for (uint64_t round = 0; round < 10; ++round)
    {
        for (uint32_t i = 0; i < federation.Clients(); ++i)
        {
            federation.Train(i, round);
        }
    }
    const Accuracy trained = federation.Evaluate();
    EXPECT_NEAR(base, 0.5, 0.2);
    EXPECT_GT(trained.mean, 0.9) << "base " << base << ", trained " << trained.mean;
}
