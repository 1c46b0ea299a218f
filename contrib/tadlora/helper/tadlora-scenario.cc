// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-scenario.h"

#include "tadlora-client-helper.h"
#include "tadlora-gossip-graph.h"

#include "ns3/nstime.h"
#include "ns3/rng-seed-manager.h"

namespace ns3
{

TadLoraScenario::TadLoraScenario(const TadLoraConfig& c, tadlora::Learner& learner,
                                 const std::vector<tadlora::Edge>& baseEdges,
                                 std::unique_ptr<TadLoraNetworkHelper> network)
    : m_graph(std::make_shared<tadlora::GossipGraph>(c.run.clients, baseEdges, c.exchange.linkProb,
                                                     c.run.seed))
    , m_network(network ? std::move(network) : TadLoraNetworkHelper::Create(c))
{
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(c.run.seed);
    m_nodes = m_network->Install(baseEdges, c.run.clients);
    m_usage.Attach(m_network->Devices());
    TadLoraClientHelper clients(&learner, m_graph);
    clients.SetAttributes(c);
    m_clients = clients.Install(m_nodes, *m_network);
    clients.AssignStreams(m_clients, 0);
    // A client with a device profile takes its step's FLOPs at the device's rate.
    std::vector<TadLoraDeviceProfile> devices =
        TadLoraAssignDevices(c.exchange.deviceProfile, c.run.clients, c.run.seed);
    std::vector<double> trainSeconds;
    for (uint32_t i = 0; i < m_clients.GetN(); ++i)
    {
        if (!devices.empty())
        {
            m_clients.Get(i)->SetAttribute(
                "StepTime", TimeValue(Seconds(learner.FlopsPerStep() / (devices[i].gflops * 1e9))));
        }
        TimeValue step;
        m_clients.Get(i)->GetAttribute("StepTime", step);
        trainSeconds.push_back(step.Get().GetSeconds() * learner.LocalSteps());
    }
    m_energy.SetCompute(std::move(devices), std::move(trainSeconds));
}

tadlora::GossipGraph&
TadLoraScenario::Graph() const
{
    return *m_graph;
}

TadLoraEnergyMeter&
TadLoraScenario::Energy()
{
    return m_energy;
}

TadLoraNetworkHelper&
TadLoraScenario::Network()
{
    return *m_network;
}

const TadLoraUsageProbe&
TadLoraScenario::Usage() const
{
    return m_usage;
}

const NodeContainer&
TadLoraScenario::Nodes() const
{
    return m_nodes;
}

ApplicationContainer&
TadLoraScenario::Clients()
{
    return m_clients;
}

} // namespace ns3
