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
    // 0bps turns pacing off; a rate that rounds to 0 (0.1bps) is not a way to say so.
    DataRateValue rate;
    if (!rate.DeserializeFromString(c.exchange.sendRate, MakeDataRateChecker()) ||
        (rate.Get().GetBitRate() == 0 &&
         c.exchange.sendRate.find_first_of("123456789") != std::string::npos))
    {
        throw std::invalid_argument("--send-rate: '" + c.exchange.sendRate +
                                    "' is not 0bps (unpaced) or a data rate of at least 1bps "
                                    "(e.g. 2Mbps)");
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
