// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_SCENARIO_H
#define TADLORA_SCENARIO_H

#include "tadlora-energy-meter.h"
#include "tadlora-network-helper.h"
#include "tadlora-options.h"
#include "tadlora-usage-probe.h"

#include "ns3/application-container.h"
#include "ns3/node-container.h"

#include <memory>
#include <vector>

namespace tadlora
{
class Learner;
class GossipGraph;
struct Edge;
} // namespace tadlora

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief A run's network and clients, built the one way every program builds them
 * (TadLoraExperiment, the tests, the benchmarks): the intended graph of each round over the
 * base edges, ns-3's seed and run number from the run's seed, the network (point-to-point
 * links or Wi-Fi ad hoc) with node i as client i, a TadLoraClient on every node with the
 * run's attributes and random streams (and, with --device-profile, its device's seconds per
 * step), and an energy meter of their compute (its radios are for the program to install:
 * ns-3's energy sources keep the event list alive). The clients are not started: connect
 * trace sinks, then call Clients().Start(...).
 */
class TadLoraScenario
{
public:
    /**
     * @param config the run's options
     * @param learner the run's learning side (a tadlora::Federation in a run); must outlive the
     * simulation
     * @param baseEdges the base graph (tadlora::MakeBaseGraph)
     * @param network the network to build; none: the one the options choose
     *        (TadLoraNetworkHelper::Create)
     */
    TadLoraScenario(const TadLoraConfig& config, tadlora::Learner& learner,
                    const std::vector<tadlora::Edge>& baseEdges,
                    std::unique_ptr<TadLoraNetworkHelper> network = nullptr);

    /** @return the intended graph of each round, shared with the clients */
    tadlora::GossipGraph& Graph() const;
    /** @return each client's energy per round */
    TadLoraEnergyMeter& Energy();
    /** @return the network: addresses, PCAP, description */
    TadLoraNetworkHelper& Network();
    /** @return what the network's devices have transmitted so far */
    const TadLoraUsageProbe& Usage() const;
    /** @return the nodes; node i is client i */
    const NodeContainer& Nodes() const;
    /** @return the clients' applications; application i is client i */
    ApplicationContainer& Clients();

private:
    std::shared_ptr<tadlora::GossipGraph> m_graph;   //!< intended graph of each round
    std::unique_ptr<TadLoraNetworkHelper> m_network; //!< the run's network
    TadLoraUsageProbe m_usage;                       //!< counts its devices' transmissions
    TadLoraEnergyMeter m_energy;                     //!< radio and compute joules
    NodeContainer m_nodes;                           //!< node i is client i
    ApplicationContainer m_clients;                  //!< application i is client i
};

} // namespace ns3

#endif // TADLORA_SCENARIO_H
