// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_P2P_NETWORK_HELPER_H
#define TADLORA_P2P_NETWORK_HELPER_H

#include "tadlora-network-helper.h"

#include <map>
#include <utility>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Paper mode (`--network p2p`): one point-to-point link per base-graph edge, each a /30
 * of its own, with the configured data rate, delay and packet error rate.
 */
class TadLoraP2pNetworkHelper : public TadLoraNetworkHelper
{
public:
    /** @param options the links' options */
    explicit TadLoraP2pNetworkHelper(const TadLoraP2pOptions& options);

    /**
     * @brief Check the p2p options.
     * @param options the links' options
     * @throws std::invalid_argument naming the option and what is allowed
     */
    static void Check(const TadLoraP2pOptions& options);

    Ipv4Address PeerAddress(uint32_t from, uint32_t to) const override;
    void EnablePcap(const std::string& prefix) override;
    std::string Describe() const override;

private:
    NetDeviceContainer DoInstall(NodeContainer nodes,
                                 const std::vector<tadlora::Edge>& base) override;

    TadLoraP2pOptions m_options;                                      //!< the links' options
    std::map<std::pair<uint32_t, uint32_t>, Ipv4Address> m_addresses; //!< (from, to) -> to's
};

} // namespace ns3

#endif // TADLORA_P2P_NETWORK_HELPER_H
