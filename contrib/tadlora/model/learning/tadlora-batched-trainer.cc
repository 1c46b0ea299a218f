// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-batched-trainer.h"

#include "tadlora-dataset.h"
#include "tadlora-lora-factors.h"
#include "tadlora-parallel.h"
#include "tadlora-seed.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace tadlora
{

namespace
{

constexpr double kBeta1 = 0.9;   //!< torch's AdamW default
constexpr double kBeta2 = 0.999; //!< torch's AdamW default
constexpr double kEps = 1e-8;    //!< torch's AdamW default

/**
 * Clients trained in one pass at most. A pass's activations grow with its clients (a client's
 * batch of the default model: 32 x 17 tokens x width 64); past a few clients they leave the
 * caches, and a client-step costs more: at 500 clients in two passes of 250, 11 times the
 * cost at 10 clients (measured with tadlora-sim --link-prob 0; README, "Hundreds of clients").
 */
constexpr int64_t kMaxClientsPerPass = 8;

/** @brief One AdamW step's constants for one client. */
struct StepScale
{
    bool trains;       //!< whether the client trains the factor this round
    float correction1; //!< 1 - beta1^step
    float correction2; //!< sqrt(1 - beta2^step)
};

/**
 * AdamW (torch's, decoupled weight decay) on stacked factors [G, ...] in place, each client
 * with its own step count; a client that does not train the factor is left as it is. One loop
 * per tensor instead of a dozen LibTorch operators on a few kilobytes each.
 */
void
AdamWStep(torch::Tensor& values, const torch::Tensor& grad, torch::Tensor& first,
          torch::Tensor& second, const std::vector<StepScale>& scales, double lr,
          double weightDecay)
{
    TORCH_CHECK(values.is_contiguous() && first.is_contiguous() && second.is_contiguous(),
                "AdamWStep: stacked factors and moments must be contiguous");
    const int64_t g = values.size(0);
    const int64_t n = values.numel() / g;
    const auto decay = static_cast<float>(1 - lr * weightDecay);
    const auto rate = static_cast<float>(lr);
    const auto b1 = static_cast<float>(kBeta1);
    const auto b2 = static_cast<float>(kBeta2);
    const auto eps = static_cast<float>(kEps);
    const auto gradient = grad.contiguous();
    float* p = values.data_ptr<float>();
    float* m = first.data_ptr<float>();
    float* v = second.data_ptr<float>();
    const float* d = gradient.data_ptr<float>();
    for (int64_t c = 0; c < g; ++c)
    {
        if (!scales[c].trains)
        {
            continue;
        }
        const float c1 = scales[c].correction1;
        const float c2 = scales[c].correction2;
        for (int64_t i = c * n; i < (c + 1) * n; ++i)
        {
            m[i] = m[i] * b1 + d[i] * (1 - b1);
            v[i] = v[i] * b2 + d[i] * d[i] * (1 - b2);
            p[i] = p[i] * decay - rate * m[i] / (c1 * (std::sqrt(v[i]) / c2 + eps));
        }
    }
}

} // namespace

BatchedTrainer::BatchedTrainer(const FederationConfig& config, TransformerClassifier model,
                               std::shared_ptr<const TaskData> data,
                               const std::vector<std::vector<uint32_t>>& shards)
    : m_config(config)
    , m_model(std::move(model))
    , m_data(std::move(data))
{
    for (size_t i = 0; i < shards.size(); ++i)
    {
        std::vector<int64_t> indices(shards[i].begin(), shards[i].end());
        m_shards.push_back(torch::tensor(indices, torch::kLong));
        m_generators.push_back(
            at::make_generator<at::CPUGeneratorImpl>(DeriveSeed(config.seed, i)));
    }
    const auto m = static_cast<int64_t>(shards.size());
    const int64_t r = m_model->config.rank;
    m_moments.resize(2);
    for (auto& moments : m_moments)
    {
        moments.steps.assign(shards.size(), 0);
    }
    if (config.keepOptimizerState)
    {
        for (const auto& [in, out] : m_model->AdaptedShapes())
        {
            for (int f = 0; f < 2; ++f)
            {
                const std::vector<int64_t> shape =
                    f == 0 ? std::vector<int64_t>{m, r, in} : std::vector<int64_t>{m, out, r};
                m_moments[f].first.push_back(torch::zeros(shape));
                m_moments[f].second.push_back(torch::zeros(shape));
            }
        }
    }
}

void
BatchedTrainer::Save(torch::serialize::OutputArchive& archive) const
{
    for (size_t i = 0; i < m_generators.size(); ++i)
    {
        archive.write("generator." + std::to_string(i), m_generators[i].get_state());
    }
    for (size_t f = 0; f < m_moments.size(); ++f)
    {
        const std::string name = "moments." + std::to_string(f) + ".";
        archive.write(name + "steps", torch::tensor(m_moments[f].steps, torch::kLong));
        for (size_t l = 0; l < m_moments[f].first.size(); ++l)
        {
            archive.write(name + "first." + std::to_string(l), m_moments[f].first[l]);
            archive.write(name + "second." + std::to_string(l), m_moments[f].second[l]);
        }
    }
}

void
BatchedTrainer::Load(torch::serialize::InputArchive& archive)
{
    for (size_t i = 0; i < m_generators.size(); ++i)
    {
        torch::Tensor state;
        archive.read("generator." + std::to_string(i), state);
        m_generators[i].set_state(state);
    }
    for (size_t f = 0; f < m_moments.size(); ++f)
    {
        const std::string name = "moments." + std::to_string(f) + ".";
        torch::Tensor steps;
        archive.read(name + "steps", steps);
        m_moments[f].steps.assign(steps.data_ptr<int64_t>(),
                                  steps.data_ptr<int64_t>() + steps.numel());
        for (size_t l = 0; l < m_moments[f].first.size(); ++l)
        {
            archive.read(name + "first." + std::to_string(l), m_moments[f].first[l]);
            archive.read(name + "second." + std::to_string(l), m_moments[f].second[l]);
        }
    }
}

std::vector<double>
BatchedTrainer::Train(const std::vector<uint32_t>& clients, const std::vector<RoundPlan>& plans,
                      LoraFactors& factors)
{
    const auto g = static_cast<int64_t>(clients.size());
    // One group per thread, and more when the groups would outgrow the caches.
    const int64_t groups = std::max(std::min<int64_t>(at::get_num_threads(), g),
                                    (g + kMaxClientsPerPass - 1) / kMaxClientsPerPass);
    m_groupSeconds.assign(groups, 0);
    // Group p's clients, trained and timed.
    auto train = [&](int64_t p, LoraFactors& part)
    {
        const auto start = std::chrono::steady_clock::now();
        const int64_t first = p * g / groups;
        const int64_t last = (p + 1) * g / groups;
        auto losses = TrainGroup({clients.begin() + first, clients.begin() + last},
                                 {plans.begin() + first, plans.begin() + last}, part);
        m_groupSeconds[p] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return losses;
    };
    if (groups <= 1)
    {
        return train(0, factors);
    }
    // The groups spread over the threads. Inside the parallel region every operator, and
    // OpenBLAS, runs on its calling thread, so the groups' passes do not share threads.
    std::vector<torch::Tensor> rows(groups);
    std::vector<LoraFactors> parts(groups);
    std::vector<std::vector<double>> losses(groups);
    at::parallel_for(0, groups, 1,
                     [&](int64_t begin, int64_t end)
                     {
                         for (int64_t p = begin; p < end; ++p)
                         {
                             rows[p] = torch::arange(p * g / groups, (p + 1) * g / groups);
                             parts[p] = factors.Select(rows[p]);
                             losses[p] = train(p, parts[p]);
                         }
                     });
    std::vector<double> meanLoss;
    for (int64_t p = 0; p < groups; ++p)
    {
        factors.Assign(rows[p], parts[p]);
        meanLoss.insert(meanLoss.end(), losses[p].begin(), losses[p].end());
    }
    return meanLoss;
}

const std::vector<double>&
BatchedTrainer::GroupSeconds() const
{
    return m_groupSeconds;
}

std::vector<double>
BatchedTrainer::TrainGroup(const std::vector<uint32_t>& clients,
                           const std::vector<RoundPlan>& plans, LoraFactors& factors)
{
    const auto g = static_cast<int64_t>(clients.size());
    const auto n = static_cast<int64_t>(m_config.batchSize);
    const auto rows = torch::tensor(std::vector<int64_t>(clients.begin(), clients.end()));
    const Dataset& train = m_data->train;
    std::vector<int64_t> sampleShape{g, n};
    for (int64_t k = 1; k < train.inputs.dim(); ++k)
    {
        sampleShape.push_back(train.inputs.size(k));
    }

    // Per factor that some client trains: the clients' moments and step counts.
    struct Trained
    {
        Factor factor;
        std::vector<torch::Tensor> first;
        std::vector<torch::Tensor> second;
        std::vector<int64_t> steps;
    };
    std::vector<Trained> trained;
    for (Factor factor : {Factor::A, Factor::B})
    {
        if (std::none_of(plans.begin(), plans.end(),
                         [factor](const RoundPlan& plan) { return plan.Trains(factor); }))
        {
            continue;
        }
        Trained t{factor, {}, {}, {}};
        Moments& kept = m_moments[static_cast<int>(factor)];
        for (const auto& values : factors.Of(factor))
        {
            values.set_requires_grad(true);
            const auto l = t.first.size();
            // Owned copies: the step updates them in place.
            t.first.push_back(m_config.keepOptimizerState ? kept.first[l].index_select(0, rows)
                                                          : torch::zeros_like(values));
            t.second.push_back(m_config.keepOptimizerState ? kept.second[l].index_select(0, rows)
                                                           : torch::zeros_like(values));
        }
        for (uint32_t client : clients)
        {
            t.steps.push_back(m_config.keepOptimizerState ? kept.steps[client] : 0);
        }
        trained.push_back(std::move(t));
    }

    auto lossSum = torch::zeros({g}, torch::kDouble);
    for (uint32_t step = 0; step < m_config.localSteps; ++step)
    {
        std::vector<torch::Tensor> batches;
        for (uint32_t client : clients)
        {
            const auto& shard = m_shards[client];
            auto pick = torch::randint(shard.size(0), {n}, m_generators[client], torch::kLong);
            batches.push_back(shard.index_select(0, pick));
        }
        const auto index = torch::cat(batches); // [G N]
        const auto x = train.ModelInputs(train.inputs.index_select(0, index)).view(sampleShape);
        const auto logits = m_model->forward(x, &factors); // [G, N, classes]
        const auto losses =
            torch::nn::functional::cross_entropy(
                logits.flatten(0, 1), train.labels.index_select(0, index),
                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
                .view({g, n})
                .mean(1); // [G]: each client's own mean loss
        losses.sum().backward();

        torch::NoGradGuard noGrad;
        lossSum += losses.to(torch::kDouble);
        for (Trained& t : trained)
        {
            std::vector<StepScale> scales;
            for (int64_t i = 0; i < g; ++i)
            {
                const bool trains = plans[i].Trains(t.factor);
                t.steps[i] += trains;
                const auto step = static_cast<double>(t.steps[i]);
                scales.push_back({trains, static_cast<float>(1 - std::pow(kBeta1, step)),
                                  static_cast<float>(std::sqrt(1 - std::pow(kBeta2, step)))});
            }
            auto& values = factors.Of(t.factor);
            for (size_t l = 0; l < values.size(); ++l)
            {
                AdamWStep(values[l], values[l].grad(), t.first[l], t.second[l], scales, m_config.lr,
                          m_config.weightDecay);
                values[l].mutable_grad() = torch::Tensor();
            }
        }
    }

    for (Trained& t : trained)
    {
        for (auto& values : factors.Of(t.factor))
        {
            values.set_requires_grad(false);
        }
        if (m_config.keepOptimizerState)
        {
            Moments& kept = m_moments[static_cast<int>(t.factor)];
            for (size_t l = 0; l < t.first.size(); ++l)
            {
                kept.first[l].index_copy_(0, rows, t.first[l]);
                kept.second[l].index_copy_(0, rows, t.second[l]);
            }
            for (int64_t i = 0; i < g; ++i)
            {
                kept.steps[clients[i]] = t.steps[i];
            }
        }
    }
    std::vector<double> meanLoss;
    for (int64_t i = 0; i < g; ++i)
    {
        meanLoss.push_back(m_config.localSteps > 0 ? lossSum[i].item<double>() / m_config.localSteps
                                                   : 0.0);
    }
    return meanLoss;
}

} // namespace tadlora
