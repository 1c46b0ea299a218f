// SPDX-License-Identifier: GPL-2.0-only
// The batched learning side against a plain one-client-at-a-time reference: the same model
// written out with LibTorch's own modules and ops, each client trained alone with
// torch::optim::AdamW, each model evaluated alone. Also the fused attention kernel against
// LibTorch's matmul and softmax, values and gradients.

#include "tadlora-attention.h"
#include "tadlora-batched-evaluator.h"
#include "tadlora-compute.h"
#include "tadlora-exp.h"
#include "tadlora-federation.h"
#include "tadlora-gelu.h"
#include "tadlora-layer-norm.h"
#include "tadlora-lora-factors.h"
#include "tadlora-low-rank.h"
#include "tadlora-message.h"
#include "tadlora-partition.h"
#include "tadlora-product.h"
#include "tadlora-seed.h"
#include "tadlora-test-task.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>
#include <tuple>

using namespace tadlora;
namespace F = torch::nn::functional;

namespace
{

constexpr uint32_t kClients = 5;
constexpr uint32_t kRounds = 4;

/** softmax(q k^T scale) v with LibTorch's ops: [..., S, dh] */
torch::Tensor
PlainAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale)
{
    return torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1), v);
}

/** One client's model on its own: x [N, tokens, tokenDim], factors [r, d_in] and [d_out, r]. */
torch::Tensor
PlainLogits(TransformerClassifier& model, const torch::Tensor& x,
            const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b)
{
    const ModelConfig& c = model->config;
    const int64_t n = x.size(0);
    const int64_t dh = c.dModel / c.heads;
    const double scaling = c.alpha / static_cast<double>(c.rank);
    auto h = model->embedFeatures(x);
    h = torch::cat({model->classToken.expand({n, 1, c.dModel}), h}, 1) + model->position;
    size_t l = 0;
    for (const auto& module : *model->blocks)
    {
        auto* block = module->as<EncoderBlock>();
        const auto x1 = block->norm1(h);
        auto adapted = [&](torch::nn::Linear& base, size_t layer)
        { return base(x1) + scaling * F::linear(F::linear(x1, a[layer]), b[layer]); };
        auto split = [&](const torch::Tensor& t) {
            return t.view({n, -1, c.heads, dh}).transpose(1, 2);
        };
        const auto q = split(adapted(block->query, l));
        const auto v = split(adapted(block->value, l + 1));
        const auto k = split(block->key(x1));
        const auto mixed = PlainAttention(q, k, v, 1 / std::sqrt(double(dh)))
                               .transpose(1, 2)
                               .reshape({n, -1, c.dModel});
        const auto y = h + block->output(mixed);
        h = y + block->ff2(torch::gelu(block->ff1(block->norm2(y))));
        l += 2;
    }
    return model->head(model->norm(h).select(1, 0));
}

FederationConfig
Config(const std::string& method, bool keepOptimizerState, uint32_t phaseJitter)
{
    FederationConfig config;
    config.method = method;
    config.switchInterval = 2;
    config.localSteps = 3;
    config.batchSize = 8;
    config.lr = 1e-2;
    config.seed = 5;
    config.keepOptimizerState = keepOptimizerState;
    config.phaseJitter = phaseJitter;
    return config;
}

/** Every client's factors after training and mixing, computed one client at a time. */
struct Reference
{
    Reference(const FederationConfig& config, const std::vector<std::vector<uint32_t>>& shards,
              const Federation& federation)
        : config(config)
        , method(config.method, config.switchInterval)
        , model(test::PretrainedSyntheticModel())
    {
        torch::manual_seed(DeriveSeed(config.seed, kClients + 1));
        for (size_t l = 0; l < model->AdaptedShapes().size(); ++l)
        {
            initialA.push_back(torch::empty({model->config.rank, model->config.dModel}));
            torch::nn::init::kaiming_uniform_(initialA.back(), std::sqrt(5.0));
        }
        for (uint32_t i = 0; i < kClients; ++i)
        {
            Client c;
            for (size_t l = 0; l < initialA.size(); ++l)
            {
                c.a.push_back(initialA[l].clone().requires_grad_(true));
                c.b.push_back(
                    torch::zeros({model->config.dModel, model->config.rank}).requires_grad_(true));
            }
            std::vector<int64_t> shard(shards[i].begin(), shards[i].end());
            c.shard = torch::tensor(shard);
            c.generator = at::make_generator<at::CPUGeneratorImpl>(DeriveSeed(config.seed, i));
            c.offset = federation.PhaseOffset(i);
            clients.push_back(std::move(c));
        }
    }

    struct Client
    {
        std::vector<torch::Tensor> a;
        std::vector<torch::Tensor> b;
        torch::Tensor shard;
        at::Generator generator;
        uint32_t offset;
        std::unique_ptr<torch::optim::AdamW> optimizer;
    };

    double Train(uint32_t i, uint64_t round)
    {
        Client& c = clients[i];
        const RoundPlan plan = method.Plan(round + c.offset);
        std::vector<torch::Tensor> params;
        for (size_t l = 0; l < c.a.size(); ++l)
        {
            params.push_back(c.a[l]);
            params.push_back(c.b[l]);
            c.a[l].mutable_grad() = torch::Tensor();
            c.b[l].mutable_grad() = torch::Tensor();
            c.a[l].set_requires_grad(plan.trainA);
            c.b[l].set_requires_grad(plan.trainB);
        }
        const auto options = torch::optim::AdamWOptions(config.lr).weight_decay(config.weightDecay);
        if (!config.keepOptimizerState || !c.optimizer)
        {
            c.optimizer = std::make_unique<torch::optim::AdamW>(params, options);
        }
        const auto task = test::SyntheticTask();
        double lossSum = 0;
        for (uint32_t step = 0; step < config.localSteps; ++step)
        {
            auto pick = torch::randint(c.shard.size(0), {int64_t{config.batchSize}}, c.generator,
                                       torch::kLong);
            auto index = c.shard.index_select(0, pick);
            auto loss = F::cross_entropy(
                PlainLogits(model,
                            task->train.ModelInputs(task->train.inputs.index_select(0, index)), c.a,
                            c.b),
                task->train.labels.index_select(0, index));
            c.optimizer->zero_grad();
            loss.backward();
            c.optimizer->step();
            lossSum += loss.item<double>();
        }
        return lossSum / config.localSteps;
    }

