// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-batched-evaluator.h"

#include "tadlora-dataset.h"
#include "tadlora-lora-factors.h"
#include "tadlora-parallel.h"

#include <torch/torch.h>

#include <algorithm>

namespace tadlora
{

namespace
{
// Held-out samples per pass, for every model at once. Measured with build/bench/tadlora-bench
// (11 models, 2 threads): 25 samples 78 k sample-models/s, 100 53 k, 1000 18 k; small passes
// stay in the caches.
constexpr int64_t kEvalChunk = 25;
} // namespace

BatchedEvaluator::BatchedEvaluator(TransformerClassifier model,
                                   std::shared_ptr<const TaskData> data)
    : m_model(std::move(model))
    , m_data(std::move(data))
{
}

std::vector<double>
BatchedEvaluator::Accuracies(const LoraFactors& models)
{
    const Dataset& test = m_data->test;
    const int64_t samples = test.inputs.size(0);
    const int64_t passes = (samples + kEvalChunk - 1) / kEvalChunk;
    // The passes spread over the threads, each thread's passes with its operators on it.
    const int64_t threads = std::min<int64_t>(at::get_num_threads(), passes);
    std::vector<torch::Tensor> correctBy(threads); // each thread's count per model
    at::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
        c10::InferenceMode inference; // per thread: the mode is thread-local
        for (int64_t t = begin; t < end; ++t)
        {
            auto& count = correctBy[t];
            count = torch::zeros({models.Models()}, torch::kLong);
            for (int64_t pass = t * passes / threads; pass < (t + 1) * passes / threads; ++pass)
            {
                const int64_t start = pass * kEvalChunk;
                const auto x = test.ModelInputs(test.inputs.slice(0, start, start + kEvalChunk))
                                   .unsqueeze(0);                                  // [1, N, ...]
                const auto y = test.labels.slice(0, start, start + kEvalChunk); // [N]
                count += m_model->forward(x, &models).argmax(2).eq(y).sum(1); // [G]
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
