// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-federation.h"

#include "tadlora-dataset.h"
#include "tadlora-message.h"
#include "tadlora-transformer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <random>

namespace tadlora
{

uint64_t
DeriveSeed(uint64_t seed, uint64_t stream)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

namespace
{
// Measured by build/bench/tadlora-bench (BM_Forward): small batches are the fastest per
// sample on this CPU, 9.5k samples/s at 32 against 5.2k at 256.
constexpr int64_t kEvalChunk = 32; //!< held-out samples per forward pass
} // namespace

/** @brief The LibTorch state behind a Federation. */
struct Federation::Impl
{
    Impl(const FederationConfig& c, TransformerClassifier m, std::shared_ptr<const TaskData> d)
        : config(c)
        , method(c.method, c.switchInterval)
        , model(std::move(m))
        , data(std::move(d))
    {
    }

    FederationConfig config;
    Method method;
    TransformerClassifier model;
    std::shared_ptr<const TaskData> data;
    std::vector<LoraLinear> adapted;       //!< the model's adapted projections
    std::vector<torch::Tensor> shards;     //!< per client: [n_i] training indices
    std::vector<at::Generator> generators; //!< per client: batch sampling
    std::vector<uint32_t> phaseOffsets;    //!< per client: o_i
    std::vector<torch::Tensor> a;          //!< per layer: [m, r, d_in]
    std::vector<torch::Tensor> b;          //!< per layer: [m, d_out, r]
    /** By key: per layer, the captured [m, r, d_in] A and [m, d_out, r] B. */
    std::map<uint64_t, std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>>> snapshots;
    std::vector<std::unique_ptr<torch::optim::AdamW>> optimizers; //!< per client, if kept
    double trainSeconds = 0;                                      //!< wall time spent training

    std::vector<torch::Tensor>& Stack(Factor f)
    {
        return f == Factor::A ? a : b;
    }

    const std::vector<torch::Tensor>& Stack(Factor f) const
    {
        return f == Factor::A ? a : b;
    }

    /** The stacked factor, current or of a snapshot. */
    const std::vector<torch::Tensor>& Stack(Factor f, std::optional<uint64_t> snapshot) const
    {
        if (!snapshot)
        {
            return Stack(f);
        }
        const auto& captured = snapshots.at(*snapshot);
        return f == Factor::A ? captured.first : captured.second;
    }

    Disagreement Diagnose(std::optional<uint64_t> snapshot) const;
    Accuracy Evaluate(std::optional<uint64_t> snapshot);

    std::vector<torch::Tensor> LoraParameters() const
    {
        std::vector<torch::Tensor> params;
        for (const auto& layer : adapted)
        {
            params.push_back(layer->a);
            params.push_back(layer->b);
        }
        return params;
    }

    /** Point the shared model's LoRA factors at one client's (or any [P] set of) values. */
    void Load(const std::vector<torch::Tensor>& as, const std::vector<torch::Tensor>& bs)
    {
        torch::NoGradGuard noGrad;
        for (size_t l = 0; l < adapted.size(); ++l)
        {
            adapted[l]->a.copy_(as[l]);
            adapted[l]->b.copy_(bs[l]);
        }
    }

    void LoadClient(uint32_t client, std::optional<uint64_t> snapshot)
    {
        std::vector<torch::Tensor> as;
        std::vector<torch::Tensor> bs;
        for (size_t l = 0; l < adapted.size(); ++l)
        {
            as.push_back(Stack(Factor::A, snapshot)[l][client]);
            bs.push_back(Stack(Factor::B, snapshot)[l][client]);
        }
        Load(as, bs);
    }