    /** x_i <- sum_j W_ij x_j on a ring: W_ii = W_i,i+-1 = 1/3. */
    void Mix(uint64_t round)
    {
        torch::NoGradGuard noGrad;
        for (Factor f : method.Plan(round).MixedFactors())
        {
            std::vector<std::vector<torch::Tensor>> mixed(kClients);
            for (uint32_t i = 0; i < kClients; ++i)
            {
                for (size_t l = 0; l < initialA.size(); ++l)
                {
                    auto of = [&](uint32_t j)
                    { return f == Factor::A ? clients[j].a[l] : clients[j].b[l]; };
                    mixed[i].push_back(
                        (of(i) + of((i + 1) % kClients) + of((i + kClients - 1) % kClients)) / 3.0);
                }
            }
            for (uint32_t i = 0; i < kClients; ++i)
            {
                for (size_t l = 0; l < initialA.size(); ++l)
                {
                    (f == Factor::A ? clients[i].a[l] : clients[i].b[l]).copy_(mixed[i][l]);
                }
            }
        }
    }

    std::vector<float> Values(uint32_t i, Factor f) const
    {
        std::vector<float> values;
        for (const auto& t : f == Factor::A ? clients[i].a : clients[i].b)
        {
            auto flat = t.detach().contiguous().view({-1});
            values.insert(values.end(), flat.data_ptr<float>(),
                          flat.data_ptr<float>() + flat.numel());
        }
        return values;
    }

    FederationConfig config;
    Method method;
    TransformerClassifier model;
    std::vector<torch::Tensor> initialA;
    std::vector<Client> clients;
};

/** The same ring mixing through the federation's messages. */
void
MixThroughMessages(Federation& federation, uint64_t round)
{
    for (Factor f : federation.GetMethod().Plan(round).MixedFactors())
    {
        std::vector<FactorMessage> messages;
        for (uint32_t i = 0; i < kClients; ++i)
        {
            messages.push_back(federation.Decode(federation.Serialize(i, f, round)));
        }
        for (uint32_t i = 0; i < kClients; ++i)
        {
            federation.Mix(i, f, 1.0 / 3,
                           {{1.0 / 3, &messages[(i + 1) % kClients]},
                            {1.0 / 3, &messages[(i + kClients - 1) % kClients]}});
        }
    }
}

/**
 * Train and mix kRounds rounds both ways; every factor value must agree within 1e-4 of the
 * reference (float32, three local steps a round: the two sum in different orders, and AdamW's
 * normalized steps amplify those last-bit differences to at most 1.3e-5 here; dropping the
 * weight decay alone makes them 3e-4 to 7e-3).
 */
void
ExpectBatchedEqualsReference(const std::string& method, bool keepOptimizerState,
                             uint32_t phaseJitter)
{
    const FederationConfig config = Config(method, keepOptimizerState, phaseJitter);
    const auto task = test::SyntheticTask();
    const auto shards =
        Partition(LabelsOf(task->train), task->train.numClasses, kClients, "label-skew", 5);
    Federation federation(config, test::PretrainedSyntheticModel().ptr(), task, shards);
    Reference reference(config, shards, federation);
    for (uint64_t round = 0; round < kRounds; ++round)
    {
        for (uint32_t i = 0; i < kClients; ++i)
        {
            const double loss = federation.Train(i, round);
            EXPECT_NEAR(loss, reference.Train(i, round), 1e-4) << "client " << i;
        }
        MixThroughMessages(federation, round);
        reference.Mix(round);
        for (uint32_t i = 0; i < kClients; ++i)
        {
            federation.EndRound(i, round);
        }
    }
    for (uint32_t i = 0; i < kClients; ++i)
    {
        for (Factor f : {Factor::A, Factor::B})
        {
            const auto batched = federation.FactorValues(i, f);
            const auto plain = reference.Values(i, f);
            ASSERT_EQ(batched.size(), plain.size());
            double worst = 0;
            for (size_t k = 0; k < plain.size(); ++k)
            {
                worst = std::max(worst, std::abs(double(batched[k]) - plain[k]));
            }
            EXPECT_LT(worst, 1e-4)
                << method << ": client " << i << ", factor " << (f == Factor::A ? "A" : "B");
        }
    }
    // Training moved the factors: the comparison is not between two untouched initializations.
    EXPECT_GT(federation.Diagnose().consensusB, 1e-6);
}

/** @return the ids of the process's threads */
std::set<std::string>
ThreadIds()
{
    std::set<std::string> ids;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    {
        ids.insert(entry.path().filename());
    }
    return ids;
}

} // namespace

TEST(BatchedTraining, EqualsOneClientAtATimeForEveryMethod)
{
    for (const std::string& method : Method::Names())
    {
        ExpectBatchedEqualsReference(method, false, 0);
    }
}

TEST(BatchedTraining, EqualsOneClientAtATimeWithPhaseJitter)
{
    ExpectBatchedEqualsReference("tad-lora", false, 3);
    ExpectBatchedEqualsReference("tad-lora-no-joint", false, 3);
}

TEST(BatchedTraining, EqualsOneClientAtATimeWithKeptOptimizerState)
{
    ExpectBatchedEqualsReference("lora", true, 0);
    ExpectBatchedEqualsReference("tad-lora", true, 2);
}

