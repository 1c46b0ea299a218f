// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-discovery.h"

#include "tadlora-message.h"

#include "ns3/inet-socket-address.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"

namespace ns3
{

TadLoraDiscovery::TadLoraDiscovery(uint32_t client, Time interval)
    : m_client(client)
    , m_interval(interval)
{
}

void
TadLoraDiscovery::Start(Ptr<Socket> socket, uint16_t port, Ptr<UniformRandomVariable> random,
                        std::function<uint64_t()> round)
{
    if (!m_interval.IsStrictlyPositive())
    {
        return;
    }
    m_socket = socket;
    m_port = port;
    m_random = random;
    m_round = std::move(round);
    m_event = Simulator::Schedule(Seconds(m_random->GetValue(0, m_interval.GetSeconds())),
                                  &TadLoraDiscovery::SendBeacon, this);
}

void
TadLoraDiscovery::Stop()
{
    Simulator::Cancel(m_event);
}

void
TadLoraDiscovery::SendBeacon()
{
    const std::vector<uint8_t> hello =
        tadlora::EncodeControl({tadlora::RecordKind::Hello, m_client, m_round(), 0});
    m_socket->SendTo(Create<Packet>(hello.data(), hello.size()), 0,
                     InetSocketAddress(Ipv4Address::GetBroadcast(), m_port));
    const double period = m_interval.GetSeconds();
    m_event = Simulator::Schedule(Seconds(m_random->GetValue(0.75 * period, period)),
                                  &TadLoraDiscovery::SendBeacon, this);
}

void
TadLoraDiscovery::Heard(uint32_t peer)
{
    if (peer != m_client)
    {
        m_heard[peer] = Simulator::Now();
    }
}

bool
TadLoraDiscovery::InReach(uint32_t peer) const
{
    if (!m_interval.IsStrictlyPositive())
    {
        return true;
    }
    const auto heard = m_heard.find(peer);
    return heard != m_heard.end() && Simulator::Now() - heard->second <= 3 * m_interval;
}

} // namespace ns3
