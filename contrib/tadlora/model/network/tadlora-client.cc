// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-client.h"

#include "tadlora-federation.h"
#include "tadlora-gossip-graph.h"
#include "tadlora-message.h"
#include "tadlora-mixing.h"

#include "ns3/enum.h"
#include "ns3/inet-socket-address.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/tcp-socket-factory.h"
#include "ns3/udp-socket-factory.h"
#include "ns3/uinteger.h"

#include <algorithm>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("TadLoraClient");
NS_OBJECT_ENSURE_REGISTERED(TadLoraClient);

TypeId
TadLoraClient::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::TadLoraClient")
            .SetParent<Application>()
            .SetGroupName("TadLora")
            .AddConstructor<TadLoraClient>()
            .AddAttribute("ClientId", "This client's index in the federation.", UintegerValue(0),
                          MakeUintegerAccessor(&TadLoraClient::m_clientId),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("Port", "Port every client listens on.", UintegerValue(9000),
                          MakeUintegerAccessor(&TadLoraClient::m_port),
                          MakeUintegerChecker<uint16_t>(1))
            .AddAttribute("Rounds", "Number of rounds to run (--rounds).", UintegerValue(40),
                          MakeUintegerAccessor(&TadLoraClient::m_rounds),
                          MakeUintegerChecker<uint64_t>(1))
            .AddAttribute("StepTime",
                          "Simulated duration of one local optimizer step (--step-time-s).",
                          TimeValue(MilliSeconds(50)), MakeTimeAccessor(&TadLoraClient::m_stepTime),
                          MakeTimeChecker(Seconds(0)))
            .AddAttribute("RoundDeadline",
                          "Longest exchange phase: factors and acknowledgements that come later "
                          "do not count (--round-deadline-s).",
                          TimeValue(Seconds(1)), MakeTimeAccessor(&TadLoraClient::m_roundDeadline),
                          MakeTimeChecker(MicroSeconds(1)))
            .AddAttribute("ConfirmTimeout", "Longest confirmation phase (--confirm-timeout-s).",
                          TimeValue(MilliSeconds(200)),
                          MakeTimeAccessor(&TadLoraClient::m_confirmTimeout),
                          MakeTimeChecker(MicroSeconds(1)))
            .AddAttribute("Warmup",
                          "Time from the application's start to round 0 (--warmup-s): routes "
                          "converge and neighbours are discovered meanwhile.",
                          TimeValue(Seconds(0)), MakeTimeAccessor(&TadLoraClient::m_warmup),
                          MakeTimeChecker(Seconds(0)))
            .AddAttribute("BeaconInterval",
                          "Period of the one-hop neighbour-discovery beacon "
                          "(--beacon-interval-s); 0 turns discovery off and every neighbour "
                          "of the round is tried.",
                          TimeValue(Seconds(0)), MakeTimeAccessor(&TadLoraClient::m_beaconInterval),
                          MakeTimeChecker(Seconds(0)))
            .AddAttribute("ExchangeJitter",
                          "Longest random wait between the end of training and the exchange "
                          "(--exchange-jitter-s).",
                          TimeValue(MilliSeconds(10)),
                          MakeTimeAccessor(&TadLoraClient::m_exchangeJitter),
                          MakeTimeChecker(Seconds(0)))
            .AddAttribute("MaxPayloadSize",
                          "Bytes of one fragment record, its header included (--fragment-size).",
                          UintegerValue(1400), MakeUintegerAccessor(&TadLoraClient::m_maxPayload),
                          MakeUintegerChecker<uint32_t>(tadlora::FragmentHeader::kSize + 1, 65507))
            .AddAttribute("VirtualPayloadSize",
                          "Bytes a factor message occupies on the wire when that is more than "
                          "its real size; the rest is zero padding (--virtual-payload-bytes).",
                          UintegerValue(0), MakeUintegerAccessor(&TadLoraClient::m_virtualPayload),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("Transport", "How factor messages travel (--transport).", EnumValue(UDP),
                          MakeEnumAccessor(&TadLoraClient::m_transport),
                          MakeEnumChecker(UDP, "udp", BROADCAST, "broadcast", TCP, "tcp"))
            .AddAttribute("HopLimit",
                          "IP TTL of unicast records: the most hops a message may take "
                          "(--hop-limit); 0 keeps the IP default.",
                          UintegerValue(0), MakeUintegerAccessor(&TadLoraClient::m_hopLimit),
                          MakeUintegerChecker<uint8_t>())
            .AddAttribute("SendRate",
                          "Pace of UDP records leaving the client (--send-rate); 0 sends them "
                          "all at once.",
                          DataRateValue(DataRate(0)),
                          MakeDataRateAccessor(&TadLoraClient::m_sendRate), MakeDataRateChecker())
            .AddTraceSource("FactorSent", "A factor message was sent to a neighbour.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_sentTrace),
                            "ns3::TadLoraClient::MessageTracedCallback")
            .AddTraceSource("FragmentReceived",
                            "A fragment of a factor message reached the client it was meant for.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_fragmentTrace),
                            "ns3::TadLoraClient::FragmentTracedCallback")
            .AddTraceSource("FactorReceived", "A factor message arrived whole, intact and in time.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_receivedTrace),
                            "ns3::TadLoraClient::MessageTracedCallback")
            .AddTraceSource("FactorRejected",
                            "A reassembled message failed its checks or came too late.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_rejectedTrace),
                            "ns3::TadLoraClient::MessageTracedCallback")
            .AddTraceSource("FactorMixed", "A factor was mixed: one row of the realized W_t.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_mixedTrace),
                            "ns3::TadLoraClient::MixTracedCallback")
            .AddTraceSource("RoundCompleted",
                            "The client finished a round (trained, exchanged, mixed).",
                            MakeTraceSourceAccessor(&TadLoraClient::m_roundTrace),
                            "ns3::TadLoraClient::RoundTracedCallback");
    return tid;
}

TadLoraClient::TadLoraClient()
    : m_federation(nullptr)
    , m_round(0)
    , m_phase(Phase::Training)
    , m_trainLoss(0)
    , m_nextMessageId(0)
{
    NS_LOG_FUNCTION(this);
    m_jitter = CreateObject<UniformRandomVariable>();
}

TadLoraClient::~TadLoraClient()
{
    NS_LOG_FUNCTION(this);
}

void
TadLoraClient::Setup(tadlora::Federation* federation, std::shared_ptr<tadlora::GossipGraph> graph,
                     std::shared_ptr<TadLoraRoundBarrier> barrier)
{
    m_federation = federation;
    m_graph = std::move(graph);
    m_barrier = std::move(barrier);
    m_barrier->Join();
}

void
TadLoraClient::AddPeer(uint32_t peer, const Address& address)
{
    m_peers[peer] = address;
}

int64_t
TadLoraClient::AssignStreams(int64_t stream)
{
    m_jitter->SetStream(stream);
    return 1;
}

void
TadLoraClient::DoDispose()
{
    NS_LOG_FUNCTION(this);
    m_socket = nullptr;
    m_listener = nullptr;
    m_streams.clear();
    m_in.clear();
    m_queue.clear();
    m_graph.reset();
    m_barrier.reset();
    Application::DoDispose();
}

void
TadLoraClient::StartApplication()
{
    NS_LOG_FUNCTION(this);
    NS_ABORT_MSG_IF(m_federation == nullptr || !m_graph || !m_barrier,
                    "TadLoraClient: Setup() was not called");
    // UDP carries the records (unless TCP does) and the beacons.
    m_socket = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
    NS_ABORT_MSG_IF(m_socket->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port)) != 0,
                    "TadLoraClient: cannot bind UDP port " << m_port);
    m_socket->SetAllowBroadcast(true);
    m_socket->SetRecvCallback(MakeCallback(&TadLoraClient::HandleRead, this));
    if (m_hopLimit != 0)
    {
        m_socket->SetIpTtl(m_hopLimit);
    }
    if (m_transport == TCP)
    {
        m_listener = Socket::CreateSocket(GetNode(), TcpSocketFactory::GetTypeId());
        NS_ABORT_MSG_IF(m_listener->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port)) != 0,
                        "TadLoraClient: cannot bind TCP port " << m_port);
        m_listener->Listen();
        m_listener->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                                      MakeCallback(&TadLoraClient::HandleAccept, this));
    }
    m_round = 0;
    m_event = Simulator::Schedule(m_warmup, &TadLoraClient::StartRound, this);
    if (m_beaconInterval.IsStrictlyPositive())
    {
        m_beaconEvent =
            Simulator::Schedule(Seconds(m_jitter->GetValue(0, m_beaconInterval.GetSeconds())),
                                &TadLoraClient::SendBeacon, this);
    }
}