TEST(BatchedTraining, ARoundIsOnePassWhenEveryClientHasEndedThePreviousOne)
{
    // With every client ended, the first Train call of a round trains all of them: a mix of a
    // client afterwards would contradict the inputs it was trained from, and is refused.
    const auto task = test::SyntheticTask();
    const auto shards =
        Partition(LabelsOf(task->train), task->train.numClasses, kClients, "label-skew", 5);
    Federation federation(Config("lora", false, 0), test::PretrainedSyntheticModel().ptr(), task,
                          shards);
    federation.Train(0, 0);
    const FactorMessage message = federation.Decode(federation.Serialize(0, Factor::A, 0));
    EXPECT_THROW(federation.Mix(3, Factor::A, 0.5, {{0.5, &message}}), std::logic_error);
    EXPECT_THROW(federation.Train(3, 1), std::logic_error);
    // Once a client has taken its result, it is its own again.
    federation.Train(3, 0);
    federation.Mix(3, Factor::A, 0.5, {{0.5, &message}});
    for (uint32_t i = 0; i < kClients; ++i)
    {
        if (i != 0 && i != 3)
        {
            federation.Train(i, 0);
        }
    }
    federation.EndRound(1, 0);
    federation.Train(0, 1); // client 1 is trained ahead with client 0; client 2 is not
    EXPECT_THROW(federation.Mix(1, Factor::A, 0.5, {{0.5, &message}}), std::logic_error);
    federation.Mix(2, Factor::A, 0.5, {{0.5, &message}});
}

TEST(BatchedEvaluation, EqualsEvaluatingEachModelAlone)
{
    // More models than a pass takes (16): two groups of 10, in passes of 22 of the 600 held-out
    // samples (2000 rows of 10 models x 9 tokens), the last pass partial.
    constexpr int64_t kModels = 20;
    const auto task = test::SyntheticTask();
    TransformerClassifier model = test::PretrainedSyntheticModel();
    torch::manual_seed(9);
    std::vector<torch::Tensor> a;
    for (const auto& [in, out] : model->AdaptedShapes())
    {
        a.push_back(torch::randn({model->config.rank, in}) * 0.3);
    }
    LoraFactors models(a, std::vector<int64_t>(a.size(), model->config.dModel), kModels);
    for (size_t l = 0; l < a.size(); ++l)
    {
        models.a[l] += torch::randn_like(models.a[l]) * 0.3;
        models.b[l].normal_(0, 0.3);
    }
    // A model whose factors are NaN (as a Byzantine client's may be) has NaN logits: LibTorch's
    // argmax takes the first NaN as the largest.
    models.b.back()[kModels - 1].fill_(std::numeric_limits<float>::quiet_NaN());
    BatchedEvaluator evaluator(model, task);
    const std::vector<double> batched = evaluator.Accuracies(models);
    ASSERT_EQ(batched.size(), static_cast<size_t>(kModels));
    std::set<double> distinct;
    torch::NoGradGuard noGrad;
    for (int64_t g = 0; g < kModels; ++g)
    {
        std::vector<torch::Tensor> ag;
        std::vector<torch::Tensor> bg;
        for (size_t l = 0; l < a.size(); ++l)
        {
            ag.push_back(models.a[l][g]);
            bg.push_back(models.b[l][g]);
        }
        const auto predicted =
            PlainLogits(model, task->test.ModelInputs(task->test.inputs), ag, bg).argmax(1);
        const double alone =
            predicted.eq(task->test.labels).to(torch::kDouble).mean().item<double>();
        EXPECT_DOUBLE_EQ(batched[g], alone) << "model " << g;
        distinct.insert(alone);
    }
    EXPECT_GT(distinct.size(), 1u); // the models differ: each was evaluated with its own factors
}

TEST(BatchedEvaluation, StartsNoThreadAfterConfigureCompute)
{
    // LibTorch re-creates its pthreadpool (a new thread) at each thread's first parallel_for;
    // ConfigureCompute has every thread make it, so evaluating (a parallel_for in each worker)
    // does not.
    ConfigureCompute(2);
    const auto task = test::SyntheticTask();
    TransformerClassifier model = test::PretrainedSyntheticModel();
    std::vector<torch::Tensor> a;
    for (const auto& [in, out] : model->AdaptedShapes())
    {
        a.push_back(torch::randn({model->config.rank, in}));
    }
    const LoraFactors models(a, std::vector<int64_t>(a.size(), model->config.dModel), 4);
    BatchedEvaluator evaluator(model, task);
    const auto before = ThreadIds();
    evaluator.Accuracies(models);
    EXPECT_EQ(ThreadIds(), before);
}

TEST(Attention, KernelEqualsMatmulAndSoftmaxInValuesAndGradients)
{
    // The kernels' paths: the default model's 16 features with few keys (rows of scores in
    // registers), a class token's single query, more keys than fit in registers, any width.
    struct Shape
    {
        int64_t queries;
        int64_t keys;
        int64_t features;
    };
    for (const Shape& shape :
         {Shape{17, 17, 16}, Shape{1, 17, 16}, Shape{40, 40, 16}, Shape{9, 9, 8}})
    {
        SCOPED_TRACE(testing::Message() << shape.queries << " queries, " << shape.keys << " keys, "
                                        << shape.features << " features");
        torch::manual_seed(4);
        const int64_t heads = 2;
        const int64_t d = heads * shape.features;
        const auto q = torch::randn({3, 5, shape.queries, d}, torch::requires_grad());
        const auto k = torch::randn({1, 5, shape.keys, d}, torch::requires_grad()); // shared
        const auto v = torch::randn({3, 5, shape.keys, d}, torch::requires_grad());
        const auto probe = torch::randn({3, 5, shape.queries, d});
        const double scale = 0.25;

        const auto fused = Attention(q, k, v, heads, scale);
        const auto grads = torch::autograd::grad({(fused * probe).sum()}, {q, k, v});
        // [G, N, S, heads x dh] -> [G, N, heads, S, dh] and back, by LibTorch.
        auto split = [&](const torch::Tensor& t) {
            return t.view({t.size(0), 5, t.size(2), heads, shape.features}).transpose(2, 3);
        };
        const auto plain = PlainAttention(split(q), split(k), split(v), scale)
                               .transpose(2, 3)
                               .reshape({3, 5, shape.queries, d});
        const auto expected = torch::autograd::grad({(plain * probe).sum()}, {q, k, v});

        EXPECT_LT((fused - plain).abs().max().item<double>(), 1e-5);
        for (size_t i = 0; i < 3; ++i)
        {
            EXPECT_EQ(grads[i].sizes(), expected[i].sizes());
            EXPECT_LT((grads[i] - expected[i]).abs().max().item<double>(), 1e-4) << "input " << i;
            EXPECT_GT(expected[i].abs().max().item<double>(), 0.1);
        }
    }
}

