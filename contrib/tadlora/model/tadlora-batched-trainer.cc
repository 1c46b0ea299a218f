// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-batched-trainer.h"

#include "tadlora-dataset.h"
#include "tadlora-lora-factors.h"
#include "tadlora-parallel.h"
#include "tadlora-seed.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace tadlora
{

namespace
{

constexpr double kBeta1 = 0.9;   //!< torch's AdamW default
constexpr double kBeta2 = 0.999; //!< torch's AdamW default
constexpr double kEps = 1e-8;    //!< torch's AdamW default

/** @return 1 - beta^step for each client, shaped [G, 1, 1] to scale its factor */
torch::Tensor
BiasCorrection(double beta, const std::vector<int64_t>& steps)
{
    std::vector<float> correction;
    for (int64_t step : steps)
    {
        correction.push_back(static_cast<float>(1 - std::pow(beta, static_cast<double>(step))));
    }
    return torch::tensor(correction).view({-1, 1, 1});
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

std::vector<double>
BatchedTrainer::Train(const std::vector<uint32_t>& clients, const std::vector<RoundPlan>& plans,
                      LoraFactors& factors)
{
    const auto g = static_cast<int64_t>(clients.size());
    const int64_t groups = std::min<int64_t>(at::get_num_threads(), g);
    if (groups <= 1)
    {
        return TrainGroup(clients, plans, factors);
    }
    // One group of clients per thread. Inside the parallel region every operator, and OpenBLAS,
    // runs on its calling thread, so the groups' passes do not share threads.
    std::vector<torch::Tensor> rows(groups);
    std::vector<LoraFactors> parts(groups);
    std::vector<std::vector<double>> losses(groups);
    at::parallel_for(0, groups, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p)
        {
            const int64_t first = p * g / groups;
            const int64_t last = (p + 1) * g / groups;
            rows[p] = torch::arange(first, last);
            parts[p] = factors.Select(rows[p]);
            losses[p] = TrainGroup({clients.begin() + first, clients.begin() + last},
                                   {plans.begin() + first, plans.begin() + last}, parts[p]);
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

    // Per factor: which clients train it ([G, 1, 1] mask), their moments and step counts.
    struct Trained
    {
        Factor factor;
        torch::Tensor mask;
        bool all;
        std::vector<torch::Tensor> first;
        std::vector<torch::Tensor> second;
        std::vector<int64_t> steps;
    };
    std::vector<Trained> trained;
    for (Factor factor : {Factor::A, Factor::B})
    {
        std::vector<float> mask;
        for (const RoundPlan& plan : plans)
        {
            mask.push_back(plan.Trains(factor));
        }
        const auto count = std::count(mask.begin(), mask.end(), 1.0f);
        if (count == 0)
        {
            continue;
        }
        Trained t{factor, torch::tensor(mask).view({-1, 1, 1}), count == g, {}, {}, {}};
        Moments& kept = m_moments[static_cast<int>(factor)];
        for (const auto& values : factors.Of(factor))
        {
            values.set_requires_grad(true);
            const auto l = t.first.size();
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
        const auto index = torch::cat(batches);                               // [G N]
        const auto x = train.ModelInputs(train.inputs.index_select(0, index)).view(sampleShape);
        const auto logits = m_model->forward(x, &factors);                    // [G, N, classes]
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
            for (int64_t i = 0; i < g; ++i)
            {
                t.steps[i] += plans[i].Trains(t.factor);
            }
            const auto correction1 = BiasCorrection(kBeta1, t.steps);
            const auto correction2 = BiasCorrection(kBeta2, t.steps).sqrt();
            auto& values = factors.Of(t.factor);
            for (size_t l = 0; l < values.size(); ++l)
            {
                torch::Tensor& p = values[l];
                const torch::Tensor grad = p.grad();
                auto first = t.first[l] * kBeta1 + grad * (1 - kBeta1);
                auto second = t.second[l] * kBeta2 + grad * grad * (1 - kBeta2);
                // Clients that do not train this factor have no step yet: their correction is 0.
                auto denom = second.sqrt() / correction2.clamp_min(kEps) + kEps;
                auto updated = p * (1 - m_config.lr * m_config.weightDecay) -
                               m_config.lr * first / (correction1.clamp_min(kEps) * denom);
                if (!t.all)
                {
                    updated = torch::where(t.mask > 0, updated, p);
                    first = torch::where(t.mask > 0, first, t.first[l]);
                    second = torch::where(t.mask > 0, second, t.second[l]);
                }
                p.copy_(updated);
                p.mutable_grad() = torch::Tensor();
                t.first[l] = first;
                t.second[l] = second;
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
