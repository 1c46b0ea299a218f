// SPDX-License-Identifier: GPL-2.0-only
// How close the learning side runs to the machine's limit, in one run: LibTorch's matmul peak
// and oneDNN's (which the frozen layers' products run on), batched training and evaluation
// throughput on the default scenario's shapes (Fashion-MNIST, 10 clients, 16 tokens x 49, width 64,
// r = 8, batch 32), at one thread and at the default thread count, and where the default scenario's
// wall time goes.
//   build/bench/tadlora-bench [--seconds S] [--profile] [--no-scenario]

#include "tadlora-batched-evaluator.h"
#include "tadlora-batched-trainer.h"
#include "tadlora-compute.h"
#include "tadlora-dataset.h"
#include "tadlora-experiment.h"
#include "tadlora-federation.h"
#include "tadlora-lora-factors.h"
#include "tadlora-partition.h"
#include "tadlora-pretrain.h"
#include "tadlora-product.h"
#include "tadlora-transformer.h"

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string>

using namespace tadlora;

namespace
{

using Clock = std::chrono::steady_clock;

constexpr uint32_t kClients = 10;

double
SecondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/** Measurements of the throughputs are this many interleaved slices of the time asked for. */
constexpr int kSlices = 5;

/** @return the median of the values */
double
Median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

/** Repeat f until `seconds` have passed (after one warm-up call); @return calls per second */
template<typename F>
double
Rate(double seconds, F f)
{
    f();
    int64_t calls = 0;
    const auto start = Clock::now();
    do
    {
        f();
        ++calls;
    } while (SecondsSince(start) < seconds);
    return static_cast<double>(calls) / SecondsSince(start);
}

/** The two matmuls the model's products run on. */
enum class Library
{
    LibTorch, //!< torch::mm (OpenBLAS): the adapted layers' products and weight gradients
    OneDnn,   //!< AddProduct (oneDNN's sgemm): the frozen layers' products
};

/** @return the rate, GFLOP/s, of repeating the products [m, k] x [k, n] of shapes */
double
ProductsRate(Library library, const std::vector<std::array<int64_t, 3>>& shapes, double seconds)
{
    struct Product
    {
        torch::Tensor a, b, c;
    };
    std::vector<Product> products;
    double flops = 0;
    for (auto [m, k, n] : shapes)
    {
        // oneDNN's operand as the frozen layers hold it: the weight [n, k]
        products.push_back(
            {torch::randn({m, k}),
             library == Library::OneDnn ? torch::randn({n, k}) : torch::randn({k, n}),
             torch::zeros({m, n})});
        flops += 2.0 * m * k * n;
    }
    return Rate(seconds,
                [&]
                {
                    for (Product& p : products)
                    {
                        if (library == Library::OneDnn)
                        {
                            AddProduct(p.a, p.b, p.c);
                        }
                        else
                        {
                            torch::mm_out(p.c, p.a, p.b);
                        }
                    }
                }) *
           flops / 1e9;
}

/** @return a library's single-precision matmul rate, GFLOP/s, on 1024 x 1024 matrices */
double
MatmulPeak(Library library, double seconds)
{
    return ProductsRate(library, {{1024, 1024, 1024}}, seconds);
}

/**
 * @return a library's rate, GFLOP/s, on the shapes of a training step's products: the default
 * model's projections and feed-forward ([rows, 64] x [64, 64], [64, 128], [128, 64]) and a weight
 * gradient ([64, rows] x [rows, 64]), rows = 5 clients x 32 samples x 17 tokens (one thread's
 * group of the default scenario's clients)
 */
double
ShapesRate(Library library, double seconds)
{
    constexpr int64_t rows = 5 * 32 * 17;
    return ProductsRate(library, {{rows, 64, 64}, {rows, 64, 128}, {rows, 128, 64}, {64, rows, 64}},
                        seconds);
}

struct Fixture
{
    std::shared_ptr<TaskData> task;
    TransformerClassifier model{nullptr};
    std::vector<std::vector<uint32_t>> shards;
    LoraFactors factors;
};

Fixture
MakeFixture()
{
    Fixture s;
    s.task = std::make_shared<TaskData>(LoadFashionMnist(kFashionMnistDir, 0, 1000));
    PretrainConfig recipe; // the default recipe: shares the cache with tadlora-sim
    s.model = PretrainedModel(ModelConfigFor(*s.task), s.task->train, s.task->name, recipe,
                              DefaultCacheDir(), nullptr);
    s.shards = Partition(LabelsOf(s.task->train), 10, kClients, "label-skew", 1);
    std::vector<torch::Tensor> a;
    std::vector<int64_t> outputs;
    for (const auto& [in, out] : s.model->AdaptedShapes())
    {
        a.push_back(torch::randn({s.model->config.rank, in}) / std::sqrt(double(in)));
        outputs.push_back(out);
    }
    s.factors = LoraFactors(a, outputs, kClients);
    // Trained B: the measured work is that of a mid-run round, not of B = 0.
    for (auto& b : s.factors.b)
    {
        b.normal_(0, 0.01);
    }
    return s;
}

/** One round of the default K and batch for every client, training A and B (method lora). */
struct TrainingRound
{
    explicit TrainingRound(Fixture& s)
        : trainer(FederationConfig{"lora"}, s.model, s.task, s.shards)
        , factors(s.factors.Clone())
        , plans(kClients, Method("lora", 1).Plan(0))
    {
        for (uint32_t i = 0; i < kClients; ++i)
        {
            clients.push_back(i);
        }
    }