TEST(Attention, KeysAndValuesReadByEveryHeadGetTheHeadsSummedGradient)
{
    // The class-token form of a last block (ClassTokenAttention): one query per head of d
    // features, against the block's normalized inputs [G, N, S, d], which every head reads as
    // its keys and its values. The default model's width (64, 4 heads: the compiled kernels)
    // and another; the inputs each model's own, or shared by the models.
    for (const int64_t d : {64, 24})
    {
        for (const int64_t inputModels : {3, 1})
        {
            SCOPED_TRACE(testing::Message()
                         << d << " features, " << inputModels << " input models");
            torch::manual_seed(6);
            const int64_t heads = 4;
            const auto q = torch::randn({3, 5, 1, heads * d}, torch::requires_grad());
            const auto h = torch::randn({inputModels, 5, 17, d}, torch::requires_grad());
            const auto probe = torch::randn({3, 5, 1, heads * d});
            const double scale = 0.25;

            const auto fused = Attention(q, h, h, heads, scale);
            const auto grads = torch::autograd::grad({(fused * probe).sum()}, {q, h});
            // Every head's keys and values: h repeated, [G, N, heads, S, d].
            const auto split = q.view({3, 5, 1, heads, d}).transpose(2, 3);
            const auto repeated = h.unsqueeze(2).expand({inputModels, 5, heads, 17, d});
            const auto plain = PlainAttention(split, repeated, repeated, scale)
                                   .transpose(2, 3)
                                   .reshape({3, 5, 1, heads * d});
            const auto expected = torch::autograd::grad({(plain * probe).sum()}, {q, h});

            EXPECT_LT((fused - plain).abs().max().item<double>(), 1e-5);
            for (size_t i = 0; i < 2; ++i)
            {
                EXPECT_EQ(grads[i].sizes(), expected[i].sizes());
                EXPECT_GT(expected[i].abs().max().item<double>(), 0.1);
                EXPECT_LT((grads[i] - expected[i]).abs().max().item<double>(), 1e-4)
                    << "input " << i;
            }
        }
    }
    // More than one query a head: values, but no gradient for such keys and values.
    const auto q = torch::randn({1, 2, 3, 4 * 16}, torch::requires_grad());
    const auto h = torch::randn({1, 2, 5, 16}, torch::requires_grad());
    const auto out = Attention(q, h, h, 4, 0.25);
    EXPECT_THROW(torch::autograd::grad({out.sum()}, {h}), c10::Error);
}

TEST(Attention, EvaluationEqualsTrainingsForwardBitForBit)
{
    if (!HaveExpLikeLibTorch())
    {
        GTEST_SKIP() << "LibTorch's exp is not Sleef_expf8_u10 here: no fused kernel";
    }
    // The first block's attention: 17 tokens of 4 heads of 16 features, keys shared by the
    // models (the default) or each model's own, values each model's own. Training's forward pass
    // (which stores the softmax for the backward pass) and evaluation's compute the same bits, so
    // that the model evaluated is the model trained.
    for (const int64_t keyModels : {1, 3})
    {
        SCOPED_TRACE(testing::Message() << keyModels << " key models");
        torch::manual_seed(5);
        const auto q = torch::randn({3, 5, 17, 64}, torch::requires_grad());
        const auto k = torch::randn({keyModels, 5, 17, 64});
        const auto v = torch::randn({3, 5, 17, 64}, torch::requires_grad());
        const auto training = Attention(q, k, v, 4, 0.25);
        ASSERT_TRUE(training.requires_grad());
        torch::NoGradGuard inference;
        const auto evaluation = Attention(q, k, v, 4, 0.25);
        EXPECT_TRUE(torch::equal(evaluation, training));
        EXPECT_GT(evaluation.abs().max().item<double>(), 0.1);
        // and it is attention: within float rounding of LibTorch's matmul and softmax
        auto split = [](const torch::Tensor& t) {
            return t.view({t.size(0), 5, 17, 4, 16}).transpose(2, 3);
        };
        const auto plain = PlainAttention(split(q), split(k), split(v), 0.25)
                               .transpose(2, 3)
                               .reshape({3, 5, 17, 64});
        EXPECT_LT((evaluation - plain).abs().max().item<double>(), 1e-5);
    }
}

TEST(Attention, QueriesInBlocksOfLanesComputeTheSameBitsAsRowsOfScores)
{
    if (!HaveExpLikeLibTorch())
    {
        GTEST_SKIP() << "LibTorch's exp is not Sleef_expf8_u10 here: no fused kernel";
    }
    // The fused kernel takes a sequence's queries in blocks of a vector's lanes (8 or 16), and
    // those past the last block a model in each lane where the models share the keys, else as
    // rows of scores; a sequence of two queries with each model's own keys is rows of scores.
    // Every query of 17 tokens (4 heads of 16 features), in outputs and in the query gradient
    // (from the softmax the forward pass stored), is the bits of its pair of queries taken so;
    // for 3 models and for 20 (two groups of a vector's lanes).
    for (const int64_t models : {3, 20})
    {
        for (const bool sharedKeys : {true, false})
        {
            SCOPED_TRACE(testing::Message()
                         << models << " models, keys " << (sharedKeys ? "shared" : "each model's"));
            torch::manual_seed(8);
            const int64_t samples = 2;
            const auto q = torch::randn({models, samples, 17, 64}, torch::requires_grad());
            const auto keys = torch::randn({1, samples, 17, 64});
            const auto k = sharedKeys ? keys : keys.expand({models, samples, 17, 64}).contiguous();
            const auto v = torch::randn({models, samples, 17, 64});
            const auto probe = torch::randn({models, samples, 17, 64});
            const auto out = Attention(q, k, v, 4, 0.25);
            const auto dq = torch::autograd::grad({(out * probe).sum()}, {q})[0];
            const auto ownKeys = keys.expand({models, samples, 17, 64}).contiguous();
            for (int64_t i = 0; i < 17; ++i)
            {
                const int64_t first = std::min<int64_t>(i, 15); // the pair [first, first + 2)
                const auto pair = q.narrow(2, first, 2).detach().requires_grad_();
                const auto rows = Attention(pair, ownKeys, v, 4, 0.25);
                const auto rowsDq =
                    torch::autograd::grad({(rows * probe.narrow(2, first, 2)).sum()}, {pair})[0];
                EXPECT_TRUE(torch::equal(out.select(2, i), rows.select(2, i - first)))
                    << "query " << i;
                EXPECT_TRUE(torch::equal(dq.select(2, i), rowsDq.select(2, i - first)))
                    << "query " << i;
            }
            EXPECT_GT(dq.abs().max().item<double>(), 0.1);
        }
    }
}

