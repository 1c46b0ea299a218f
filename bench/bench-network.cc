// SPDX-License-Identifier: GPL-2.0-only
// What simulating the network costs: whole gossip rounds of 10 clients without training
// (K = 0), so the time is ns-3's (links or Wi-Fi PHY and MAC, the clients' events) plus
// serializing and mixing the real factors of the default model's shapes (width 64, r = 8).

#include "tadlora-dataset.h"
#include "tadlora-federation.h"
#include "tadlora-partition.h"
#include "tadlora-scenario.h"
#include "tadlora-topology.h"
#include "tadlora-transformer.h"

#include "ns3/core-module.h"

#include <benchmark/benchmark.h>

using namespace tadlora;

namespace
{

constexpr uint32_t kRounds = 5;

/** Run kRounds rounds of one network setting; report wall and simulated time per round. */
void
GossipRounds(benchmark::State& state, const ns3::TadLoraConfig& c)
{
    auto task = std::make_shared<TaskData>(MakeSynthetic(7, 2000, 100, 10));
    // The factors' shapes depend on the width and rank only: the default's.
    const ModelConfig model = ModelConfigFor(*task);
    FederationConfig fc;
    fc.localSteps = 0;
    double simulated = 0;
    for (auto _ : state)
    {
        state.PauseTiming();
        Federation federation(
            fc, TransformerClassifier(model).ptr(), task,
            Partition(LabelsOf(task->train), 10, c.run.clients, "iid", c.run.seed));
        ns3::TadLoraScenario scenario(
            c, federation, MakeBaseGraph(c.exchange.topology, c.run.clients, c.run.seed));
        scenario.Clients().Start(ns3::Seconds(0));
        state.ResumeTiming();
        ns3::Simulator::Run();
        simulated += ns3::Simulator::Now().GetSeconds() - c.wifi.warmupS;
        ns3::Simulator::Destroy();
    }
    state.counters["sim_s_per_round"] = simulated / (kRounds * state.iterations());
    state.SetItemsProcessed(state.iterations() * kRounds);
}

ns3::TadLoraConfig
Config(ns3::TadLoraNetwork network)
{
    ns3::TadLoraConfig c;
    c.exchange.network = network;
    c.run.rounds = kRounds;
    c.exchange.linkProb = 0.5;
    c.wifi.warmupS = network == ns3::TadLoraNetwork::P2p ? 0 : 2;
    c.wifi.rtsCts = true;
    c.wifi.areaM = 50; // every pair in reach
    return c;
}

void
BM_GossipRoundP2p(benchmark::State& state)
{
    GossipRounds(state, Config(ns3::TadLoraNetwork::P2p));
}

void
BM_GossipRoundWifi(benchmark::State& state)
{
    GossipRounds(state, Config(ns3::TadLoraNetwork::WifiAdhoc));
}

} // namespace

BENCHMARK(BM_GossipRoundP2p)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GossipRoundWifi)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
