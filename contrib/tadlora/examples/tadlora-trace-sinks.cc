// SPDX-License-Identifier: GPL-2.0-only
//
// Trace sinks through Config paths: every TadLoraClient trace source can be reached at
// /NodeList/*/ApplicationList/*/$ns3::TadLoraClient/<source>, as any ns-3 application's.
// Here, once the clients are built and before they start, three sinks are connected: one
// counts the messages each round delivers, one sums the self weights W_ii of the realized
// mixing matrix, and one prints a line when the last client finishes a round.
//
//   build/examples/tadlora-trace-sinks --linkProb=0.3
//   ./ns3 run "tadlora-trace-sinks --linkProb=0.3"     (in an ns-3 tree)

#include "tadlora-client.h"
#include "tadlora-experiment.h"
#include "tadlora-scenario.h"

#include "ns3/command-line.h"
#include "ns3/config.h"
#include "ns3/simulator.h"

#include <iomanip>
#include <iostream>
#include <map>

using namespace ns3;

namespace
{

uint32_t g_clients = 0;                   //!< m
std::map<uint64_t, uint32_t> g_delivered; //!< round -> messages delivered
std::map<uint64_t, double> g_selfWeights; //!< round -> sum of W_ii over clients and factors
std::map<uint64_t, uint32_t> g_mixes;     //!< round -> rows of W_t mixed
std::map<uint64_t, uint32_t> g_finished;  //!< round -> clients done with it

void
MessageDelivered(const TadLoraMessageEvent& event)
{
    ++g_delivered[event.round];
}

void
FactorMixed(const TadLoraMixEvent& event)
{
    g_selfWeights[event.round] += event.selfWeight;
    ++g_mixes[event.round];
}

void
RoundCompleted(std::string context, uint32_t client, uint64_t round, double trainLoss)
{
    if (++g_finished[round] < g_clients)
    {
        return;
    }
    std::cout << std::fixed << std::setprecision(3) << "t = " << Simulator::Now().GetSeconds()
              << " s  round " << round << ": " << g_delivered[round]
              << " messages delivered, mean W_ii " << g_selfWeights[round] / g_mixes[round]
              << "  (last: " << context << ", client " << client << ", loss " << trainLoss << ")"
              << std::endl;
}

} // namespace

int
main(int argc, char* argv[])
{
    TadLoraConfig config;
    config.run.rounds = 10;
    config.run.quiet = true;
    config.run.out = "results/trace-sinks";

    CommandLine cmd(__FILE__);
    cmd.AddValue("linkProb", "Probability p that a base edge is active in a round",
                 config.exchange.linkProb);
    cmd.AddValue("rounds", "Communication rounds", config.run.rounds);
    cmd.AddValue("out", "Output directory", config.run.out);
    cmd.Parse(argc, argv);
    g_clients = config.run.clients;

    try
    {
        TadLoraExperiment experiment(config);
        experiment.SetReadyCallback(
            [](TadLoraScenario&)
            {
                const std::string clients = "/NodeList/*/ApplicationList/*/$ns3::TadLoraClient/";
                Config::ConnectWithoutContext(clients + "FactorReceived",
                                              MakeCallback(&MessageDelivered));
                Config::ConnectWithoutContext(clients + "FactorMixed", MakeCallback(&FactorMixed));
                Config::Connect(clients + "RoundCompleted", MakeCallback(&RoundCompleted));
            });
        experiment.Run();
    }
    catch (const std::exception& e)
    {
        std::cerr << "tadlora-trace-sinks: " << e.what() << std::endl;
        return 2;
    }
    return 0;
}
