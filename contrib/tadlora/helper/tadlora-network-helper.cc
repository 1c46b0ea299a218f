// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-network-helper.h"

#include "tadlora-p2p-network-helper.h"
#include "tadlora-wifi-network-helper.h"

#include "ns3/data-rate.h"
#include "ns3/ipv4-address-generator.h"

#include <stdexcept>

namespace ns3
{

std::unique_ptr<TadLoraNetworkHelper>
TadLoraNetworkHelper::Create(const TadLoraConfig& config)
{
    Check(config);
    if (config.exchange.network == TadLoraNetwork::P2p)
    {
        return std::make_unique<TadLoraP2pNetworkHelper>(config.p2p);
    }
    return std::make_unique<TadLoraWifiNetworkHelper>(config.wifi);
}

void
TadLoraNetworkHelper::Check(const TadLoraConfig& c)
{
    if (c.exchange.network == TadLoraNetwork::P2p)
    {
        TadLoraP2pNetworkHelper::Check(c.p2p);
    }
    else
    {
        TadLoraWifiNetworkHelper::Check(c);
    }
    if (DataRateValue rate; !rate.DeserializeFromString(c.exchange.sendRate, MakeDataRateChecker()))
    {
        throw std::invalid_argument("--send-rate: '" + c.exchange.sendRate +
                                    "' is not a data rate (e.g. 0bps, 2Mbps)");
    }
}

NodeContainer
TadLoraNetworkHelper::Install(const std::vector<tadlora::Edge>& base, uint32_t clients)
{
    Ipv4AddressGenerator::Reset(); // a process may build several networks, one at a time
    NodeContainer nodes;
    nodes.Create(clients);
    m_devices = DoInstall(nodes, base);
    return nodes;
}

const NetDeviceContainer&
TadLoraNetworkHelper::Devices() const
{
    return m_devices;
}

} // namespace ns3
