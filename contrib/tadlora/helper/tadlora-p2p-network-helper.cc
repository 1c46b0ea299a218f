// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-p2p-network-helper.h"

#include "ns3/core-module.h"
#include "ns3/error-model.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

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

NetDeviceContainer
TadLoraP2pNetworkHelper::DoInstall(NodeContainer nodes, const std::vector<tadlora::Edge>& base)
{
    InternetStackHelper internet;
    internet.Install(nodes);
    internet.AssignStreams(nodes, kFirstStream);
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue(m_options.dataRate));
    p2p.SetChannelAttribute("Delay", TimeValue(Seconds(m_options.linkDelayMs / 1000)));
    Ipv4AddressHelper addresses("10.0.0.0", "255.255.255.252");
    int64_t stream = kFirstStream + 100;
    NetDeviceContainer all;
    for (const tadlora::Edge& e : base)
    {
        NetDeviceContainer devices = p2p.Install(nodes.Get(e.u), nodes.Get(e.v));
        for (uint32_t d = 0; d < devices.GetN(); ++d)
        {
            if (m_options.linkLoss > 0)
            {
                Ptr<RateErrorModel> loss = CreateObject<RateErrorModel>();
                loss->SetAttribute("ErrorRate", DoubleValue(m_options.linkLoss));
                loss->SetAttribute("ErrorUnit", StringValue("ERROR_UNIT_PACKET"));
                stream += loss->AssignStreams(stream);
                devices.Get(d)->SetAttribute("ReceiveErrorModel", PointerValue(loss));
            }
        }
        all.Add(devices);
        Ipv4InterfaceContainer interfaces = addresses.Assign(devices);
        addresses.NewNetwork();
        m_addresses[{e.u, e.v}] = interfaces.GetAddress(1);
        m_addresses[{e.v, e.u}] = interfaces.GetAddress(0);
    }
    return all;
}

Ipv4Address
TadLoraP2pNetworkHelper::PeerAddress(uint32_t from, uint32_t to) const
{
    return m_addresses.at({from, to});
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
    out << "p2p: " << Devices().GetN() / 2 << " links of " << m_options.dataRate << ", "
        << m_options.linkDelayMs << " ms";
    return out.str();
}

} // namespace ns3