    void operator()()
    {
        trainer.Train(clients, plans, factors);
        const auto& seconds = trainer.GroupSeconds();
        slowest += *std::max_element(seconds.begin(), seconds.end());
        total += std::accumulate(seconds.begin(), seconds.end(), 0.0) /
                 static_cast<double>(seconds.size());
    }

    /** @return how much longer the slowest group of each call took than the groups' mean, since
     * the last call of this (the calls' sums), and start counting anew */
    double Imbalance()
    {
        const double imbalance = slowest / total - 1;
        slowest = total = 0;
        return imbalance;
    }

    BatchedTrainer trainer;
    LoraFactors factors;
    std::vector<RoundPlan> plans;
    std::vector<uint32_t> clients;
    double slowest = 0; //!< sum of each call's slowest group's seconds
    double total = 0;   //!< sum of each call's mean group seconds
};

/** Self time per operator over three calls of f (after a warm-up), from LibTorch's autograd
 * profiler. */
template<typename F>
void
Profile(const char* what, F f)
{
    f();
    using namespace torch::autograd::profiler;
    enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(
        torch::profiler::impl::ProfilerState::CPU, false, false));
    const auto start = Clock::now();
    for (int i = 0; i < 3; ++i)
    {
        f();
    }
    const double wallUs = SecondsSince(start) * 1e6;
    const thread_event_lists events = disableProfilerLegacy();
    std::map<std::string, std::pair<double, int64_t>> self; // name -> (self us, calls)
    for (const auto& thread : events)
    {
        struct Open
        {
            const LegacyEvent* push;
            double children;
        };
        std::vector<Open> stack;
        for (const auto& e : thread)
        {
            if (e.kind() == EventKind::PushRange)
            {
                stack.push_back({&e, 0});
            }
            else if (e.kind() == EventKind::PopRange && !stack.empty())
            {
                const Open open = stack.back();
                stack.pop_back();
                const double total = open.push->cpuElapsedUs(e);
                auto& [us, calls] = self[open.push->name()];
                us += total - open.children;
                ++calls;
                if (!stack.empty())
                {
                    stack.back().children += total;
                }
            }
        }
    }
    std::vector<std::pair<double, std::string>> ranked;
    double profiled = 0;
    for (const auto& [name, entry] : self)
    {
        ranked.emplace_back(entry.first, name);
        profiled += entry.first;
    }
    std::sort(ranked.rbegin(), ranked.rend());
    std::printf("\nprofile: 3 %s, %.0f ms of wall time (profiler included), %.0f ms in "
                "operators; self time by operator:\n",
                what, wallUs / 1e3, profiled / 1e3);
    for (size_t i = 0; i < std::min<size_t>(ranked.size(), 20); ++i)
    {
        std::printf("  %5.1f%%  %8.1f ms  %7lld calls  %s\n", 100 * ranked[i].first / wallUs,
                    ranked[i].first / 1e3, static_cast<long long>(self[ranked[i].second].second),
                    ranked[i].second.c_str());
    }
}

/**
 * Run the default scenario and print where its wall time went, after a one-round run of it that
 * fills the caches (the base, the decoded data) if they are empty.
 */
void
DefaultScenario()
{
    const auto out =
        std::filesystem::temp_directory_path() / ("tadlora-bench-" + std::to_string(::getpid()));
    ns3::TadLoraConfig config;
    config.run.out = out.string();
    config.run.quiet = true;
    ns3::TadLoraConfig warmUp = config;
    warmUp.run.rounds = 1;
    ns3::TadLoraExperiment(warmUp).Run();
    std::filesystem::remove_all(out);
    ns3::TadLoraExperiment(config).Run();
    nlohmann::json summary;
    std::ifstream(out / "summary.json") >> summary;
    std::filesystem::remove_all(out);
    const double wall = summary["wall_time_s"];
    const auto& parts = summary["wall_breakdown_s"];
    std::printf(
        "\ndefault scenario (build/tadlora-sim, base and data cached): %.2f s of wall time\n",
        wall);
    double named = 0;
    for (const char* part :
         {"train", "evaluate", "exchange", "ns3", "data", "pretrain", "setup", "output"})
    {
        const double seconds = parts[part];
        named += seconds;
        std::printf("  %-9s %7.2f s  %5.1f%%\n", part, seconds, 100 * seconds / wall);
    }
    std::printf("  %-9s %7.2f s  %5.1f%%\n", "rest", wall - named, 100 * (wall - named) / wall);
}

} // namespace

