// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_CORE_SWITCH_H
#define TADLORA_CORE_SWITCH_H

#include "ns3/ipv4-address.h"
#include "ns3/net-device.h"
#include "ns3/node.h"
#include "ns3/ptr.h"
#include "ns3/simple-ref-count.h"

#include <unordered_map>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief The shared core of paper mode's core layout: a node whose point-to-point devices are
 * the far ends of the clients' access links, forwarding each IPv4 packet out of the device
 * of the client it is addressed to, as a switch does (no IP stack, no TTL, one table lookup).
 *
 * An IP router with one interface per client would do the same with a cost per packet that
 * grows with the clients: ns-3's IPv4 checks every interface's addresses for every packet it
 * receives, and its static routing scans every route (at 500 clients that was a third of a
 * run's time). A packet for an address no client has is dropped.
 */
class TadLoraCoreSwitch : public SimpleRefCount<TadLoraCoreSwitch>
{
public:
    /** @param core the node whose devices this switch forwards between */
    explicit TadLoraCoreSwitch(Ptr<Node> core);

    /**
     * @brief Forward packets addressed to `address` out of `device`.
     * @param address a client's address
     * @param device the core's end of that client's access link
     */
    void AddPort(Ipv4Address address, Ptr<NetDevice> device);

private:
    /** @brief A node protocol handler for IPv4, on every device of the core. */
    void Receive(Ptr<NetDevice> device, Ptr<const Packet> packet, uint16_t protocol,
                 const Address& from, const Address& to, NetDevice::PacketType type);

    std::unordered_map<uint32_t, Ptr<NetDevice>> m_ports; //!< address -> device
};

} // namespace ns3

#endif // TADLORA_CORE_SWITCH_H
