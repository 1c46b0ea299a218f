// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-core-switch.h"

#include "ns3/ipv4-header.h"
#include "ns3/packet.h"

namespace ns3
{

namespace
{
constexpr uint16_t kIpv4 = 0x0800; //!< the EtherType of IPv4
} // namespace

TadLoraCoreSwitch::TadLoraCoreSwitch(Ptr<Node> core)
{
    core->RegisterProtocolHandler(MakeCallback(&TadLoraCoreSwitch::Receive, this), kIpv4, nullptr);
}

void
TadLoraCoreSwitch::AddPort(Ipv4Address address, Ptr<NetDevice> device)
{
    m_ports[address.Get()] = device;
}

void
TadLoraCoreSwitch::Receive(Ptr<NetDevice>, Ptr<const Packet> packet, uint16_t protocol,
                           const Address&, const Address&, NetDevice::PacketType)
{
    Ipv4Header header;
    packet->PeekHeader(header);
    const auto port = m_ports.find(header.GetDestination().Get());
    if (port != m_ports.end())
    {
        port->second->Send(packet->Copy(), port->second->GetBroadcast(), protocol);
    }
}

} // namespace ns3