TEST(Attention, FusedClassTokenEqualsItsDefinitionInDoublePrecision)
{
    if (!FusedClassTokenRuns(64, 4))
    {
        GTEST_SKIP() << "LibTorch's exp is not Sleef_expf8_u10 here: no fused kernel";
    }
    // Evaluation's last block: q = W_q x_0 + b_q, and per head h, W_v^h (sum_j p_j x_j) + b_v^h
    // with p = softmax_j(scale (W_k^h^T q^h) . x_j), 17 tokens of 64 features, 4 heads of 16. Each
    // of x and the three weights per model (3 models) or one shared; the result must be the
    // definition's, computed in double precision, for every model, sample and head.
    torch::manual_seed(12);
    for (const int64_t shared : {0, 1, 2, 3, 4})
    {
        SCOPED_TRACE(testing::Message() << "shared operand " << shared);
        auto models = [&](int64_t operand) { return operand == shared ? 1 : 3; };
        const auto x = torch::randn({models(0), 5, 17, 64});
        const auto wq = torch::randn({models(1), 64, 64}) * 0.2;
        const auto wk = torch::randn({models(2), 64, 64}) * 0.2;
        const auto wv = torch::randn({models(3), 64, 64}) * 0.2;
        const auto bq = torch::randn({64});
        const auto bv = torch::randn({64});
        const auto out = FusedClassTokenAttention(x, wq, bq, wk, wv, bv, 4, 0.25);
        ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 5, 1, 64}));
        // In double, one head at a time: [G, N, ...] by broadcasting over the models.
        const auto xd = x.to(torch::kDouble).expand({3, 5, 17, 64});
        const auto q = torch::matmul(xd.select(2, 0).unsqueeze(2), // [3, 5, 1, 64]
                                     wq.to(torch::kDouble).transpose(1, 2).unsqueeze(1)) +
                       bq.to(torch::kDouble);
        std::vector<torch::Tensor> heads;
        for (int64_t h = 0; h < 4; ++h)
        {
            const auto rows = torch::indexing::Slice(h * 16, (h + 1) * 16);
            const auto keyed = torch::matmul(
                q.index({"...", rows}),
                wk.to(torch::kDouble).index({torch::indexing::Slice(), rows}).unsqueeze(1));
            const auto p = torch::softmax(torch::matmul(keyed, xd.transpose(2, 3)) * 0.25, -1);
            const auto mixed = torch::matmul(p, xd); // [3, 5, 1, 64]
            heads.push_back(torch::matmul(mixed, wv.to(torch::kDouble)
                                                     .index({torch::indexing::Slice(), rows})
                                                     .transpose(1, 2)
                                                     .unsqueeze(1)) +
                            bv.to(torch::kDouble).index({rows}));
        }
        const auto expected = torch::cat(heads, -1);
        EXPECT_GT(expected.abs().max().item<double>(), 1);
        EXPECT_LT((out.to(torch::kDouble) - expected).abs().max().item<double>(), 1e-4);
    }
    EXPECT_FALSE(FusedClassTokenRuns(32, 2)); // the other widths: ClassTokenAttention's products
    EXPECT_FALSE(FusedClassTokenRuns(64, 8));
}

TEST(LowRankUpdate, EqualsTheProductInDoublePrecisionInValuesAndGradients)
{
    torch::manual_seed(10);
    // The default width (the kernel compiled for 64) and another; down strided as the
    // evaluator's is (every model's A x side by side in one product's rows).
    for (int64_t d : {64, 40})
    {
        const int64_t g = 3, rows = 37, r = 8;
        const auto base = torch::randn({rows, d}).requires_grad_();
        const auto downRows = torch::randn({rows, g, r}).requires_grad_();
        const auto down = downRows.transpose(0, 1); // [G, R, r], not contiguous
        const auto b = torch::randn({g, d, r}).requires_grad_();
        const auto out = LowRankUpdate(base, down, b, 2.0);
        ASSERT_EQ(out.sizes(), (std::vector<int64_t>{g, rows, d}));
        const auto base64 = base.detach().to(torch::kDouble).requires_grad_();
        const auto down64 = down.detach().to(torch::kDouble).requires_grad_();
        const auto b64 = b.detach().to(torch::kDouble).requires_grad_();
        const auto expected = base64.unsqueeze(0) + 2.0 * torch::bmm(down64, b64.transpose(1, 2));
        // |terms| are about 2 sqrt(r) ~ 6: a few float roundings of that
        EXPECT_LT((out.to(torch::kDouble) - expected).abs().max().item<double>(), 1e-5)
            << "d = " << d;
        EXPECT_GT((out - base).abs().min().item<float>(), 0); // every model's term is there
        const auto weights = torch::randn({g, rows, d});
        (out * weights).sum().backward();
        (expected * weights.to(torch::kDouble)).sum().backward();
        const std::vector<std::pair<torch::Tensor, torch::Tensor>> grads{
            {base.grad(), base64.grad()},
            {downRows.grad().transpose(0, 1), down64.grad()},
            {b.grad(), b64.grad()}};
        for (const auto& [ours, reference] : grads)
        {
            EXPECT_LT((ours.to(torch::kDouble) - reference).abs().max().item<double>(), 1e-4)
                << "d = " << d;
        }
    }
}