void
TadLoraClient::SendBeacon()
{
    const std::vector<uint8_t> hello =
        tadlora::EncodeControl({tadlora::RecordKind::Hello, m_clientId, m_round, 0});
    m_socket->SendTo(Create<Packet>(hello.data(), hello.size()), 0,
                     InetSocketAddress(Ipv4Address::GetBroadcast(), m_port));
    // A quarter of an interval of jitter keeps neighbours' beacons from colliding for ever.
    const double period = m_beaconInterval.GetSeconds();
    m_beaconEvent = Simulator::Schedule(Seconds(m_jitter->GetValue(0.75 * period, period)),
                                        &TadLoraClient::SendBeacon, this);
}

bool
TadLoraClient::InReach(uint32_t peer) const
{
    if (!m_beaconInterval.IsStrictlyPositive())
    {
        return true;
    }
    const auto heard = m_heard.find(peer);
    return heard != m_heard.end() && Simulator::Now() - heard->second <= 3 * m_beaconInterval;
}

void
TadLoraClient::StopApplication()
{
    NS_LOG_FUNCTION(this);
    Simulator::Cancel(m_event);
    Simulator::Cancel(m_sendEvent);
    Simulator::Cancel(m_beaconEvent);
    if (m_socket)
    {
        m_socket->Close();
        m_socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
    }
    if (m_listener)
    {
        m_listener->Close();
    }
    for (auto& [peer, stream] : m_streams)
    {
        stream.socket->Close();
    }
    for (auto& [socket, bytes] : m_in)
    {
        socket->Close();
    }
}

