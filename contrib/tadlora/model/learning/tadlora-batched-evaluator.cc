// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-batched-evaluator.h"

#include "tadlora-dataset.h"
#include "tadlora-lora-factors.h"
#include "tadlora-parallel.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>

namespace tadlora
{

namespace
{
// Rows (sample x model x token: the products' rows) per pass, so that a pass's activations stay in
// a core's caches (the first feed-forward's output, rows x 128 floats, is 1 MB). Measured on
// 2026-12-07's machine (Zen 4, 1 MB of L2 a core; doc/performance-history.md), evaluations at 2
// threads against passes of 25 samples: 11 models 0.91 times the time (10 samples a pass), 16
// models 0.86 (7), the base alone 0.87 (55 or 110); on 2026-12-06's Zen 5, passes of 10 to 20
// samples for 11 models were within the noise of 25, and 40 slower.
constexpr int64_t kRowsPerPass = 2000;
// Models per pass, for the same reason: 501 models in one pass of 25 samples ran at a tenth
// of the speed of 11 (tadlora-sim --clients 500 against 10; README, "Hundreds of clients").
constexpr int64_t kMaxModelsPerPass = 16;

/**
 * counts[g] += how many of the N samples model g classifies as their label, for logits [G, N,
 * classes]: the class of the largest logit, the first of equal ones, a NaN the largest (LibTorch's
 * argmax). One loop: argmax, eq and sum were three operators per pass (about 1% of evaluation).
 */
void
CountCorrect(const torch::Tensor& logits, const int64_t* labels, int64_t* counts)
{
    const auto scores = logits.contiguous();
    const int64_t samples = scores.size(1);
    const int64_t classes = scores.size(2);
    const float* row = scores.data_ptr<float>();
    for (int64_t g = 0; g < scores.size(0); ++g)
    {
        for (int64_t n = 0; n < samples; ++n, row += classes)
        {
            int64_t best = 0;
            for (int64_t c = 1; c < classes && !std::isnan(row[best]); ++c)
            {
                if (!(row[best] >= row[c])) // larger, or NaN
                {
                    best = c;
                }
            }
            counts[g] += best == labels[n] ? 1 : 0;
        }
    }
}
} // namespace

BatchedEvaluator::BatchedEvaluator(TransformerClassifier model,
                                   std::shared_ptr<const TaskData> data)
    : m_model(std::move(model))
    , m_data(std::move(data))
    , m_inputs(m_data->test.ModelInputs(m_data->test.inputs))
    , m_labels(m_data->test.labels.contiguous())
{
}

std::vector<double>
BatchedEvaluator::Accuracies(const LoraFactors& models)
{
    const Dataset& test = m_data->test;
    const int64_t samples = test.inputs.size(0);
    const int64_t* labels = m_labels.data_ptr<int64_t>();
    // The models in groups of at most kMaxModelsPerPass, each group over every sample chunk.
    const int64_t groups = (models.Models() + kMaxModelsPerPass - 1) / kMaxModelsPerPass;
    std::vector<LoraFactors> modelGroups;
    for (int64_t k = 0; k < groups; ++k)
    {
        modelGroups.push_back(
            groups == 1 ? models
                        : models.Select(torch::arange(k * models.Models() / groups,
                                                      (k + 1) * models.Models() / groups)));
    }
    // Each group's adapted weights, formed once for all of its passes.
    std::vector<std::vector<torch::Tensor>> weights;
    {
        c10::InferenceMode inference;
        for (const auto& group : modelGroups)
        {
            weights.push_back(m_model->AdaptedWeights(group));
        }
    }
    const int64_t sequence = m_model->config.tokens + 1; // and the class token
    const int64_t widest = (models.Models() + groups - 1) / groups;
    const int64_t chunk = std::max<int64_t>(1, kRowsPerPass / (widest * sequence));
    const int64_t samplePasses = (samples + chunk - 1) / chunk;
    const int64_t passes = samplePasses * groups;
    // The passes spread over the threads, each thread's passes with its operators on it. A
    // thread takes the next pass when it is done with one, so a thread slowed down (by another
    // tenant of the host) takes fewer; the counts are integers, the same in any order.
    const int64_t threads = std::min<int64_t>(at::get_num_threads(), passes);
    std::vector<torch::Tensor> correctBy(threads); // each thread's count per model
    std::atomic<int64_t> next{0};
    at::parallel_for(
        0, threads, 1,
        [&](int64_t begin, int64_t end)
        {
            c10::InferenceMode inference; // per thread: the mode is thread-local
            for (int64_t t = begin; t < end; ++t)
            {
                auto& count = correctBy[t];
                count = torch::zeros({models.Models()}, torch::kLong);
                for (int64_t pass = next++; pass < passes; pass = next++)
                {
                    const int64_t group = pass / samplePasses;
                    const int64_t start = (pass % samplePasses) * chunk;
                    const int64_t first = group * models.Models() / groups;
                    const auto x =
                        m_inputs.slice(0, start, start + chunk).unsqueeze(0); // [1, N, ...]
                    CountCorrect(m_model->forward(x, &modelGroups[group], &weights[group]),
                                 labels + start, count.data_ptr<int64_t>() + first);
                }
            }
        });
    auto correct = torch::zeros({models.Models()}, torch::kLong);
    for (const auto& c : correctBy)
    {
        correct += c;
    }
    std::vector<double> accuracy;
    for (int64_t g = 0; g < models.Models(); ++g)
    {
        accuracy.push_back(static_cast<double>(correct[g].item<int64_t>()) /
                           static_cast<double>(samples));
    }
    return accuracy;
}

} // namespace tadlora
