// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_NETWORK_HELPER_H
#define TADLORA_NETWORK_HELPER_H

#include "tadlora-options.h"
#include "tadlora-topology.h"

#include "ns3/ipv4-address.h"
#include "ns3/net-device-container.h"
#include "ns3/node-container.h"

#include <memory>
#include <string>
#include <vector>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Builds the network the clients gossip over: one helper per kind of network, behind
 * this interface.
 *
 * - TadLoraP2pNetworkHelper (`--network p2p`): one point-to-point link per base-graph edge.
 * - TadLoraWifiNetworkHelper (`--network wifi-adhoc`): every node on one 802.11 ad hoc channel.
 *
 * What the devices put on the links or the air is counted by a TadLoraUsageProbe.
 */
class TadLoraNetworkHelper
{
public:
    virtual ~TadLoraNetworkHelper() = default;

    /**
     * @param config the run's options; the network ones are used
     * @return the helper of the network the options choose
     * @throws std::invalid_argument naming the option, if a network option is not valid
     */
    static std::unique_ptr<TadLoraNetworkHelper> Create(const TadLoraConfig& config);

    /**
     * @brief Check the network options without building anything.
     * @param config the run's options
     * @throws std::invalid_argument naming the option and what is allowed
     */
    static void Check(const TadLoraConfig& config);

    /**
     * @brief Create one node per client, with devices, mobility, Internet stack and addresses.
     * @param base the base graph: p2p makes a link per edge; Wi-Fi addresses every edge
     * @param clients m
     * @return the nodes, node i being client i
     */
    NodeContainer Install(const std::vector<tadlora::Edge>& base, uint32_t clients);

    /**
     * @param from a client
     * @param to a base-graph neighbour of it
     * @return the address `from` sends to `to` at (the port is the client's)
     */
    virtual Ipv4Address PeerAddress(uint32_t from, uint32_t to) const = 0;

    /** @return every device the network made */
    const NetDeviceContainer& Devices() const;

    /** @param prefix path prefix of the PCAP files, one per device */
    virtual void EnablePcap(const std::string& prefix) = 0;

    /** @return one line describing the network built, for progress and summaries */
    virtual std::string Describe() const = 0;

protected:
    /**
     * @brief Give the nodes their devices, mobility, Internet stack and addresses.
     * @param nodes the nodes, node i being client i
     * @param base the base graph
     * @return the devices made
     */
    virtual NetDeviceContainer DoInstall(NodeContainer nodes,
                                         const std::vector<tadlora::Edge>& base) = 0;

    /** Stream indices for the network's random variables, after the clients' (one each). */
    static constexpr int64_t kFirstStream = 1 << 20;

private:
    NetDeviceContainer m_devices; //!< every device made
};

} // namespace ns3

#endif // TADLORA_NETWORK_HELPER_H
