// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_P2P_NETWORK_HELPER_H
#define TADLORA_P2P_NETWORK_HELPER_H

#include "tadlora-core-switch.h"
#include "tadlora-network-helper.h"

#include <map>
#include <utility>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Paper mode (`--network p2p`): point-to-point links with the configured data rate,
 * delay and packet error rate, in one of two layouts (`--p2p-layout`).
 *
 * - edges: one link per base-graph edge, each a /30 of its own. A client's messages to
 *   different neighbours travel in parallel, each on its own link. Costs O(|E|) devices and
 *   interfaces: a complete graph of 500 clients has 124,750 links.
 * - core: one access link per client into a shared core (TadLoraCoreSwitch; the clients share
 *   one subnet, the core forwards by address). A message to a neighbour crosses the sender's
 *   access link and
 *   the receiver's: each delays it by half of --link-delay-ms and loses a packet with
 *   probability 1 - sqrt(1 - --link-loss), so every logical edge has the delay and loss of an
 *   edge's link, plus one more transmission time. What differs is contention: a client's
 *   messages to all its neighbours share its access link, and all messages to it share the
 *   core's link to it, queueing there (the queues hold a round's traffic: contention delays,
 *   never drops). Costs O(m).
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

    /**
     * @brief The layout `auto` stands for: core when the base graph's mean degree exceeds
     * kCoreMinMeanDegree, edges otherwise.
     * @param layout --p2p-layout
     * @param base the base graph
     * @param clients m
     * @return edges or core
     */
    static TadLoraP2pLayout Resolve(TadLoraP2pLayout layout, const std::vector<tadlora::Edge>& base,
                                    uint32_t clients);

    /** `auto` takes the core layout above this mean degree of the base graph. */
    static constexpr double kCoreMinMeanDegree = 16;

    Ipv4Address PeerAddress(uint32_t from, uint32_t to) const override;
    void EnablePcap(const std::string& prefix) override;
    std::string Describe() const override;

private:
    NetDeviceContainer DoInstall(NodeContainer nodes,
                                 const std::vector<tadlora::Edge>& base) override;
    /** @brief The edges layout. @copydoc DoInstall */
    NetDeviceContainer InstallEdges(NodeContainer nodes, const std::vector<tadlora::Edge>& base);
    /** @brief The core layout; the devices returned are the clients' ends. @copydoc DoInstall */
    NetDeviceContainer InstallCore(NodeContainer nodes);
    /**
     * @brief Lose packets received by a device, with its own random stream.
     * @param device the receiving end
     * @param rate the packet error rate
     */
    void AddLoss(Ptr<NetDevice> device, double rate);

    TadLoraP2pOptions m_options;                                      //!< the links' options
    int64_t m_stream = 0;                                             //!< next free stream
    std::map<std::pair<uint32_t, uint32_t>, Ipv4Address> m_addresses; //!< edges: (from, to) -> to's
    std::vector<Ipv4Address> m_clientAddresses;                       //!< core: each client's
    Ptr<TadLoraCoreSwitch> m_core;                                    //!< core: the switch
};

} // namespace ns3

#endif // TADLORA_P2P_NETWORK_HELPER_H
