// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_WIFI_NETWORK_HELPER_H
#define TADLORA_WIFI_NETWORK_HELPER_H

#include "tadlora-network-helper.h"

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief `--network wifi-adhoc`: every node on one 802.11 ad hoc channel (standard, rate
 * control, transmit power, path loss and fading as configured), placed in the area and moved
 * by the mobility model; routing by OLSR or AODV, or none (one hop: whoever is in reach). What
 * gets through is decided by ns-3's Wi-Fi PHY and MAC, never drawn from a probability.
 */
class TadLoraWifiNetworkHelper : public TadLoraNetworkHelper
{
public:
    /** @param options the Wi-Fi network's options */
    explicit TadLoraWifiNetworkHelper(const TadLoraWifiOptions& options);

    /**
     * @brief Check the Wi-Fi options, and the transport against the routing.
     * @param config the run's options
     * @throws std::invalid_argument naming the option and what is allowed
     */
    static void Check(const TadLoraConfig& config);

    Ipv4Address PeerAddress(uint32_t from, uint32_t to) const override;
    void EnablePcap(const std::string& prefix) override;
    std::string Describe() const override;

private:
    NetDeviceContainer DoInstall(NodeContainer nodes,
                                 const std::vector<tadlora::Edge>& base) override;

    TadLoraWifiOptions m_options;         //!< the Wi-Fi network's options
    std::vector<Ipv4Address> m_addresses; //!< by client
};

} // namespace ns3

#endif // TADLORA_WIFI_NETWORK_HELPER_H
