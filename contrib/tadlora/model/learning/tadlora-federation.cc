// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-federation.h"

#include "tadlora-batched-evaluator.h"
#include "tadlora-batched-trainer.h"
#include "tadlora-lora-factors.h"
#include "tadlora-message.h"
#include "tadlora-seed.h"
#include "tadlora-transformer.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace tadlora
{

namespace
{

/** @return why Decode refuses these values, if it does: a NaN or infinity, or a magnitude above
 * the bound */
std::optional<MessageError>
ValueProblem(const std::vector<float>& values, double bound)
{
    for (float v : values)
    {
        if (!std::isfinite(v))
        {
            return MessageError(Rejection::NonFinite, "factor message holds a NaN or infinity");
        }
        if (std::abs(v) > bound)
        {
            return MessageError(Rejection::Magnitude, "factor message holds a value of magnitude " +
                                                          std::to_string(std::abs(v)) + " > " +
                                                          std::to_string(bound));
        }
    }
    return std::nullopt;
}

} // namespace

/** @brief The LibTorch state behind a Federation. */
struct Federation::Impl
{
    /** @brief A client's training result, computed before its own Train call. */
    struct Ahead
    {
        uint64_t round;      //!< the round it was trained for
        double loss;         //!< its mean training loss
        LoraFactors factors; //!< its factors after training, one model
    };

    Impl(const FederationConfig& c, TransformerClassifier m, std::shared_ptr<const TaskData> d,
         const std::vector<std::vector<uint32_t>>& shards)
        : config(c)
        , method(c.method, c.switchInterval)
        , model(std::move(m))
        , trainer(c, model, d, shards)
        , evaluator(model, d)
        , round(shards.size(), 0)
        , ready(shards.size(), 0)
    {
    }

    FederationConfig config;
    Method method;
    TransformerClassifier model;
    BatchedTrainer trainer;
    BatchedEvaluator evaluator;
    LoraFactors factors;             //!< the clients' current factors
    std::vector<uint32_t> byzantine; //!< FederationConfig::byzantine clients
    torch::Tensor honest;            //!< the other clients' rows
    uint64_t resumeRound = 0;        //!< rounds before it are replayed (Restore)
    std::vector<uint64_t> round;     //!< per client: the round it is in
    /** (round, sender, factor) of each message sent whose values Decode refuses, and why */
    std::map<std::tuple<uint64_t, uint32_t, Factor>, Rejection> refusedValues;
    std::vector<uint32_t> phaseOffsets;         //!< per client: o_i
    std::vector<std::optional<uint64_t>> ready; //!< per client: the round its inputs are final for
    std::map<uint32_t, Ahead> ahead;            //!< by client: trained before its own Train call
    /** Codec::TopK: per factor (A, B), [clients, values]: what each client's messages left out */
    std::array<torch::Tensor, 2> residuals;
    double trainSeconds = 0;    //!< wall time spent training
    double exchangeSeconds = 0; //!< wall time spent serializing and mixing

    /** Train, in one pass, the client and every other one whose inputs to the round are final. */
    void TrainAhead(uint32_t client, uint64_t round)
    {
        std::vector<uint32_t> group;
        std::vector<RoundPlan> plans;
        for (uint32_t i = 0; i < ready.size(); ++i)
        {
            if (i == client || (ready[i] == round && ahead.count(i) == 0))
            {
                group.push_back(i);
                plans.push_back(method.Plan(round + phaseOffsets[i]));
            }
        }
        const auto rows = torch::tensor(std::vector<int64_t>(group.begin(), group.end()));
        LoraFactors trained = factors.Select(rows);
        const std::vector<double> losses = trainer.Train(group, plans, trained);
        for (size_t k = 0; k < group.size(); ++k)
        {
            ahead[group[k]] = {round, losses[k],
                               trained.Select(torch::tensor({static_cast<int64_t>(k)}))};
        }
    }

    /** A Byzantine client's message values in place of its factor's. */
    std::vector<float> Hostile(std::vector<float> values, uint32_t client, Factor factor,
                               uint64_t round) const
    {
        switch (config.byzantineMode)
        {
            case ByzantineMode::Nan:
                std::fill(values.begin(), values.end(), std::numeric_limits<float>::quiet_NaN());
                break;
            case ByzantineMode::Scaled:
                for (float& v : values)
                {
                    v = static_cast<float>(v * config.byzantineScale);
                }
                break;
            case ByzantineMode::Random:
            {
                torch::NoGradGuard noGrad;
                const auto m = static_cast<uint64_t>(ready.size());
                const uint64_t stream = (round * m + client) * 2 + static_cast<uint64_t>(factor);
                auto generator = at::make_generator<at::CPUGeneratorImpl>(
                    DeriveSeed(DeriveSeed(config.seed, m + 4), stream));
                const auto n = static_cast<int64_t>(values.size());
                const torch::Tensor own = torch::from_blob(values.data(), {n}, torch::kFloat32);
                const double rms = own.square().mean().sqrt().item<double>();
                own.copy_(torch::randn({n}, generator, torch::kFloat32) * rms);
                break;
            }
        }
        return values;
    }

    Accuracy Evaluate(const LoraFactors& clients)
    {
        const std::vector<double> accuracies = evaluator.Accuracies(clients.Append(clients.Mean()));
        const auto m = static_cast<double>(clients.Models());
        Accuracy acc{0, 0, accuracies.back()};
        for (int64_t i = 0; i < clients.Models(); ++i)
        {
            acc.mean += accuracies[i] / m;
        }
        for (int64_t i = 0; i < clients.Models(); ++i)
        {
            acc.std += (accuracies[i] - acc.mean) * (accuracies[i] - acc.mean) / m;
        }
        acc.std = std::sqrt(acc.std);
        return acc;
    }
};

Federation::Federation(const FederationConfig& config,
                       std::shared_ptr<TransformerClassifierImpl> model,
                       std::shared_ptr<const TaskData> data,
                       const std::vector<std::vector<uint32_t>>& shards)
    : m_impl(std::make_unique<Impl>(config, TransformerClassifier(std::move(model)),
                                    std::move(data), shards))
{
    Impl& s = *m_impl;
    const auto m = static_cast<int64_t>(shards.size());
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
    std::vector<torch::Tensor> a;
    std::vector<int64_t> outputs;
    for (const auto& [in, out] : s.model->AdaptedShapes())
    {
        a.push_back(torch::empty({s.model->config.rank, in}));
        // Kaiming-uniform with a = sqrt(5), as nn.Linear and the LoRA reference initialize A.
        torch::nn::init::kaiming_uniform_(a.back(), std::sqrt(5.0));
        outputs.push_back(out);
    }
    s.factors = LoraFactors(a, outputs, m);
    if (config.codec.kind == Codec::Kind::TopK)
    {
        for (Factor factor : {Factor::A, Factor::B})
        {
            s.residuals[static_cast<size_t>(factor)] = torch::zeros(
                {m, static_cast<int64_t>(s.factors.Values(0, factor).size())}, torch::kFloat32);
        }
    }

    if (config.byzantine >= shards.size())
    {
        throw std::invalid_argument("at least one client must be honest");
    }
    std::vector<uint32_t> order(shards.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 draw(DeriveSeed(config.seed, m + 3));
    for (uint32_t k = 0; k < config.byzantine; ++k)
    {
        std::swap(order[k], order[k + draw() % (order.size() - k)]);
    }
    s.byzantine.assign(order.begin(), order.begin() + config.byzantine);
    std::sort(s.byzantine.begin(), s.byzantine.end());
    std::vector<int64_t> honest;
    for (uint32_t i = 0; i < shards.size(); ++i)
    {
        if (!std::binary_search(s.byzantine.begin(), s.byzantine.end(), i))
        {
            honest.push_back(i);
        }
    }
    s.honest = torch::tensor(honest);
}

Federation::~Federation() = default;

uint32_t
Federation::Clients() const
{
    return static_cast<uint32_t>(m_impl->ready.size());
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
    if (round < s.resumeRound)
    {
        s.ready[client].reset(); // replayed: learned before the checkpoint
        return 0;
    }
    const auto start = std::chrono::steady_clock::now();
    auto it = s.ahead.find(client);
    if (it != s.ahead.end() && it->second.round != round)
    {
        throw std::logic_error("client " + std::to_string(client) +
                               " was trained ahead for round " + std::to_string(it->second.round) +
                               ", not " + std::to_string(round));
    }
    if (it == s.ahead.end())
    {
        s.TrainAhead(client, round);
        it = s.ahead.find(client);
    }
    s.factors.Assign(torch::tensor({static_cast<int64_t>(client)}), it->second.factors);
    const double loss = it->second.loss;
    s.ahead.erase(it);
    s.ready[client].reset();
    s.trainSeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return loss;
}

void
Federation::EndRound(uint32_t client, uint64_t round)
{
    m_impl->ready.at(client) = round + 1;
    m_impl->round.at(client) = round + 1;
}

uint32_t
Federation::LocalSteps() const
{
    return m_impl->config.localSteps;
}

double
Federation::FlopsPerStep() const
{
    return TrainingFlopsPerSample(m_impl->model->config) * m_impl->config.batchSize;
}

std::vector<Factor>
Federation::MixedFactors(uint64_t round) const
{
    return GetMethod().Plan(round).MixedFactors();
}

std::vector<uint8_t>
Federation::Serialize(uint32_t client, Factor factor, uint64_t round)
{
    const auto start = std::chrono::steady_clock::now();
    Impl& s = *m_impl;
    MessageHeader header;
    header.sender = client;
    header.round = round;
    header.factor = factor;
    header.shapes = s.factors.Shapes(factor);
    std::vector<float> values = FactorValues(client, factor);
    if (std::binary_search(s.byzantine.begin(), s.byzantine.end(), client))
    {
        values = s.Hostile(std::move(values), client, factor, round);
    }
    const Codec& codec = s.config.codec;
    float* residual = codec.kind == Codec::Kind::TopK
                          ? s.residuals[static_cast<size_t>(factor)][client].data_ptr<float>()
                          : nullptr;
    for (size_t k = 0; residual != nullptr && k < values.size(); ++k)
    {
        values[k] += residual[k];
    }
    auto message = EncodeMessage(header, values, codec);
    if (round >= s.resumeRound) // a replayed round's verdicts and residuals were restored
    {
        std::vector<float> decoded;
        if (codec.kind != Codec::Kind::Float32)
        {
            decoded = DecodeMessage(message).values;
        }
        const std::vector<float>& sent = codec.kind == Codec::Kind::Float32 ? values : decoded;
        for (size_t k = 0; residual != nullptr && k < values.size(); ++k)
        {
            residual[k] = values[k] - sent[k];
        }
        if (const auto problem = ValueProblem(sent, s.config.maxFactorValue))
        {
            s.refusedValues[{round, client, factor}] = problem->Reason();
        }
    }
    s.exchangeSeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return message;
}

FactorMessage
Federation::Decode(const std::vector<uint8_t>& bytes)
{
    const auto start = std::chrono::steady_clock::now();
    FactorMessage message = DecodeMessage(bytes);
    if (message.header.shapes != m_impl->factors.Shapes(message.header.factor))
    {
        throw MessageError(Rejection::Shape, "factor message does not match the model");
    }
    const MessageHeader& h = message.header;
    if (h.round < m_impl->resumeRound)
    {
        // Replayed: the values are not the ones sent then; the verdict on those is recorded.
        const auto refused = m_impl->refusedValues.find({h.round, h.sender, h.factor});
        if (refused != m_impl->refusedValues.end())
        {
            throw MessageError(refused->second, "factor message refused for its values");
        }
    }
    else if (auto problem = ValueProblem(message.values, m_impl->config.maxFactorValue))
    {
        throw *problem;
    }
    m_impl->exchangeSeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return message;
}

void
Federation::Mix(uint32_t client, Factor factor, double selfWeight,
                const std::vector<WeightedFactor>& neighbours)
{
    Impl& s = *m_impl;
    if (s.ahead.count(client) != 0)
    {
        throw std::logic_error("client " + std::to_string(client) +
                               " is mixed after its next round's training began");
    }
    if (s.round.at(client) < s.resumeRound)
    {
        return; // replayed: mixed before the checkpoint
    }
    const auto start = std::chrono::steady_clock::now();
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor>& stack = s.factors.Of(factor);
    std::vector<torch::Tensor> mixed;
    for (const auto& layer : stack)
    {
        mixed.push_back(layer[client] * selfWeight);
    }
    for (const WeightedFactor& neighbour : neighbours)
    {
        const FactorMessage& message = *neighbour.message;
        if (message.header.factor != factor)
        {
            throw std::logic_error("a message of the other factor was mixed");
        }
        // Decode checked the shapes against the model's.
        const torch::Tensor values =
            torch::from_blob(const_cast<float*>(message.values.data()),
                             {static_cast<int64_t>(message.values.size())}, torch::kFloat32);
        int64_t offset = 0;
        for (size_t l = 0; l < stack.size(); ++l)
        {
            const auto& [rows, cols] = message.header.shapes[l];
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
    s.exchangeSeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double
Federation::TrainSeconds() const
{
    return m_impl->trainSeconds;
}

double
Federation::ExchangeSeconds() const
{
    return m_impl->exchangeSeconds;
}

std::string
Federation::Checkpoint(uint64_t nextRound) const
{
    const Impl& s = *m_impl;
    if (!s.ahead.empty())
    {
        throw std::logic_error("a checkpoint between rounds, not after training began");
    }
    torch::serialize::OutputArchive archive;
    archive.write("round", torch::tensor({static_cast<int64_t>(nextRound)}));
    for (size_t l = 0; l < s.factors.Layers(); ++l)
    {
        archive.write("a." + std::to_string(l), s.factors.a[l]);
        archive.write("b." + std::to_string(l), s.factors.b[l]);
    }
    s.trainer.Save(archive);
    std::vector<int64_t> refused;
    for (const auto& [key, reason] : s.refusedValues)
    {
        const auto& [round, sender, factor] = key;
        refused.insert(refused.end(), {static_cast<int64_t>(round), sender,
                                       static_cast<int64_t>(factor), static_cast<int64_t>(reason)});
    }
    archive.write("refused", torch::tensor(refused, torch::kLong).view({-1, 4}));
    if (s.config.codec.kind == Codec::Kind::TopK)
    {
        archive.write("residual.a", s.residuals[0]);
        archive.write("residual.b", s.residuals[1]);
    }
    std::ostringstream bytes;
    archive.save_to(bytes);
    return bytes.str();
}

uint64_t
Federation::Restore(const std::string& state)
{
    Impl& s = *m_impl;
    torch::serialize::InputArchive archive;
    std::istringstream bytes(state);
    archive.load_from(bytes);
    torch::NoGradGuard noGrad;
    const auto take = [&archive](const std::string& key, torch::Tensor& into)
    {
        torch::Tensor saved;
        archive.read(key, saved);
        if (!saved.sizes().equals(into.sizes()))
        {
            throw std::runtime_error("the checkpoint's " + key + " does not fit the model");
        }
        into.copy_(saved);
    };
    for (size_t l = 0; l < s.factors.Layers(); ++l)
    {
        take("a." + std::to_string(l), s.factors.a[l]);
        take("b." + std::to_string(l), s.factors.b[l]);
    }
    s.trainer.Load(archive);
    if (s.config.codec.kind == Codec::Kind::TopK)
    {
        take("residual.a", s.residuals[0]);
        take("residual.b", s.residuals[1]);
    }
    torch::Tensor refused;
    archive.read("refused", refused);
    s.refusedValues.clear();
    for (int64_t k = 0; k < refused.size(0); ++k)
    {
        const auto row = refused[k];
        s.refusedValues[{static_cast<uint64_t>(row[0].item<int64_t>()),
                         static_cast<uint32_t>(row[1].item<int64_t>()),
                         static_cast<Factor>(row[2].item<int64_t>())}] =
            static_cast<Rejection>(row[3].item<int64_t>());
    }
    torch::Tensor round;
    archive.read("round", round);
    s.resumeRound = static_cast<uint64_t>(round.item<int64_t>());
    return s.resumeRound;
}

const std::vector<uint32_t>&
Federation::Byzantine() const
{
    return m_impl->byzantine;
}

Disagreement
Federation::Diagnose() const
{
    return m_impl->factors.Select(m_impl->honest).Diagnose();
}

Accuracy
Federation::Evaluate()
{
    return m_impl->Evaluate(m_impl->factors.Select(m_impl->honest));
}

double
Federation::BaseAccuracy()
{
    LoraFactors base = m_impl->factors.Select(torch::tensor({int64_t{0}}));
    for (auto& b : base.b)
    {
        b.zero_();
    }
    return m_impl->evaluator.Accuracies(base).front();
}

std::vector<float>
Federation::FactorValues(uint32_t client, Factor factor) const
{
    return m_impl->factors.Values(client, factor);
}

} // namespace tadlora