void
TadLoraClient::StartRound()
{
    NS_LOG_FUNCTION(this << m_round);
    m_phase = Phase::Training;
    m_trainLoss = m_federation->Train(m_clientId, m_round);
    const Time compute = m_stepTime * static_cast<int64_t>(m_federation->Config().localSteps);
    const Time jitter = Seconds(m_jitter->GetValue(0, m_exchangeJitter.GetSeconds()));
    m_event = Simulator::Schedule(compute + jitter, &TadLoraClient::StartExchange, this);
}

void
TadLoraClient::StartExchange()
{
    NS_LOG_FUNCTION(this << m_round);
    m_phase = Phase::Exchange;
    m_exchangeStart = Simulator::Now();
    m_neighbours.clear();
    for (uint32_t peer : m_graph->Neighbours(m_clientId, m_round))
    {
        NS_ABORT_MSG_IF(m_peers.count(peer) == 0,
                        "TadLoraClient " << m_clientId << ": no address for neighbour " << peer);
        if (InReach(peer))
        {
            m_neighbours.push_back(peer);
        }
    }
    const auto degree = static_cast<uint32_t>(m_neighbours.size());
    const uint32_t chunk = m_maxPayload - tadlora::FragmentHeader::kSize;
    for (tadlora::Factor factor : m_federation->GetMethod().Plan(m_round).MixedFactors())
    {
        if (m_neighbours.empty())
        {
            break;
        }
        const std::vector<uint8_t> message =
            m_federation->Serialize(m_clientId, factor, m_round, degree);
        const auto wireBytes =
            static_cast<uint32_t>(std::max<size_t>(message.size(), m_virtualPayload));
        tadlora::FragmentHeader header;
        header.sender = m_clientId;
        header.round = m_round;
        header.count = (wireBytes + chunk - 1) / chunk;
        header.messageBytes = static_cast<uint32_t>(message.size());
        // A broadcast is one message that every neighbour may hear; unicast is one per neighbour.
        const size_t copies = m_transport == BROADCAST ? 1 : m_neighbours.size();
        for (size_t copy = 0; copy < copies; ++copy)
        {
            header.messageId = m_nextMessageId++;
            for (header.index = 0; header.index < header.count; ++header.index)
            {
                std::vector<uint8_t> record = tadlora::EncodeFragmentHeader(header);
                const size_t begin = std::min<size_t>(message.size(), size_t{header.index} * chunk);
                const size_t end = std::min<size_t>(message.size(), begin + chunk);
                record.insert(record.end(), message.begin() + begin, message.begin() + end);
                const uint32_t padding =
                    std::min(chunk, wireBytes - header.index * chunk) - (end - begin);
                Ptr<Packet> packet = Create<Packet>(record.data(), record.size());
                packet->AddPaddingAtEnd(padding);
                Transmit(m_round,
                         m_transport == BROADCAST ? std::nullopt
                                                  : std::optional<uint32_t>(m_neighbours[copy]),
                         packet, false);
            }
            for (size_t k = 0; k < m_neighbours.size(); ++k)
            {
                if (m_transport == BROADCAST || k == copy)
                {
                    m_sentTrace(TadLoraMessageEvent{m_clientId, m_neighbours[k], m_round, factor,
                                                    header.messageId, wireBytes, header.count});
                }
            }
        }
    }
    m_event = Simulator::Schedule(m_roundDeadline, &TadLoraClient::EndExchange, this);
    CheckExchange();
}

