// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-client-helper.h"

#include "tadlora-client.h"
#include "tadlora-gossip-graph.h"

#include "ns3/double.h"
#include "ns3/inet-socket-address.h"
#include "ns3/nstime.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

namespace ns3
{

namespace
{

bool
IsWifi(const TadLoraConfig& c)
{
    return c.exchange.network == TadLoraNetwork::WifiAdhoc;
}

} // namespace

const std::vector<TadLoraOptionAttribute>&
TadLoraOptionAttributes()
{
    using V = Ptr<AttributeValue>;
    // Point-to-point links need no warm-up; Wi-Fi routes and neighbours do. Beacons find
    // one-hop neighbours; with routing, the routing protocol finds the way.
    static const std::vector<TadLoraOptionAttribute> table{
        {"--rounds", "Rounds",
         [](const TadLoraConfig& c) -> V { return Create<UintegerValue>(c.run.rounds); }},
        {"--step-time-s", "StepTime",
         [](const TadLoraConfig& c) -> V
         { return Create<TimeValue>(Seconds(c.exchange.stepTimeS)); }},
        {"--exchange-jitter-s", "ExchangeJitter",
         [](const TadLoraConfig& c) -> V
         { return Create<TimeValue>(Seconds(c.exchange.exchangeJitterS)); }},
        {"--round-deadline-s", "RoundDeadline",
         [](const TadLoraConfig& c) -> V
         { return Create<TimeValue>(Seconds(c.exchange.roundDeadlineS)); }},
        {"--confirm-timeout-s", "ConfirmTimeout",
         [](const TadLoraConfig& c) -> V
         { return Create<TimeValue>(Seconds(c.exchange.confirmTimeoutS)); }},
        {"--fragment-size", "MaxPayloadSize",
         [](const TadLoraConfig& c) -> V
         { return Create<UintegerValue>(c.exchange.fragmentSize); }},
        {"--virtual-payload-bytes", "VirtualPayloadSize",
         [](const TadLoraConfig& c) -> V
         { return Create<UintegerValue>(c.exchange.virtualPayloadBytes); }},
        {"--transport", "Transport",
         [](const TadLoraConfig& c) -> V
         { return Create<StringValue>(TadLoraChoiceName(c.exchange.transport)); }},
        {"--hop-limit", "HopLimit",
         [](const TadLoraConfig& c) -> V { return Create<UintegerValue>(c.exchange.hopLimit); }},
        {"--send-rate", "SendRate",
         [](const TadLoraConfig& c) -> V { return Create<StringValue>(c.exchange.sendRate); }},
        {"--fault-corrupt-prob", "FaultCorruptProbability",
         [](const TadLoraConfig& c) -> V { return Create<DoubleValue>(c.faults.corruptProb); }},
        {"--warmup-s", "Warmup",
         [](const TadLoraConfig& c) -> V
         { return Create<TimeValue>(Seconds(IsWifi(c) ? c.wifi.warmupS : 0.0)); }},
        {"--beacon-interval-s", "BeaconInterval",
         [](const TadLoraConfig& c) -> V
         {
             const bool beacons = IsWifi(c) && c.wifi.routing == TadLoraRouting::None;
             return Create<TimeValue>(Seconds(beacons ? c.wifi.beaconIntervalS : 0.0));
         }},
    };
    return table;
}

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
    for (const TadLoraOptionAttribute& entry : TadLoraOptionAttributes())
    {
        SetAttribute(entry.attribute, *entry.value(c));
    }
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