int
main(int argc, char** argv)
{
    double seconds = 3;
    bool profile = false;
    bool scenario = true;
    for (int i = 1; i < argc; ++i)
    {
        if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
        {
            seconds = std::stod(argv[++i]);
        }
        else if (std::strcmp(argv[i], "--profile") == 0)
        {
            profile = true;
        }
        else if (std::strcmp(argv[i], "--no-scenario") == 0)
        {
            scenario = false;
        }
        else
        {
            std::fprintf(stderr, "usage: %s [--seconds S] [--profile] [--no-scenario]\n", argv[0]);
            return 2;
        }
    }
    const auto cores = Cores();
    ConfigureCompute(cores);
    Fixture s = MakeFixture();
    const ModelConfig& c = s.model->config;
    const double flopsPerStep = tadlora::TrainingFlopsPerSample(c) * 32;
    std::printf("model: %lld tokens, width %lld, ffn %lld, %lld layers, r = %lld; batch 32; "
                "training FLOPs per client-step %.1f M\n",
                static_cast<long long>(c.tokens + 1), static_cast<long long>(c.dModel),
                static_cast<long long>(c.ffn), static_cast<long long>(c.layers),
                static_cast<long long>(c.rank), flopsPerStep / 1e6);
    // Training's share of each library's peak: LibTorch's (OpenBLAS, the measure) and
    // oneDNN's (its AVX-512 kernels where the processor has them, the machine's higher peak).
    std::printf("%-8s %14s %12s %14s %14s %10s %10s %14s\n", "threads", "LibTorch peak",
                "oneDNN peak", "train steps/s", "train GFLOP/s", "of LibT.", "of oneDNN",
                "eval s x m/s");
    double imbalance = 0; // at the default thread count
    std::vector<uint32_t> counts{1};
    if (cores > 1)
    {
        counts.push_back(cores);
    }
    for (uint32_t threads : counts)
    {
        // The machine's speed drifts (other tenants of the host): the peaks and the throughputs
        // are measured in interleaved slices and each reported as the median over the slices,
        // the ratios as the medians of the slices' own ratios.
        ConfigureCompute(threads);
        TrainingRound round(s);
        BatchedEvaluator evaluator(s.model, s.task);
        const LoraFactors models = s.factors.Append(s.factors.Mean());
        const double slice = seconds / kSlices;
        std::vector<double> peaks, dnnlPeaks, steps, ratios, dnnlRatios, evals, imbalances;
        for (int i = 0; i < kSlices; ++i)
        {
            peaks.push_back(MatmulPeak(Library::LibTorch, slice / 2));
            dnnlPeaks.push_back(MatmulPeak(Library::OneDnn, slice / 2));
            steps.push_back(Rate(slice, [&] { round(); }) * kClients * 20);
            imbalances.push_back(round.Imbalance());
            ratios.push_back(steps.back() * flopsPerStep / 1e9 / peaks.back());
            dnnlRatios.push_back(steps.back() * flopsPerStep / 1e9 / dnnlPeaks.back());
            evals.push_back(Rate(slice, [&] { evaluator.Accuracies(models); }) *
                            static_cast<double>(models.Models() * s.task->test.inputs.size(0)));
        }
        std::printf("%-8u %14.1f %12.1f %14.1f %14.1f %9.1f%% %9.1f%% %14.0f\n", threads,
                    Median(peaks), Median(dnnlPeaks), Median(steps),
                    Median(steps) * flopsPerStep / 1e9, 100 * Median(ratios),
                    100 * Median(dnnlRatios), Median(evals));
        if (threads > 1)
        {
            imbalance = Median(imbalances);
        }
    }
    if (counts.size() > 1)
    {
        std::printf(
            "\nat %u threads the slowest training group (one per thread) took %.1f%% longer "
            "than their mean\n",
            cores, 100 * imbalance);
    }
    ConfigureCompute(1);
    std::printf("\nthe model's products alone (its matmul shapes, 1 thread):");
    for (Library library : {Library::LibTorch, Library::OneDnn})
    {
        std::vector<double> shapes;
        for (int i = 0; i < kSlices; ++i)
        {
            const double peak = MatmulPeak(library, seconds / kSlices / 4);
            shapes.push_back(ShapesRate(library, seconds / kSlices / 4) / peak);
        }
        std::printf(" %.1f%% of %s's peak%s", 100 * Median(shapes),
                    library == Library::LibTorch ? "LibTorch" : "oneDNN",
                    library == Library::LibTorch ? "," : "\n");
    }
    ConfigureCompute(cores);
    if (profile)
    {
        Profile("training rounds", TrainingRound(s));
        BatchedEvaluator evaluator(s.model, s.task);
        const LoraFactors models = s.factors.Append(s.factors.Mean());
        Profile("evaluations of every client and the average",
                [&] { evaluator.Accuracies(models); });
    }
    if (scenario)
    {
        DefaultScenario();
    }
    return 0;
}