bool
TadLoraClient::HasAllFactors(uint64_t round, uint32_t neighbour)
{
    const Inbox& inbox = m_inbox[round];
    for (tadlora::Factor factor : m_federation->GetMethod().Plan(round).MixedFactors())
    {
        if (inbox.factors.count({factor, neighbour}) == 0)
        {
            return false;
        }
    }
    return true;
}

bool
TadLoraClient::Exchanged(uint32_t neighbour)
{
    return HasAllFactors(m_round, neighbour) && m_inbox[m_round].acks.count(neighbour) != 0;
}

bool
TadLoraClient::IsNeighbour(uint64_t round, uint32_t peer)
{
    const std::vector<uint32_t>& neighbours = m_graph->Neighbours(m_clientId, round);
    return std::binary_search(neighbours.begin(), neighbours.end(), peer);
}

void
TadLoraClient::CheckExchange()
{
    if (m_phase != Phase::Exchange)
    {
        return;
    }
    for (uint32_t j : m_neighbours)
    {
        if (!Exchanged(j))
        {
            return;
        }
    }
    Simulator::Cancel(m_event);
    m_event = Simulator::ScheduleNow(&TadLoraClient::EndExchange, this);
}

void
TadLoraClient::EndExchange()
{
    NS_LOG_FUNCTION(this << m_round);
    m_phase = Phase::Confirm;
    m_confirmed.clear();
    for (uint32_t j : m_neighbours)
    {
        if (Exchanged(j))
        {
            m_confirmed.push_back(j);
        }
    }
    const auto degree = static_cast<uint32_t>(m_confirmed.size());
    for (uint32_t j : m_confirmed)
    {
        const std::vector<uint8_t> record =
            tadlora::EncodeControl({tadlora::RecordKind::Confirm, m_clientId, m_round, degree});
        Transmit(m_round, j, Create<Packet>(record.data(), record.size()), true);
    }
    // A neighbour may still be exchanging until its own deadline: wait for its confirmation
    // until then, and ConfirmTimeout more for the confirmation to travel.
    const Time exchangeLeft = Max(m_exchangeStart + m_roundDeadline - Simulator::Now(), Time(0));
    m_event =
        Simulator::Schedule(exchangeLeft + m_confirmTimeout, &TadLoraClient::FinishRound, this);
    CheckConfirm();
}

void
TadLoraClient::CheckConfirm()
{
    if (m_phase != Phase::Confirm)
    {
        return;
    }
    for (uint32_t j : m_confirmed)
    {
        if (m_inbox[m_round].confirmations.count(j) == 0)
        {
            return;
        }
    }
    Simulator::Cancel(m_event);
    m_event = Simulator::ScheduleNow(&TadLoraClient::FinishRound, this);
}

void
TadLoraClient::FinishRound()
{
    NS_LOG_FUNCTION(this << m_round);
    Inbox& inbox = m_inbox[m_round];
    const auto degree = static_cast<uint32_t>(m_confirmed.size());
    for (tadlora::Factor factor : m_federation->GetMethod().Plan(m_round).MixedFactors())
    {
        TadLoraMixEvent mix{m_clientId, m_round, factor, 1.0, {}};
        std::vector<tadlora::WeightedMessage> neighbours;
        for (uint32_t j : m_confirmed)
        {
            const auto confirmation = inbox.confirmations.find(j);
            if (confirmation == inbox.confirmations.end())
            {
                continue; // the link is confirmed on this side only: not mixed here
            }
            const double w = tadlora::MetropolisHastingsWeight(degree, confirmation->second);
            neighbours.push_back({w, &inbox.factors.at({factor, j})});
            mix.weights.emplace_back(j, w);
            mix.selfWeight -= w;
        }
        m_federation->Mix(m_clientId, factor, mix.selfWeight, neighbours);
        m_mixedTrace(mix);
    }
    m_federation->EndRound(m_clientId, m_round);
    // Whatever belongs to this round or earlier is stale now.
    m_inbox.erase(m_inbox.begin(), m_inbox.upper_bound(m_round));
    for (auto it = m_reassembly.begin(); it != m_reassembly.end();)
    {
        it = it->second.round <= m_round ? m_reassembly.erase(it) : std::next(it);
    }
    m_queue.erase(std::remove_if(m_queue.begin(), m_queue.end(),
                                 [this](const Queued& q) { return q.round <= m_round; }),
                  m_queue.end());
    m_roundTrace(m_clientId, m_round, m_trainLoss);
    if (++m_round < m_rounds)
    {
        m_barrier->Arrive([this]() { StartRound(); });
    }
    else
    {
        Simulator::Cancel(m_beaconEvent); // done: nothing left to discover neighbours for
    }
}

