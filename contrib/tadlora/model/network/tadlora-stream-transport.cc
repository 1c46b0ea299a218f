// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-stream-transport.h"

#include "tadlora-framing.h"

#include "ns3/abort.h"
#include "ns3/inet-socket-address.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/tcp-socket-factory.h"

namespace ns3
{

TadLoraStreamTransport::TadLoraStreamTransport(Ptr<Node> node, uint16_t port,
                                               std::map<uint32_t, Address> peers, uint8_t hopLimit,
                                               ReceiveCallback receive)
    : m_node(node)
    , m_peers(std::move(peers))
    , m_hopLimit(hopLimit)
    , m_receive(receive)
{
    m_listener = Socket::CreateSocket(m_node, TcpSocketFactory::GetTypeId());
    NS_ABORT_MSG_IF(m_listener->Bind(InetSocketAddress(Ipv4Address::GetAny(), port)) != 0,
                    "TadLoraClient: cannot bind TCP port " << port);
    m_listener->Listen();
    m_listener->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                                  MakeCallback(&TadLoraStreamTransport::HandleAccept, this));
}

void
TadLoraStreamTransport::Send(uint64_t, std::optional<uint32_t> peer, Ptr<Packet> record, bool)
{
    NS_ABORT_MSG_IF(!peer, "TadLoraStreamTransport: TCP cannot broadcast");
    Stream& stream = m_streams[*peer];
    if (!stream.socket)
    {
        Connect(*peer, stream);
    }
    std::vector<uint8_t> bytes(record->GetSize());
    record->CopyData(bytes.data(), bytes.size());
    AppendRecord(stream.pending, bytes.data(), static_cast<uint32_t>(bytes.size()));
    Flush(stream);
}

void
TadLoraStreamTransport::Connect(uint32_t peer, Stream& stream)
{
    const Ptr<Socket> socket = Socket::CreateSocket(m_node, TcpSocketFactory::GetTypeId());
    stream.socket = socket;
    if (m_hopLimit != 0)
    {
        socket->SetIpTtl(m_hopLimit);
    }
    const Callback<void, Ptr<Socket>> lost(
        [this, peer, socket](Ptr<Socket>)
        {
            // The connection failed or broke: what it held is lost, and the next record
            // dials again. Not from inside the socket's own callback, though.
            Simulator::ScheduleNow(
                [this, peer, socket]()
                {
                    auto it = m_streams.find(peer);
                    if (it != m_streams.end() && it->second.socket == socket)
                    {
                        m_streams.erase(it);
                    }
                });
        });
    socket->SetConnectCallback(Callback<void, Ptr<Socket>>(
                                   [this, peer](Ptr<Socket>)
                                   {
                                       Stream& s = m_streams[peer];
                                       s.connected = true;
                                       Flush(s);
                                   }),
                               lost);
    socket->SetCloseCallbacks(lost, lost);
    socket->SetSendCallback(Callback<void, Ptr<Socket>, uint32_t>(
        [this, peer](Ptr<Socket>, uint32_t) { Flush(m_streams[peer]); }));
    socket->Connect(m_peers.at(peer));
}

void
TadLoraStreamTransport::Flush(Stream& stream)
{
    size_t taken = 0;
    while (stream.connected && taken < stream.pending.size())
    {
        const uint32_t room = stream.socket->GetTxAvailable();
        const auto size =
            static_cast<uint32_t>(std::min<size_t>(room, stream.pending.size() - taken));
        if (size == 0 || stream.socket->Send(stream.pending.data() + taken, size, 0) <= 0)
        {
            break;
        }
        taken += size;
    }
    stream.pending.erase(stream.pending.begin(), stream.pending.begin() + taken);
}

void
TadLoraStreamTransport::HandleAccept(Ptr<Socket> socket, const Address&)
{
    socket->SetRecvCallback(MakeCallback(&TadLoraStreamTransport::HandleStream, this));
    m_in[socket];
}

void
TadLoraStreamTransport::HandleStream(Ptr<Socket> socket)
{
    std::vector<uint8_t>& bytes = m_in[socket];
    Ptr<Packet> packet;
    while ((packet = socket->Recv()))
    {
        const size_t at = bytes.size();
        bytes.resize(at + packet->GetSize());
        packet->CopyData(bytes.data() + at, packet->GetSize());
    }
    for (const std::vector<uint8_t>& record : CutRecords(bytes))
    {
        m_receive(record);
    }
}

void
TadLoraStreamTransport::DropUpTo(uint64_t)
{
    // What a connection has taken is on its way; nothing waits outside it.
}

void
TadLoraStreamTransport::Stop()
{
    m_listener->Close();
    for (auto& [peer, stream] : m_streams)
    {
        stream.socket->Close();
    }
    for (auto& [socket, bytes] : m_in)
    {
        socket->Close();
    }
}

} // namespace ns3
