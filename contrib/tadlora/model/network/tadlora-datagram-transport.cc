// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-datagram-transport.h"

#include "ns3/inet-socket-address.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"

#include <algorithm>

namespace ns3
{

TadLoraDatagramTransport::TadLoraDatagramTransport(Ptr<Socket> socket, uint16_t port,
                                                   std::map<uint32_t, Address> peers,
                                                   DataRate sendRate)
    : m_socket(socket)
    , m_port(port)
    , m_peers(std::move(peers))
    , m_sendRate(sendRate)
{
}

void
TadLoraDatagramTransport::Send(uint64_t round, std::optional<uint32_t> peer, Ptr<Packet> record,
                               bool control)
{
    const Address to =
        peer ? m_peers.at(*peer) : Address(InetSocketAddress(Ipv4Address::GetBroadcast(), m_port));
    if (control)
    {
        m_queue.push_front(Queued{round, to, record});
    }
    else
    {
        m_queue.push_back(Queued{round, to, record});
    }
    if (!m_sendEvent.IsRunning())
    {
        SendNext();
    }
}

void
TadLoraDatagramTransport::SendNext()
{
    while (!m_queue.empty())
    {
        const Queued next = m_queue.front();
        m_queue.pop_front();
        m_socket->SendTo(next.packet, 0, next.to);
        if (m_sendRate.GetBitRate() != 0)
        {
            m_sendEvent =
                Simulator::Schedule(m_sendRate.CalculateBytesTxTime(next.packet->GetSize()),
                                    &TadLoraDatagramTransport::SendNext, this);
            return;
        }
    }
}

void
TadLoraDatagramTransport::DropUpTo(uint64_t round)
{
    m_queue.erase(std::remove_if(m_queue.begin(), m_queue.end(),
                                 [round](const Queued& q) { return q.round <= round; }),
                  m_queue.end());
}

void
TadLoraDatagramTransport::Stop()
{
    Simulator::Cancel(m_sendEvent);
    m_queue.clear();
}

} // namespace ns3
