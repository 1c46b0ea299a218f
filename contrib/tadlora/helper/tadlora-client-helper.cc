// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-client-helper.h"

#include "tadlora-client.h"
#include "tadlora-gossip-graph.h"

#include "ns3/inet-socket-address.h"
#include "ns3/nstime.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

namespace ns3
{

TadLoraClientHelper::TadLoraClientHelper(tadlora::Learner* learner,
                                         std::shared_ptr<tadlora::GossipGraph> graph)
    : m_learner(learner)
    , m_graph(std::move(graph))
    , m_barrier(std::make_shared<TadLoraRoundBarrier>())
{
    m_factory.SetTypeId(TadLoraClient::GetTypeId());
}

void
TadLoraClientHelper::SetAttribute(const std::string& name, const AttributeValue& value)
{
    m_factory.Set(name, value);
}

void
TadLoraClientHelper::SetAttributes(const TadLoraConfig& c)
{
    SetAttribute("Rounds", UintegerValue(c.rounds));
    SetAttribute("StepTime", TimeValue(Seconds(c.stepTimeS)));
    SetAttribute("ExchangeJitter", TimeValue(Seconds(c.exchangeJitterS)));
    SetAttribute("RoundDeadline", TimeValue(Seconds(c.roundDeadlineS)));
    SetAttribute("ConfirmTimeout", TimeValue(Seconds(c.confirmTimeoutS)));
    SetAttribute("MaxPayloadSize", UintegerValue(c.fragmentSize));
    SetAttribute("VirtualPayloadSize", UintegerValue(c.virtualPayloadBytes));
    SetAttribute("Transport", StringValue(c.transport));
    SetAttribute("HopLimit", UintegerValue(c.hopLimit));
    SetAttribute("SendRate", StringValue(c.sendRate));
    // Point-to-point links need no warm-up; Wi-Fi routes and neighbours do. Beacons find
    // one-hop neighbours; with routing, the routing protocol finds the way.
    const bool wifi = c.network == "wifi-adhoc";
    SetAttribute("Warmup", TimeValue(Seconds(wifi ? c.warmupS : 0.0)));
    const bool beacons = wifi && c.routing == "none";
    SetAttribute("BeaconInterval", TimeValue(Seconds(beacons ? c.beaconIntervalS : 0.0)));
}

ApplicationContainer
TadLoraClientHelper::Install(Ptr<Node> node, uint32_t clientId) const
{
    Ptr<TadLoraClient> client = m_factory.Create<TadLoraClient>();
    client->SetAttribute("ClientId", UintegerValue(clientId));
    client->Setup(m_learner, m_graph, m_barrier);
    node->AddApplication(client);
    return ApplicationContainer(client);
}

ApplicationContainer
TadLoraClientHelper::Install(const NodeContainer& nodes) const
{
    ApplicationContainer apps;
    for (uint32_t i = 0; i < nodes.GetN(); ++i)
    {
        apps.Add(Install(nodes.Get(i), i));
    }
    return apps;
}

ApplicationContainer
TadLoraClientHelper::Install(const NodeContainer& nodes, const TadLoraNetworkHelper& network) const
{
    ApplicationContainer apps = Install(nodes);
    UintegerValue port;
    apps.Get(0)->GetAttribute("Port", port);
    for (const tadlora::Edge& e : m_graph->Base())
    {
        DynamicCast<TadLoraClient>(apps.Get(e.u))
            ->AddPeer(e.v, InetSocketAddress(network.PeerAddress(e.u, e.v), port.Get()));
        DynamicCast<TadLoraClient>(apps.Get(e.v))
            ->AddPeer(e.u, InetSocketAddress(network.PeerAddress(e.v, e.u), port.Get()));
    }
    return apps;
}

int64_t
TadLoraClientHelper::AssignStreams(const ApplicationContainer& apps, int64_t stream) const
{
    int64_t used = 0;
    for (uint32_t i = 0; i < apps.GetN(); ++i)
    {
        used += DynamicCast<TadLoraClient>(apps.Get(i))->AssignStreams(stream + used);
    }
    return used;
}

} // namespace ns3
