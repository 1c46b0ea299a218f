// SPDX-License-Identifier: GPL-2.0-only
// Where a run's wall time goes: local training, evaluation, serialization and mixing, on the
// default task's shapes (Fashion-MNIST, 16 tokens x 49, width 64, r = 8).
//   build/bench/tadlora-bench --benchmark_min_time=2

#include "tadlora-dataset.h"
#include "tadlora-federation.h"
#include "tadlora-partition.h"
#include "tadlora-pretrain.h"
#include "tadlora-transformer.h"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <thread>

using namespace tadlora;

namespace
{

constexpr uint32_t kClients = 10;

struct Setup
{
    std::shared_ptr<TaskData> task;
    TransformerClassifier model{nullptr};
    std::unique_ptr<Federation> federation;
};

Setup&
Shared()
{
    static Setup setup = []
    {
        torch::set_num_threads(std::max(1u, std::thread::hardware_concurrency()));
        Setup s;
        s.task = std::make_shared<TaskData>(LoadFashionMnist(kFashionMnistDir, 0, 1000));
        const ModelConfig config = ModelConfigFor(*s.task);
        PretrainConfig recipe; // the default recipe: shares the cache with tadlora-sim
        s.model = PretrainedModel(config, s.task->train, s.task->name, recipe, DefaultCacheDir(),
                                  nullptr);
        const auto shards = Partition(LabelsOf(s.task->train), 10, kClients, "label-skew", 1);
        s.federation =
            std::make_unique<Federation>(FederationConfig{}, s.model.ptr(), s.task, shards);
        return s;
    }();
    return setup;
}

/** One client's round of K = 20 local AdamW steps, batch 32. */
void
BM_LocalRound(benchmark::State& state)
{
    Federation& f = *Shared().federation;
    uint64_t round = 0;
    for (auto _ : state)
    {
        f.Train(static_cast<uint32_t>(round % kClients), round);
        ++round;
    }
    state.counters["samples/s"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * 20 * 32, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LocalRound)->Unit(benchmark::kMillisecond);

/** Forward passes without gradients at a given batch size: what evaluation costs a sample. */
void
BM_Forward(benchmark::State& state)
{
    Setup& s = Shared();
    torch::NoGradGuard noGrad;
    const auto x = s.task->test.inputs.slice(0, 0, state.range(0));
    for (auto _ : state)
    {
        benchmark::DoNotOptimize(s.model->forward(x).argmax(1));
    }
    state.counters["samples/s"] = benchmark::Counter(
        static_cast<double>(state.iterations() * state.range(0)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Forward)->Arg(32)->Arg(128)->Arg(256)->Arg(1000)->Unit(benchmark::kMillisecond);

/** Evaluating every client and the averaged model on 1000 held-out samples. */
void
BM_Evaluate(benchmark::State& state)
{
    Federation& f = *Shared().federation;
    for (auto _ : state)
    {
        benchmark::DoNotOptimize(f.Evaluate());
    }
    state.counters["samples/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * (kClients + 1) * 1000,
                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Evaluate)->Unit(benchmark::kMillisecond);

/** Serializing one client's B and mixing it into another client with one neighbour. */
void
BM_SerializeAndMix(benchmark::State& state)
{
    Federation& f = *Shared().federation;
    for (auto _ : state)
    {
        const auto message = f.Serialize(1, Factor::B, 0, 1);
        f.Mix(0, Factor::B, 0.5, {{0.5, &message}});
    }
}
BENCHMARK(BM_SerializeAndMix)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