void
TadLoraClient::Transmit(uint64_t round, std::optional<uint32_t> peer, Ptr<Packet> record,
                        bool control)
{
    if (m_transport == TCP)
    {
        NS_ASSERT(peer);
        Stream& stream = m_streams[*peer];
        if (!stream.socket)
        {
            stream.socket = Socket::CreateSocket(GetNode(), TcpSocketFactory::GetTypeId());
            if (m_hopLimit != 0)
            {
                stream.socket->SetIpTtl(m_hopLimit);
            }
            const uint32_t to = *peer;
            const Ptr<Socket> socket = stream.socket;
            const Callback<void, Ptr<Socket>> lost(
                [this, to, socket](Ptr<Socket>)
                {
                    // The connection failed or broke: what it held is lost, and the next record
                    // redials. Not from inside the socket's own callback, though.
                    Simulator::ScheduleNow(
                        [this, to, socket]()
                        {
                            auto it = m_streams.find(to);
                            if (it != m_streams.end() && it->second.socket == socket)
                            {
                                m_streams.erase(it);
                            }
                        });
                });
            stream.socket->SetConnectCallback(Callback<void, Ptr<Socket>>(
                                                  [this, to](Ptr<Socket>)
                                                  {
                                                      Stream& s = m_streams[to];
                                                      s.connected = true;
                                                      Flush(s);
                                                  }),
                                              lost);
            stream.socket->SetCloseCallbacks(lost, lost);
            stream.socket->SetSendCallback(Callback<void, Ptr<Socket>, uint32_t>(
                [this, to](Ptr<Socket>, uint32_t) { Flush(m_streams[to]); }));
            stream.socket->Connect(m_peers.at(to));
        }
        const uint32_t size = record->GetSize();
        const size_t at = stream.pending.size();
        stream.pending.resize(at + 4 + size);
        for (int i = 0; i < 4; ++i)
        {
            stream.pending[at + i] = static_cast<uint8_t>(size >> (8 * i));
        }
        record->CopyData(stream.pending.data() + at + 4, size);
        Flush(stream);
        return;
    }
    const Address to =
        peer ? m_peers.at(*peer) : Address(InetSocketAddress(Ipv4Address::GetBroadcast(), m_port));
    // Acknowledgements and confirmations are small and gate whole rounds: they go first.
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
TadLoraClient::SendNext()
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
                                    &TadLoraClient::SendNext, this);
            return;
        }
    }
}

void
TadLoraClient::Flush(Stream& stream)
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
TadLoraClient::HandleRead(Ptr<Socket> socket)
{
    Ptr<Packet> packet;
    Address from;
    while ((packet = socket->RecvFrom(from)))
    {
        std::vector<uint8_t> record(packet->GetSize());
        packet->CopyData(record.data(), record.size());
        HandleRecord(record);
    }
}

void
TadLoraClient::HandleAccept(Ptr<Socket> socket, const Address&)
{
    socket->SetRecvCallback(MakeCallback(&TadLoraClient::HandleStream, this));
    m_in[socket];
}

void
TadLoraClient::HandleStream(Ptr<Socket> socket)
{
    std::vector<uint8_t>& bytes = m_in[socket];
    Ptr<Packet> packet;
    while ((packet = socket->Recv()))
    {
        const size_t at = bytes.size();
        bytes.resize(at + packet->GetSize());
        packet->CopyData(bytes.data() + at, packet->GetSize());
    }
    size_t used = 0;
    while (bytes.size() - used >= 4)
    {
        uint32_t size = 0;
        for (int i = 0; i < 4; ++i)
        {
            size |= static_cast<uint32_t>(bytes[used + i]) << (8 * i);
        }
        if (bytes.size() - used - 4 < size)
        {
            break;
        }
        HandleRecord(
            std::vector<uint8_t>(bytes.begin() + used + 4, bytes.begin() + used + 4 + size));
        used += 4 + size;
    }
    bytes.erase(bytes.begin(), bytes.begin() + used);
}

