// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-p2p-network-helper.h"

#include "ns3/core-module.h"
#include "ns3/error-model.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ns3
{

TadLoraP2pNetworkHelper::TadLoraP2pNetworkHelper(const TadLoraP2pOptions& options)
    : m_options(options)
{
}

void
TadLoraP2pNetworkHelper::Check(const TadLoraP2pOptions& o)
{
    DataRateValue rate;
    if (!rate.DeserializeFromString(o.dataRate, MakeDataRateChecker()) ||
        rate.Get().GetBitRate() == 0)
    {
        throw std::invalid_argument("--data-rate: '" + o.dataRate +
                                    "' is not a data rate of at least 1bps (e.g. 100Mbps, "
                                    "54Mb/s, 1Gbps)");
    }
}

TadLoraP2pLayout
TadLoraP2pNetworkHelper::Resolve(TadLoraP2pLayout layout, const std::vector<tadlora::Edge>& base,
                                 uint32_t clients)
{
    if (layout != TadLoraP2pLayout::Auto)
    {
        return layout;
    }
    const double meanDegree = 2.0 * static_cast<double>(base.size()) / clients;
    return meanDegree > kCoreMinMeanDegree ? TadLoraP2pLayout::Core : TadLoraP2pLayout::Edges;
}

NetDeviceContainer
TadLoraP2pNetworkHelper::DoInstall(NodeContainer nodes, const std::vector<tadlora::Edge>& base)
{
    m_options.layout = Resolve(m_options.layout, base, nodes.GetN());
    InternetStackHelper internet;
    internet.Install(nodes);
    // The links' streams follow the stacks' (100 on from them, as small runs always had).
    m_stream = kFirstStream + std::max<int64_t>(100, internet.AssignStreams(nodes, kFirstStream));
    return m_options.layout == TadLoraP2pLayout::Edges ? InstallEdges(nodes, base)
                                                       : InstallCore(nodes);
}

void
TadLoraP2pNetworkHelper::AddLoss(Ptr<NetDevice> device, double rate)
{
    Ptr<RateErrorModel> loss = CreateObject<RateErrorModel>();
    loss->SetAttribute("ErrorRate", DoubleValue(rate));
    loss->SetAttribute("ErrorUnit", StringValue("ERROR_UNIT_PACKET"));
    m_stream += loss->AssignStreams(m_stream);
    device->SetAttribute("ReceiveErrorModel", PointerValue(loss));
}

NetDeviceContainer
TadLoraP2pNetworkHelper::InstallEdges(NodeContainer nodes, const std::vector<tadlora::Edge>& base)
{
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue(m_options.dataRate));
    p2p.SetChannelAttribute("Delay", TimeValue(Seconds(m_options.linkDelayMs / 1000)));
    Ipv4AddressHelper addresses("10.0.0.0", "255.255.255.252");
    NetDeviceContainer all;
    for (const tadlora::Edge& e : base)
    {
        NetDeviceContainer devices = p2p.Install(nodes.Get(e.u), nodes.Get(e.v));
        for (uint32_t d = 0; d < devices.GetN() && m_options.linkLoss > 0; ++d)
        {
            AddLoss(devices.Get(d), m_options.linkLoss);
        }
        all.Add(devices);
        Ipv4InterfaceContainer interfaces = addresses.Assign(devices);
        addresses.NewNetwork();
        m_addresses[{e.u, e.v}] = interfaces.GetAddress(1);
        m_addresses[{e.v, e.u}] = interfaces.GetAddress(0);
    }
    return all;
}

NetDeviceContainer
TadLoraP2pNetworkHelper::InstallCore(NodeContainer nodes)
{
    Ptr<Node> core = CreateObject<Node>();
    m_core = ns3::Create<TadLoraCoreSwitch>(core);
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue(m_options.dataRate));
    // Half the edge's delay on each of the two access links a message crosses.
    p2p.SetChannelAttribute("Delay", TimeValue(Seconds(m_options.linkDelayMs / 2000)));
    // A round's messages to or from a client queue on its access link: room for every
    // fragment of a full round of the densest graph, so contention shows as delay.
    p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", StringValue("1000000p"));
    // Lost on either access link: 1 - (1 - q)^2 = --link-loss.
    const double perLink = 1 - std::sqrt(1 - m_options.linkLoss);
    // One subnet: every client's peers are on its link, and the switch takes them there.
    Ipv4AddressHelper addresses("10.0.0.0", "255.255.0.0");
    NetDeviceContainer clientEnds;
    for (uint32_t i = 0; i < nodes.GetN(); ++i)
    {
        NetDeviceContainer devices = p2p.Install(nodes.Get(i), core);
        for (uint32_t d = 0; d < devices.GetN() && m_options.linkLoss > 0; ++d)
        {
            AddLoss(devices.Get(d), perLink);
        }
        clientEnds.Add(devices.Get(0));
        m_clientAddresses.push_back(
            addresses.Assign(NetDeviceContainer(devices.Get(0))).GetAddress(0));
        m_core->AddPort(m_clientAddresses.back(), devices.Get(1));
    }
    return clientEnds;
}

Ipv4Address
TadLoraP2pNetworkHelper::PeerAddress(uint32_t from, uint32_t to) const
{
    return m_options.layout == TadLoraP2pLayout::Core ? m_clientAddresses.at(to)
                                                      : m_addresses.at({from, to});
}

void
TadLoraP2pNetworkHelper::EnablePcap(const std::string& prefix)
{
    PointToPointHelper().EnablePcap(prefix, Devices());
}

std::string
TadLoraP2pNetworkHelper::Describe() const
{
    std::ostringstream out;
    if (m_options.layout == TadLoraP2pLayout::Core)
    {
        out << "p2p core: " << Devices().GetN() << " access links of " << m_options.dataRate << ", "
            << m_options.linkDelayMs / 2 << " ms each, into one core switch";
    }
    else
    {
        out << "p2p: " << Devices().GetN() / 2 << " links of " << m_options.dataRate << ", "
            << m_options.linkDelayMs << " ms";
    }
    return out.str();
}

} // namespace ns3