TEST(AddProduct, AccumulatesXTimesWTransposedWithinFloatRounding)
{
    torch::manual_seed(12);
    // The model's shapes (a pass's rows by d, ffn or the classes), single rows and columns, and
    // rows read with a stride (a slice of wider rows).
    const std::vector<std::array<int64_t, 4>> shapes{// m, k, n, x's row stride
                                                     {301, 64, 128, 64}, {301, 128, 64, 128},
                                                     {75, 64, 10, 64},   {1, 64, 64, 64},
                                                     {9, 64, 1, 64},     {33, 24, 40, 100}};
    for (const auto& [m, k, n, stride] : shapes)
    {
        const auto x = torch::randn({m, stride}).narrow(1, 0, k);
        const auto w = torch::randn({n, k});
        const auto y0 = torch::randn({m, n});
        auto y = y0.clone();
        AddProduct(x, w, y);
        const auto x64 = x.to(torch::kDouble);
        const auto w64 = w.to(torch::kDouble);
        const auto expected = y0.to(torch::kDouble) + torch::mm(x64, w64.t());
        // each output within float rounding of the sum of its terms' magnitudes
        const auto magnitude = y0.abs().to(torch::kDouble) + torch::mm(x64.abs(), w64.abs().t());
        EXPECT_LT(((y.to(torch::kDouble) - expected).abs() / magnitude).max().item<double>(), 1e-6)
            << m << " x " << k << " x " << n;
        EXPECT_GT((y - y0).abs().min().item<float>(), 0); // every output got its product
    }
    // An empty sum adds nothing.
    auto kept = torch::ones({3, 2});
    AddProduct(torch::empty({3, 0}), torch::empty({2, 0}), kept);
    EXPECT_TRUE(torch::equal(kept, torch::ones({3, 2})));
    // Operands that do not fit are refused, nothing written.
    auto y = torch::zeros({4, 5});
    EXPECT_THROW(AddProduct(torch::ones({4, 3}), torch::ones({5, 2}), y), c10::Error);
    EXPECT_THROW(AddProduct(torch::ones({4, 3}), torch::ones({5, 3}, torch::kDouble), y),
                 c10::Error);
    auto columns = torch::zeros({5, 4}).t();
    EXPECT_THROW(AddProduct(torch::ones({4, 3}), torch::ones({5, 3}), columns), c10::Error);
    EXPECT_EQ(y.abs().sum().item<float>(), 0);
}

TEST(FrozenAffine, IsBiasPlusXWTransposedInValuesAndInputGradient)
{
    torch::manual_seed(13);
    // A pass's rows by the default model's widths (d 64, ffn 128), and x read with a stride.
    for (const auto& [k, n] : {std::pair<int64_t, int64_t>{64, 128}, {128, 64}, {24, 40}})
    {
        const auto wide = torch::randn({97, k + 3}).requires_grad_();
        const auto x = wide.narrow(1, 0, k);
        const auto w = torch::randn({n, k});
        const auto bias = torch::randn({n});
        const auto y = FrozenAffine(x, w, bias);
        ASSERT_EQ(y.sizes(), (std::vector<int64_t>{97, n}));
        const auto x64 = x.detach().to(torch::kDouble).requires_grad_();
        const auto expected = bias.to(torch::kDouble) + torch::mm(x64, w.to(torch::kDouble).t());
        EXPECT_LT((y.to(torch::kDouble) - expected).abs().max().item<double>(), 1e-4)
            << k << " -> " << n;
        const auto weights = torch::randn({97, n});
        (y * weights).sum().backward();
        (expected * weights.to(torch::kDouble)).sum().backward();
        // the input gradient reaches x through the narrow: wide's last 3 columns get none
        EXPECT_LT((wide.grad().narrow(1, 0, k).to(torch::kDouble) - x64.grad())
                      .abs()
                      .max()
                      .item<double>(),
                  1e-4)
            << k << " -> " << n;
        EXPECT_EQ(wide.grad().narrow(1, k, 3).abs().sum().item<float>(), 0);
        EXPECT_GT(x64.grad().abs().min().item<double>(), 0);
    }
    // A weight or bias being trained is refused: its gradient would be lost.
    const auto trained = torch::randn({5, 3}).requires_grad_();
    EXPECT_THROW(FrozenAffine(torch::randn({4, 3}), trained, torch::zeros({5})), c10::Error);
}

TEST(AffineInto, StoresAccumulatesOrActivatesBiasPlusXWTransposedWithinFloatRounding)
{
    torch::manual_seed(15);
    // An evaluation pass's shapes (rows by d, ffn), a single row, and x read with a stride.
    const std::vector<std::array<int64_t, 4>> shapes{// m, k, n, x's row stride
                                                     {301, 64, 128, 64},
                                                     {301, 128, 64, 128},
                                                     {1, 64, 10, 64},
                                                     {33, 24, 40, 100}};
    for (const auto& [m, k, n, stride] : shapes)
    {
        const auto x = torch::randn({m, stride}).narrow(1, 0, k);
        const auto w = torch::randn({n, k}) / std::sqrt(static_cast<double>(k));
        const auto bias = torch::randn({n});
        const auto y0 = torch::randn({m, n});
        const auto x64 = x.to(torch::kDouble);
        const auto affine = bias.to(torch::kDouble) + torch::mm(x64, w.to(torch::kDouble).t());
        const auto erf = 0.5 * affine * (1 + torch::erf(affine / std::sqrt(2.0)));
        const std::vector<std::tuple<Epilogue, torch::Tensor, const char*>> cases{
            {Epilogue::Store, affine, "store"},
            {Epilogue::Accumulate, y0.to(torch::kDouble) + affine, "accumulate"},
            {Epilogue::Gelu, erf, "gelu"}};
        for (const auto& [then, expected, what] : cases)
        {
            auto y = y0.clone();
            AffineInto(x, w, bias, then, y);
            EXPECT_LT((y.to(torch::kDouble) - expected).abs().max().item<double>(), 1e-5)
                << what << " " << m << " x " << k << " x " << n;
        }
    }
    // oneDNN's GELU is erf's form, the model's, not the tanh approximation (up to 4.7e-4 from
    // it on [-6, 6]).
    const auto x = torch::linspace(-6, 6, 97).unsqueeze(1);
    auto y = torch::empty({97, 1});
    AffineInto(x, torch::ones({1, 1}), torch::zeros({1}), Epilogue::Gelu, y);
    const auto x64 = x.to(torch::kDouble);
    EXPECT_LT((y.to(torch::kDouble) - 0.5 * x64 * (1 + torch::erf(x64 / std::sqrt(2.0))))
                  .abs()
                  .max()
                  .item<double>(),
              1e-6);
    // An empty product leaves the bias, and rows that repeat (stride 0) are read as rows.
    for (const auto& [then, expected] :
         {std::pair{Epilogue::Store, torch::full({3, 2}, 2.0F)},
          std::pair{Epilogue::Accumulate, torch::full({3, 2}, 3.0F)}})
    {
        auto ones = torch::ones({3, 2});
        AffineInto(torch::empty({3, 0}), torch::empty({2, 0}), torch::full({2}, 2.0F), then, ones);
        EXPECT_TRUE(torch::equal(ones, expected));
    }
    auto repeated = torch::empty({3, 2});
    AffineInto(torch::arange(4.0F).expand({3, 4}), torch::ones({2, 4}), torch::zeros({2}),
               Epilogue::Store, repeated);
    EXPECT_TRUE(torch::equal(repeated, torch::full({3, 2}, 6.0F)));
    // Operands that do not fit are refused, nothing written.
    auto kept = torch::zeros({4, 5});
    EXPECT_THROW(AffineInto(torch::ones({4, 3}), torch::ones({5, 2}), torch::zeros({5}),
                            Epilogue::Store, kept),
                 c10::Error);
    EXPECT_THROW(AffineInto(torch::ones({4, 3}), torch::ones({5, 3}), torch::zeros({4}),
                            Epilogue::Store, kept),
                 c10::Error);
    auto columns = torch::zeros({5, 4}).t();
    EXPECT_THROW(AffineInto(torch::ones({4, 3}), torch::ones({5, 3}), torch::zeros({5}),
                            Epilogue::Store, columns),
                 c10::Error);
    EXPECT_EQ(kept.abs().sum().item<float>(), 0);
}