void
TadLoraClient::HandleRecord(const std::vector<uint8_t>& record)
{
    try
    {
        if (tadlora::KindOf(record) == tadlora::RecordKind::Fragment)
        {
            HandleFragment(record);
        }
        else
        {
            HandleControl(record);
        }
    }
    catch (const tadlora::MessageError& e)
    {
        NS_LOG_WARN("client " << m_clientId << ": dropped a record: " << e.what());
    }
}

void
TadLoraClient::HandleFragment(const std::vector<uint8_t>& record)
{
    const tadlora::FragmentHeader header = tadlora::DecodeFragmentHeader(record);
    if (record.size() == tadlora::FragmentHeader::kSize)
    {
        throw tadlora::MessageError("empty fragment");
    }
    // A round already mixed takes nothing more; a broadcast overheard by others is not theirs.
    if (header.round < m_round || header.sender == m_clientId ||
        !IsNeighbour(header.round, header.sender))
    {
        return;
    }
    m_fragmentTrace(header.sender, m_clientId, header.messageId);
    Reassembly& r = m_reassembly[{header.sender, header.messageId}];
    if (r.fragments.empty())
    {
        r.round = header.round;
        r.messageBytes = header.messageBytes;
        r.fragments.resize(header.count);
    }
    if (r.fragments.size() != header.count || r.round != header.round ||
        r.received == header.count || !r.fragments[header.index].empty())
    {
        return;
    }
    r.fragments[header.index].assign(record.begin() + tadlora::FragmentHeader::kSize, record.end());
    if (++r.received == header.count)
    {
        Deliver(r, header.sender, header.messageId);
        m_reassembly.erase({header.sender, header.messageId});
    }
}

void
TadLoraClient::Deliver(const Reassembly& reassembly, uint32_t sender, uint32_t messageId)
{
    std::vector<uint8_t> message;
    for (const auto& part : reassembly.fragments)
    {
        message.insert(message.end(), part.begin(), part.end());
    }
    TadLoraMessageEvent event{sender,
                              m_clientId,
                              reassembly.round,
                              tadlora::Factor::A,
                              messageId,
                              static_cast<uint32_t>(message.size()),
                              static_cast<uint32_t>(reassembly.fragments.size())};
    if (message.size() < reassembly.messageBytes)
    {
        NS_LOG_WARN("client " << m_clientId << ": a message from " << sender << " is short");
        m_rejectedTrace(event);
        return;
    }
    message.resize(reassembly.messageBytes); // drop the virtual padding
    tadlora::DecodedMessage decoded;
    try
    {
        decoded = tadlora::DecodeMessage(message);
    }
    catch (const tadlora::MessageError& e)
    {
        NS_LOG_WARN("client " << m_clientId << ": rejected a message from " << sender << ": "
                              << e.what());
        m_rejectedTrace(event);
        return;
    }
    event.factor = decoded.header.factor;
    const uint64_t round = decoded.header.round;
    // A message of the current round counts only until its exchange ends.
    const bool late = round < m_round || (round == m_round && m_phase == Phase::Confirm);
    if (late || round != reassembly.round || decoded.header.sender != sender)
    {
        m_rejectedTrace(event);
        return;
    }
    m_inbox[round].factors[{decoded.header.factor, sender}] = std::move(message);
    m_receivedTrace(event);
    if (HasAllFactors(round, sender))
    {
        const std::vector<uint8_t> ack =
            tadlora::EncodeControl({tadlora::RecordKind::Ack, m_clientId, round, 0});
        Transmit(round, sender, Create<Packet>(ack.data(), ack.size()), true);
    }
    if (round == m_round)
    {
        CheckExchange();
    }
}

void
TadLoraClient::HandleControl(const std::vector<uint8_t>& record)
{
    const tadlora::ControlRecord control = tadlora::DecodeControl(record);
    if (control.kind == tadlora::RecordKind::Hello)
    {
        if (control.sender != m_clientId)
        {
            m_heard[control.sender] = Simulator::Now();
        }
        return;
    }
    if (control.round < m_round || !IsNeighbour(control.round, control.sender))
    {
        return;
    }
    Inbox& inbox = m_inbox[control.round];
    if (control.kind == tadlora::RecordKind::Ack)
    {
        inbox.acks.insert(control.sender);
    }
    else
    {
        inbox.confirmations[control.sender] = control.degree;
    }
    if (control.round == m_round)
    {
        CheckExchange();
        CheckConfirm();
    }
}

} // namespace ns3
