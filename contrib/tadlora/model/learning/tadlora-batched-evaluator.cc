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
// Held-out samples per pass. Measured with build/bench/tadlora-bench (11 models, 2 threads):
// 25 samples 78 k sample-models/s, 100 53 k, 1000 18 k; small passes stay in the caches.
constexpr int64_t kEvalChunk = 25;
// Models per pass, for the same reason: 501 models in one pass of 25 samples ran at a tenth
// of the speed of 11 (tadlora-sim --clients 500 against 10; README, "Hundreds of clients").
constexpr int64_t kMaxModelsPerPass = 16;
// What the held-out chunks' FrozenPrefix may take: 64 MB, 2900 samples of the default model.
constexpr int64_t kMaxPrefixBytes = int64_t{64} << 20;

/** @return the inputs of held-out chunk c, [1, N, ...] */
torch::Tensor
ChunkInputs(const Dataset& test, int64_t c)
{
    const int64_t start = c * kEvalChunk;
    return test.ModelInputs(test.inputs.slice(0, start, start + kEvalChunk)).unsqueeze(0);
}
} // namespace

BatchedEvaluator::BatchedEvaluator(TransformerClassifier model,
                                   std::shared_ptr<const TaskData> data)
    : m_model(std::move(model))
    , m_data(std::move(data))
{
}

void
BatchedEvaluator::KeepPrefixes()
{
    m_prefixesKept = true;
    const Dataset& test = m_data->test;
    const int64_t chunks = (test.inputs.size(0) + kEvalChunk - 1) / kEvalChunk;
    c10::InferenceMode inference;
    const FrozenPrefix first = m_model->Prefix(ChunkInputs(test, 0));
    int64_t bytes = 0;
    for (const auto& t : {first.input, first.normed, first.query, first.key, first.value})
    {
        bytes += static_cast<int64_t>(t.nbytes());
    }
    m_prefixes.resize(std::min(chunks, kMaxPrefixBytes / bytes));
    if (m_prefixes.empty())
    {
        return;
    }
    m_prefixes[0] = first;
    at::parallel_for(1, static_cast<int64_t>(m_prefixes.size()), 1,
                     [&](int64_t begin, int64_t end)
                     {
                         c10::InferenceMode inference; // per thread: the mode is thread-local
                         for (int64_t c = begin; c < end; ++c)
                         {
                             m_prefixes[c] = m_model->Prefix(ChunkInputs(test, c));
                         }
                     });
}

std::vector<double>
BatchedEvaluator::Accuracies(const LoraFactors& models)
{
    if (!m_prefixesKept)
    {
        KeepPrefixes();
    }
    const Dataset& test = m_data->test;
    const int64_t samples = test.inputs.size(0);
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
    const int64_t samplePasses = (samples + kEvalChunk - 1) / kEvalChunk;
    const int64_t passes = samplePasses * groups;
    // The passes spread over the threads, each thread's passes with its operators on it.
    const int64_t threads = std::min<int64_t>(at::get_num_threads(), passes);
    std::vector<torch::Tensor> correctBy(threads); // each thread's count per model
    at::parallel_for(0, threads, 1,
                     [&](int64_t begin, int64_t end)
                     {
                         c10::InferenceMode inference; // per thread: the mode is thread-local
                         for (int64_t t = begin; t < end; ++t)
                         {
                             auto& count = correctBy[t];
                             count = torch::zeros({models.Models()}, torch::kLong);
                             for (int64_t pass = t * passes / threads;
                                  pass < (t + 1) * passes / threads; ++pass)
                             {
                                 const int64_t group = pass / samplePasses;
                                 const int64_t chunk = pass % samplePasses;
                                 const int64_t first = group * models.Models() / groups;
                                 const LoraFactors& factors = modelGroups[group];
                                 const auto logits = // [G_k, N, classes]
                                     chunk < static_cast<int64_t>(m_prefixes.size())
                                         ? m_model->forward(m_prefixes[chunk], &factors)
                                         : m_model->forward(ChunkInputs(test, chunk), &factors);
                                 const auto y = test.labels.slice(0, chunk * kEvalChunk,
                                                                  (chunk + 1) * kEvalChunk); // [N]
                                 const auto correct = logits.argmax(2).eq(y).sum(1); // [G_k]
                                 count.narrow(0, first, correct.size(0)) += correct;
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