TEST(Products, AreEachMatrixsProductInValuesAndGradientsForEveryLayout)
{
    torch::manual_seed(14);
    // The layouts the model hands over: row-major, a transposed weight (column-major), rows read
    // with a stride (a head's columns of wider rows), a matrix shared by the batch (expand), four
    // dimensions, a bias, and matrices of a single row. Each case makes x and w from leaves, so
    // the gradients are compared where autograd leaves them, against double precision.
    using Make = std::function<torch::Tensor(const torch::Tensor&)>;
    const Make same = [](const torch::Tensor& t) { return t; };
    struct Case
    {
        std::vector<int64_t> xLeaf, wLeaf;
        Make x, w;
        bool bias;
        const char* what;
    };
    const std::vector<Case> cases{{{5, 30, 24}, {5, 24, 40}, same, same, false, "row-major"},
                                  {{5, 30, 24},
                                   {5, 40, 24},
                                   same,
                                   [](const torch::Tensor& t) { return t.transpose(1, 2); },
                                   true,
                                   "transposed w, bias"},
                                  {{3, 4, 25, 64},
                                   {3, 4, 16, 64},
                                   [](const torch::Tensor& t) { return t.narrow(3, 16, 16); },
                                   same,
                                   false,
                                   "strided rows, four dimensions"},
                                  {{1, 2, 25, 16},
                                   {6, 2, 16, 8},
                                   [](const torch::Tensor& t) {
                                       return t.expand({6, 2, 25, 16});
                                   },
                                   same,
                                   false,
                                   "a shared x"},
                                  {{4, 1, 64}, {4, 64, 64}, same, same, true, "single rows"}};
    for (const auto& c : cases)
    {
        const auto xLeaf = torch::randn(c.xLeaf).requires_grad_();
        const auto wLeaf = torch::randn(c.wLeaf).requires_grad_();
        const auto x64 = xLeaf.detach().to(torch::kDouble).requires_grad_();
        const auto w64 = wLeaf.detach().to(torch::kDouble).requires_grad_();
        const auto bias = torch::randn({c.w(wLeaf).size(-1)});
        const auto y = Products(c.x(xLeaf), c.w(wLeaf), c.bias ? bias : torch::Tensor());
        auto expected = torch::matmul(c.x(x64), c.w(w64));
        if (c.bias)
        {
            expected = expected + bias.to(torch::kDouble);
        }
        ASSERT_EQ(y.sizes(), expected.sizes()) << c.what;
        EXPECT_TRUE(y.is_contiguous()) << c.what;
        EXPECT_LT((y.to(torch::kDouble) - expected).abs().max().item<double>(), 1e-4) << c.what;
        const auto weights = torch::randn(y.sizes());
        (y * weights).sum().backward();
        (expected * weights.to(torch::kDouble)).sum().backward();
        for (const auto& [ours, reference] :
             {std::pair{xLeaf.grad(), x64.grad()}, std::pair{wLeaf.grad(), w64.grad()}})
        {
            EXPECT_LT((ours.to(torch::kDouble) - reference).abs().max().item<double>(), 1e-4)
                << c.what;
            EXPECT_GT(reference.abs().max().item<double>(), 1) << c.what;
        }
    }
    // A trained bias gets the sum of its columns' output gradients.
    const auto bias = torch::zeros({5}).requires_grad_();
    Products(torch::ones({2, 4, 3}), torch::ones({2, 3, 5}), bias).sum().backward();
    EXPECT_TRUE(torch::equal(bias.grad(), torch::full({5}, 8.0F)));
    // Operands that do not fit are refused.
    EXPECT_THROW(Products(torch::ones({2, 4, 3}), torch::ones({2, 4, 3})), c10::Error);
    EXPECT_THROW(Products(torch::ones({2, 4, 3}), torch::ones({3, 3, 5})), c10::Error);
    EXPECT_THROW(Products(torch::ones({2, 4, 3}), torch::ones({2, 3, 5}, torch::kDouble)),
                 c10::Error);
    EXPECT_THROW(Products(torch::ones({4, 3}), torch::ones({3, 5}), torch::zeros({4})), c10::Error);
}

