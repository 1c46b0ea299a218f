// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_NETWORK_HELPER_H
#define TADLORA_NETWORK_HELPER_H

#include "tadlora-options.h"
#include "tadlora-topology.h"

#include "ns3/address.h"
#include "ns3/net-device-container.h"
#include "ns3/node-container.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Builds the network the clients gossip over, from a run's options.
 *
 * - `p2p`: one point-to-point link per base-graph edge, each a /30 of its own, with the
 *   configured data rate, delay and packet error rate.
 * - `wifi-adhoc`: every node on one 802.11 ad hoc channel (standard, rate control, transmit
 *   power, path loss and fading as configured), placed in the area and moved by the mobility
 *   model; routing by OLSR or AODV, or none (one hop: whoever is in reach). What gets through
 *   is decided by ns-3's Wi-Fi PHY and MAC, never drawn from a probability.
 *
 * The helper must outlive the simulation: it counts the bytes and airtime its devices send.
 */
class TadLoraNetworkHelper
{
public:
    /** @param config the run's options; the network ones are used */
    explicit TadLoraNetworkHelper(const TadLoraConfig& config);

    /**
     * @brief Check the network options without building anything.
     * @param config the run's options
     * @throws std::invalid_argument naming the option and what is allowed
     */
    static void Check(const TadLoraConfig& config);

    /**
     * @brief Create one node per client, with devices, mobility, Internet stack and addresses.
     * @param base the base graph: p2p makes a link per edge; Wi-Fi addresses every edge
     * @return the nodes, node i being client i
     */
    NodeContainer Install(const std::vector<tadlora::Edge>& base);

    /**
     * @param from a client
     * @param to a base-graph neighbour of it
     * @return the address `from` sends to `to` at (the port is the client's)
     */
    Ipv4Address PeerAddress(uint32_t from, uint32_t to) const;

    /** @param prefix path prefix of the PCAP files, one per device */
    void EnablePcap(const std::string& prefix);

    /** @brief What the devices have put on the links or the air so far, all traffic counted. */
    struct Usage
    {
        uint64_t bytes = 0; //!< bytes of every frame transmitted, headers included
        double airtime = 0; //!< seconds spent transmitting, summed over devices
    };

    /** @return the usage so far */
    Usage GetUsage() const;

    /** @return one line describing the network built, for progress and summaries */
    std::string Describe() const;

private:
    void InstallPointToPoint(const std::vector<tadlora::Edge>& base);
    void InstallWifi();
    void CountPointToPoint(Ptr<const Packet> packet);

    TadLoraConfig m_config;                                              //!< the run's options
    NodeContainer m_nodes;                                               //!< node i is client i
    NetDeviceContainer m_devices;                                        //!< every device made
    std::map<std::pair<uint32_t, uint32_t>, Ipv4Address> m_p2pAddresses; //!< (from, to) -> to's
    std::vector<Ipv4Address> m_wifiAddresses;                            //!< by client
    Usage m_usage;           //!< counted from the devices
    double m_p2pBitRate = 0; //!< bits per second of a link
};

} // namespace ns3

#endif // TADLORA_NETWORK_HELPER_H