    /** Share of the held-out set the loaded model classifies correctly. */
    double HeldOutAccuracy()
    {
        torch::NoGradGuard noGrad;
        const Dataset& test = data->test;
        int64_t correct = 0;
        for (int64_t start = 0; start < test.inputs.size(0); start += kEvalChunk)
        {
            auto x = test.inputs.slice(0, start, start + kEvalChunk);
            auto y = test.labels.slice(0, start, start + kEvalChunk);
            correct += model->forward(x).argmax(1).eq(y).sum().item<int64_t>();
        }
        return static_cast<double>(correct) / static_cast<double>(test.inputs.size(0));
    }
};

Federation::Federation(const FederationConfig& config,
                       std::shared_ptr<TransformerClassifierImpl> model,
                       std::shared_ptr<const TaskData> data,
                       const std::vector<std::vector<uint32_t>>& shards)
    : m_impl(
          std::make_unique<Impl>(config, TransformerClassifier(std::move(model)), std::move(data)))
{
    Impl& s = *m_impl;
    const auto m = static_cast<int64_t>(shards.size());
    s.adapted = s.model->Adapted();
    for (size_t i = 0; i < shards.size(); ++i)
    {
        std::vector<int64_t> indices(shards[i].begin(), shards[i].end());
        s.shards.push_back(torch::tensor(indices, torch::kLong));
        s.generators.push_back(
            at::make_generator<at::CPUGeneratorImpl>(DeriveSeed(config.seed, i)));
    }
    s.optimizers.resize(shards.size());
    // mt19937_64's output is fixed by the standard (its distributions are not): a modulo keeps
    // the offsets the same on every standard library.
    std::mt19937_64 offsets(DeriveSeed(config.seed, m + 2));
    for (size_t i = 0; i < shards.size(); ++i)
    {
        s.phaseOffsets.push_back(
            static_cast<uint32_t>(offsets() % (uint64_t{config.phaseJitter} + 1)));
    }
    // All clients start from one A, drawn from the run's seed, and B = 0.
    torch::NoGradGuard noGrad;
    torch::manual_seed(DeriveSeed(config.seed, m + 1));
    for (const auto& layer : s.adapted)
    {
        torch::nn::init::kaiming_uniform_(layer->a, std::sqrt(5.0));
        s.a.push_back(layer->a.detach().unsqueeze(0).repeat({m, 1, 1}).contiguous());
        s.b.push_back(torch::zeros({m, layer->b.size(0), layer->b.size(1)}));
    }
}

Federation::~Federation() = default;

uint32_t
Federation::Clients() const
{
    return static_cast<uint32_t>(m_impl->shards.size());
}

const FederationConfig&
Federation::Config() const
{
    return m_impl->config;
}

const Method&
Federation::GetMethod() const
{
    return m_impl->method;
}

uint32_t
Federation::PhaseOffset(uint32_t client) const
{
    return m_impl->phaseOffsets.at(client);
}

double
Federation::Train(uint32_t client, uint64_t round)
{
    Impl& s = *m_impl;
    const auto start = std::chrono::steady_clock::now();
    const RoundPlan plan = s.method.Plan(round + s.phaseOffsets.at(client));
    s.LoadClient(client, std::nullopt);
    for (auto& layer : s.adapted)
    {
        layer->a.set_requires_grad(plan.trainA);
        layer->b.set_requires_grad(plan.trainB);
        // The model is shared by all clients: gradients left by another client must not leak
        // into this one's optimizer step, and an undefined gradient makes AdamW skip a factor.
        layer->a.mutable_grad() = torch::Tensor();
        layer->b.mutable_grad() = torch::Tensor();
    }
    const auto options = torch::optim::AdamWOptions(s.config.lr).weight_decay(s.config.weightDecay);
    std::unique_ptr<torch::optim::AdamW> fresh;
    torch::optim::AdamW* optimizer = nullptr;
    if (s.config.keepOptimizerState)
    {
        if (!s.optimizers[client])
        {
            s.optimizers[client] =
                std::make_unique<torch::optim::AdamW>(s.LoraParameters(), options);
        }
        optimizer = s.optimizers[client].get();
    }
    else
    {
        fresh = std::make_unique<torch::optim::AdamW>(s.LoraParameters(), options);
        optimizer = fresh.get();
    }

    const Dataset& train = s.data->train;
    const torch::Tensor& shard = s.shards[client];
    double lossSum = 0;
    for (uint32_t step = 0; step < s.config.localSteps; ++step)
    {
        auto pick = torch::randint(shard.size(0), {static_cast<int64_t>(s.config.batchSize)},
                                   s.generators[client], torch::kLong);
        auto index = shard.index_select(0, pick);
        auto logits = s.model->forward(train.inputs.index_select(0, index));
        auto loss =
            torch::nn::functional::cross_entropy(logits, train.labels.index_select(0, index));
        optimizer->zero_grad();
        loss.backward();
        optimizer->step();
        lossSum += loss.item<double>();
    }

    torch::NoGradGuard noGrad;
    for (size_t l = 0; l < s.adapted.size(); ++l)
    {
        s.a[l][client].copy_(s.adapted[l]->a);
        s.b[l][client].copy_(s.adapted[l]->b);
    }
    s.trainSeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s.config.localSteps > 0 ? lossSum / s.config.localSteps : 0.0;
}

std::vector<uint8_t>
Federation::Serialize(uint32_t client, Factor factor, uint64_t round, uint32_t degree) const
{
    MessageHeader header;
    header.sender = client;
    header.round = round;
    header.factor = factor;
    header.senderDegree = degree;
    for (const auto& layer : m_impl->Stack(factor))
    {
        header.shapes.emplace_back(static_cast<uint32_t>(layer.size(1)),
                                   static_cast<uint32_t>(layer.size(2)));
    }
    return EncodeMessage(header, FactorValues(client, factor));
}

void
Federation::Mix(uint32_t client, Factor factor, double selfWeight,
                const std::vector<WeightedMessage>& neighbours)
{
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor>& stack = m_impl->Stack(factor);
    std::vector<torch::Tensor> mixed;
    for (const auto& layer : stack)
    {
        mixed.push_back(layer[client] * selfWeight);
    }
    for (const WeightedMessage& neighbour : neighbours)
    {
        const DecodedMessage decoded = DecodeMessage(*neighbour.message);
        if (decoded.header.factor != factor || decoded.header.shapes.size() != stack.size())
        {
            throw MessageError("factor message does not match the model");
        }
        // Copied out of the message: the tensor owns its values.
        const torch::Tensor values = torch::tensor(MessageValues(*neighbour.message, decoded));
        int64_t offset = 0;
        for (size_t l = 0; l < stack.size(); ++l)
        {
            const auto& [rows, cols] = decoded.header.shapes[l];
            if (rows != stack[l].size(1) || cols != stack[l].size(2))
            {
                throw MessageError("factor message does not match the model");
            }
            const int64_t count = static_cast<int64_t>(rows) * cols;
            mixed[l] +=
                neighbour.weight * values.slice(0, offset, offset + count).view({rows, cols});
            offset += count;
        }
    }
    for (size_t l = 0; l < stack.size(); ++l)
    {
        stack[l][client].copy_(mixed[l]);
    }
}

double
Federation::TrainSeconds() const
{
    return m_impl->trainSeconds;
}

void
Federation::Capture(uint32_t client, uint64_t snapshot)
{
    torch::NoGradGuard noGrad;
    Impl& s = *m_impl;
    auto [it, made] = s.snapshots.try_emplace(snapshot);
    auto& [as, bs] = it->second;
    for (size_t l = 0; l < s.a.size(); ++l)
    {
        if (made)
        {
            as.push_back(torch::empty_like(s.a[l]));
            bs.push_back(torch::empty_like(s.b[l]));
        }
        as[l][client].copy_(s.a[l][client]);
        bs[l][client].copy_(s.b[l][client]);
    }
}

void
Federation::Release(uint64_t snapshot)
{
    m_impl->snapshots.erase(snapshot);
}

Disagreement
Federation::Diagnose() const
{
    return m_impl->Diagnose(std::nullopt);
}

Disagreement
Federation::Diagnose(uint64_t snapshot) const
{
    return m_impl->Diagnose(snapshot);
}

Accuracy
Federation::Evaluate()
{
    return m_impl->Evaluate(std::nullopt);
}

Accuracy
Federation::Evaluate(uint64_t snapshot)
{
    return m_impl->Evaluate(snapshot);
}

Disagreement
Federation::Impl::Diagnose(std::optional<uint64_t> snapshot) const
{
    torch::NoGradGuard noGrad;
    Disagreement d{0, 0, 0};
    for (size_t l = 0; l < a.size(); ++l)
    {
        // In double, the mean of identical float32 values is exact: agreement measures as 0.
        const auto al = Stack(Factor::A, snapshot)[l].to(torch::kDouble);
        const auto bl = Stack(Factor::B, snapshot)[l].to(torch::kDouble);
        auto centredA = al - al.mean(0, true); // [m, r, d_in]
        auto centredB = bl - bl.mean(0, true); // [m, d_out, r]
        d.consensusA += centredA.pow(2).sum().item<double>() / al.size(0);
        d.consensusB += centredB.pow(2).sum().item<double>() / bl.size(0);
        d.crossTerm += torch::bmm(centredB, centredA).mean(0).norm().item<double>();
    }
    return d;
}

Accuracy
Federation::Impl::Evaluate(std::optional<uint64_t> snapshot)
{
    std::vector<double> accuracies;
    for (uint32_t i = 0; i < shards.size(); ++i)
    {
        LoadClient(i, snapshot);
        accuracies.push_back(HeldOutAccuracy());
    }
    Accuracy acc{0, 0, 0};
    for (double x : accuracies)
    {
        acc.mean += x / accuracies.size();
    }
    for (double x : accuracies)
    {
        acc.std += (x - acc.mean) * (x - acc.mean) / accuracies.size();
    }
    acc.std = std::sqrt(acc.std);
    std::vector<torch::Tensor> meanA;
    std::vector<torch::Tensor> meanB;
    for (size_t l = 0; l < a.size(); ++l)
    {
        meanA.push_back(Stack(Factor::A, snapshot)[l].mean(0));
        meanB.push_back(Stack(Factor::B, snapshot)[l].mean(0));
    }
    Load(meanA, meanB);
    acc.averagedModel = HeldOutAccuracy();
    return acc;
}

double
Federation::BaseAccuracy()
{
    Impl& s = *m_impl;
    std::vector<torch::Tensor> as;
    std::vector<torch::Tensor> zeros;
    for (size_t l = 0; l < s.a.size(); ++l)
    {
        as.push_back(s.a[l][0]);
        zeros.push_back(torch::zeros_like(s.b[l][0]));
    }
    s.Load(as, zeros);
    return s.HeldOutAccuracy();
}

std::vector<float>
Federation::FactorValues(uint32_t client, Factor factor) const
{
    std::vector<float> values;
    for (const auto& layer : m_impl->Stack(factor))
    {
        auto flat = layer[client].contiguous().view({-1});
        values.insert(values.end(), flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
    }
    return values;
}

} // namespace tadlora