TEST(Exp, LikeLibTorchsBitForBit)
{
    if (!HaveExpLikeLibTorch())
    {
        GTEST_SKIP() << "LibTorch's exp is not Sleef_expf8_u10 here";
    }
    torch::manual_seed(6);
    // Softmax's inputs (at most 0) and the rest of exp's range, to overflow.
    // Vectors of 16 and one of 8 (ExpLikeLibTorch takes both where the CPU has AVX-512).
    const auto x = torch::cat({-torch::rand({1 << 20}) * 110, torch::randn({(1 << 16) + 8}) * 50});
    auto ours = x.clone();
    ExpLikeLibTorch(ours.data_ptr<float>(), ours.numel());
    EXPECT_TRUE(torch::equal(ours, x.exp()));
}

TEST(LayerNorm, KernelEqualsLibTorchsInValuesAndGradients)
{
    // The default model's 64 features (specialized kernel) and any other width.
    for (int64_t features : {64, 24})
    {
        SCOPED_TRACE(testing::Message() << features << " features");
        torch::manual_seed(6);
        // Rows with a large common offset: a one-pass variance would lose them to cancellation.
        const auto x = (torch::randn({3, 7, 17, features}) * 2 + 30).requires_grad_(true);
        const auto weight = torch::randn({features}, torch::requires_grad());
        const auto bias = torch::randn({features}, torch::requires_grad());
        const auto probe = torch::randn({3, 7, 17, features});

        const auto ours = LayerNorm(x, weight, bias, 1e-5);
        const auto grads = torch::autograd::grad({(ours * probe).sum()}, {x, weight, bias});
        const auto theirs = torch::layer_norm(x, {features}, weight, bias, 1e-5);
        const auto expected = torch::autograd::grad({(theirs * probe).sum()}, {x, weight, bias});

        // Relative to the outputs' size: both round x - mean, with x about 30, to a float.
        EXPECT_LT((ours - theirs).abs().max().item<double>(),
                  1e-5 * theirs.abs().max().item<double>());
        for (size_t i = 0; i < 3; ++i)
        {
            const double scale = expected[i].abs().max().item<double>();
            EXPECT_GT(scale, 0.1);
            EXPECT_LT((grads[i] - expected[i]).abs().max().item<double>(), 1e-4 * scale)
                << "input " << i;
        }
    }
}

TEST(LayerNorm, RowsInBlocksEqualRowsAloneBitForBit)
{
    // 37 rows: blocks of as many rows as a vector has lanes, the rest in blocks of eight; each
    // row alone takes the second path. Both add a row's sums in one order.
    torch::manual_seed(8);
    const auto x = torch::randn({37, 64}) * 2 + 30;
    const auto weight = torch::randn({64});
    const auto bias = torch::randn({64});
    const auto together = LayerNorm(x, weight, bias, 1e-5);
    for (int64_t row = 0; row < x.size(0); ++row)
    {
        EXPECT_TRUE(torch::equal(together[row], LayerNorm(x[row], weight, bias, 1e-5)))
            << "row " << row;
    }
}

TEST(Kernels, WithoutAutogradGiveTheirForwardPassesBitForBit)
{
    // Evaluation runs the kernels without autograd's functions around them (no graph is
    // recorded): each must give the bits of its forward pass under autograd, with a shared
    // (broadcast) input where evaluation passes one.
    torch::manual_seed(9);
    const auto x = torch::randn({3, 5, 17, 64}, torch::requires_grad());
    const auto weight = torch::randn({64});
    const auto bias = torch::randn({64});
    const auto w = torch::randn({32, 64});
    const auto rows = x.reshape({-1, 64});
    const auto down = torch::randn({3, 255, 8}, torch::requires_grad());
    const auto b = torch::randn({3, 64, 8}, torch::requires_grad());
    const auto factors = torch::randn({3, 64, 8}, torch::requires_grad());
    const std::vector<std::function<torch::Tensor()>> kernels{
        [&] { return LayerNorm(x, weight, bias, 1e-5); },
        [&] { return Gelu(x); },
        [&] { return FrozenAffine(rows, w, w.select(1, 0).contiguous()); },
        [&] { return LowRankUpdate(rows.narrow(0, 0, 255), down, b, 2.0); },
        [&] { return Products(x.select(2, 0), factors); },
        [&] { return Products(x.select(2, 0), factors, torch::randn({8})); }};
    for (size_t i = 0; i < kernels.size(); ++i)
    {
        SCOPED_TRACE(testing::Message() << "kernel " << i);
        torch::manual_seed(10);
        const auto recorded = kernels[i]();
        ASSERT_TRUE(recorded.requires_grad());
        torch::NoGradGuard off;
        torch::manual_seed(10);
        const auto alone = kernels[i]();
        EXPECT_FALSE(alone.requires_grad());
        EXPECT_TRUE(torch::equal(alone, recorded));
        EXPECT_GT(alone.abs().max().item<double>(), 0.1);
    }
}

TEST(Gelu, KernelEqualsLibTorchsInValuesAndGradients)
{
    torch::manual_seed(7);
    // Typical pre-activations, and the tails: exp(-x^2 / 2) underflows beyond |x| of about 13.
    const auto x = torch::cat({torch::randn({3000}) * 3, torch::linspace(-20, 20, 401),
                               torch::tensor({-1e4f, -100.0f, 0.0f, 100.0f, 1e4f})})
                       .requires_grad_(true);
    const auto probe = torch::randn({x.size(0)});

    const auto ours = Gelu(x);
    const auto grad = torch::autograd::grad({(ours * probe).sum()}, {x})[0];
    const auto theirs = torch::gelu(x);
    const auto expected = torch::autograd::grad({(theirs * probe).sum()}, {x})[0];

    // Relative to each value's size (1e4 keeps 7 digits in float) and at least 1e-6 absolute.
    const auto tolerance = [](const torch::Tensor& t) { return t.abs().clamp_min(1) * 1e-6; };
    EXPECT_TRUE((ours - theirs).abs().le(tolerance(theirs)).all().item<bool>())
        << (ours - theirs).abs().max().item<double>();
    EXPECT_TRUE((grad - expected).abs().le(tolerance(expected) * 2).all().item<bool>())
        << (grad - expected).abs().max().item<double>();
    EXPECT_GT(expected.abs().max().item<double>(), 1.0);
}
