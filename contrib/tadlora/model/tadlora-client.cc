// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-client.h"

#include "tadlora-federation.h"
#include "tadlora-gossip-graph.h"
#include "tadlora-message.h"
#include "tadlora-mixing.h"

#include "ns3/inet-socket-address.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("TadLoraClient");
NS_OBJECT_ENSURE_REGISTERED(TadLoraClient);

namespace
{

/** Fragment header: magic, sender, message id, fragment index, fragment count. */
constexpr uint32_t kFragmentHeaderSize = 2 + 4 + 4 + 2 + 2;
constexpr uint16_t kFragmentMagic = 0x7444;

void
PutLe(std::vector<uint8_t>& out, uint64_t value, int bytes)
{
    for (int i = 0; i < bytes; ++i)
    {
        out.push_back(static_cast<uint8_t>(value >> (8 * i)));
    }
}

uint64_t
GetLe(const uint8_t* in, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i)
    {
        value |= static_cast<uint64_t>(in[i]) << (8 * i);
    }
    return value;
}

} // namespace

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
            .AddAttribute("Port", "UDP port every client listens on.", UintegerValue(9000),
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
                          "Time from the start of the exchange after which messages of the round "
                          "are no longer mixed (--round-deadline-s).",
                          TimeValue(Seconds(1)), MakeTimeAccessor(&TadLoraClient::m_roundDeadline),
                          MakeTimeChecker(MicroSeconds(1)))
            .AddAttribute("MaxPayloadSize",
                          "UDP payload of one fragment, its header included, in bytes.",
                          UintegerValue(1400), MakeUintegerAccessor(&TadLoraClient::m_maxPayload),
                          MakeUintegerChecker<uint32_t>(kFragmentHeaderSize + 1, 65507))
            .AddTraceSource("FactorSent", "A factor message was handed to the socket.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_sentTrace),
                            "ns3::TadLoraClient::MessageTracedCallback")
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
    , m_degree(0)
    , m_trainLoss(0)
    , m_nextMessageId(0)
{
    NS_LOG_FUNCTION(this);
}

TadLoraClient::~TadLoraClient()
{
    NS_LOG_FUNCTION(this);
}

void
TadLoraClient::Setup(tadlora::Federation* federation, std::shared_ptr<tadlora::GossipGraph> graph)
{
    m_federation = federation;
    m_graph = std::move(graph);
}

void
TadLoraClient::AddPeer(uint32_t peer, const Address& address)
{
    m_peers[peer] = address;
}

void
TadLoraClient::DoDispose()
{
    NS_LOG_FUNCTION(this);
    m_socket = nullptr;
    m_graph.reset();
    Application::DoDispose();
}

void
TadLoraClient::StartApplication()
{
    NS_LOG_FUNCTION(this);
    NS_ABORT_MSG_IF(m_federation == nullptr || !m_graph, "TadLoraClient: Setup() was not called");
    m_socket = Socket::CreateSocket(GetNode(), TypeId::LookupByName("ns3::UdpSocketFactory"));
    NS_ABORT_MSG_IF(m_socket->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port)) != 0,
                    "TadLoraClient: cannot bind port " << m_port);
    m_socket->SetRecvCallback(MakeCallback(&TadLoraClient::HandleRead, this));
    m_round = 0;
    m_event = Simulator::ScheduleNow(&TadLoraClient::StartRound, this);
}

void
TadLoraClient::StopApplication()
{
    NS_LOG_FUNCTION(this);
    Simulator::Cancel(m_event);
    if (m_socket)
    {
        m_socket->Close();
        m_socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
    }
}

void
TadLoraClient::StartRound()
{
    NS_LOG_FUNCTION(this << m_round);
    m_trainLoss = m_federation->Train(m_clientId, m_round);
    const Time compute = m_stepTime * static_cast<int64_t>(m_federation->Config().localSteps);
    m_event = Simulator::Schedule(compute, &TadLoraClient::SendFactors, this);
}

void
TadLoraClient::SendFactors()
{
    NS_LOG_FUNCTION(this << m_round);
    const std::vector<uint32_t> neighbours = m_graph->Neighbours(m_clientId, m_round);
    m_degree = static_cast<uint32_t>(neighbours.size());
    const uint32_t chunk = m_maxPayload - kFragmentHeaderSize;
    for (tadlora::Factor factor : m_federation->GetMethod().Plan(m_round).MixedFactors())
    {
        const std::vector<uint8_t> message =
            m_federation->Serialize(m_clientId, factor, m_round, m_degree);
        const auto fragments = static_cast<uint32_t>((message.size() + chunk - 1) / chunk);
        for (uint32_t peer : neighbours)
        {
            const uint32_t id = m_nextMessageId++;
            for (uint32_t f = 0; f < fragments; ++f)
            {
                std::vector<uint8_t> datagram;
                datagram.reserve(m_maxPayload);
                PutLe(datagram, kFragmentMagic, 2);
                PutLe(datagram, m_clientId, 4);
                PutLe(datagram, id, 4);
                PutLe(datagram, f, 2);
                PutLe(datagram, fragments, 2);
                const size_t begin = static_cast<size_t>(f) * chunk;
                const size_t end = std::min(message.size(), begin + chunk);
                datagram.insert(datagram.end(), message.begin() + begin, message.begin() + end);
                m_socket->SendTo(Create<Packet>(datagram.data(), datagram.size()), 0,
                                 m_peers.at(peer));
            }
            m_sentTrace(TadLoraMessageEvent{m_clientId, peer, m_round, factor,
                                            static_cast<uint32_t>(message.size()), fragments});
        }
    }
    m_event = Simulator::Schedule(m_roundDeadline, &TadLoraClient::FinishRound, this);
}

void
TadLoraClient::FinishRound()
{
    NS_LOG_FUNCTION(this << m_round);
    for (tadlora::Factor factor : m_federation->GetMethod().Plan(m_round).MixedFactors())
    {
        TadLoraMixEvent mix{m_clientId, m_round, factor, 1.0, {}};
        std::vector<tadlora::WeightedMessage> neighbours;
        // The inbox is ordered by (factor, sender): the mix does not depend on arrival order.
        for (const auto& [key, received] : m_inbox)
        {
            if (key.first != factor)
            {
                continue;
            }
            const double w = tadlora::MetropolisHastingsWeight(m_degree, received.senderDegree);
            neighbours.push_back({w, &received.message});
            mix.weights.emplace_back(key.second, w);
            mix.selfWeight -= w;
        }
        m_federation->Mix(m_clientId, factor, mix.selfWeight, neighbours);
        m_mixedTrace(mix);
    }
    m_inbox.clear();
    m_reassembly.clear();
    m_roundTrace(m_clientId, m_round, m_trainLoss);
    if (++m_round < m_rounds)
    {
        m_event = Simulator::ScheduleNow(&TadLoraClient::StartRound, this);
    }
}

void
TadLoraClient::HandleRead(Ptr<Socket> socket)
{
    Ptr<Packet> packet;
    Address from;
    while ((packet = socket->RecvFrom(from)))
    {
        std::vector<uint8_t> datagram(packet->GetSize());
        packet->CopyData(datagram.data(), datagram.size());
        if (datagram.size() <= kFragmentHeaderSize || GetLe(datagram.data(), 2) != kFragmentMagic)
        {
            NS_LOG_WARN("client " << m_clientId << ": dropped a datagram that is no fragment");
            continue;
        }
        const auto sender = static_cast<uint32_t>(GetLe(datagram.data() + 2, 4));
        const auto id = static_cast<uint32_t>(GetLe(datagram.data() + 6, 4));
        const auto index = static_cast<uint32_t>(GetLe(datagram.data() + 10, 2));
        const auto count = static_cast<uint32_t>(GetLe(datagram.data() + 12, 2));
        if (count == 0 || index >= count)
        {
            continue;
        }
        Reassembly& r = m_reassembly[{sender, id}];
        if (r.fragments.empty())
        {
            r.fragments.resize(count);
        }
        if (r.fragments.size() != count || !r.fragments[index].empty())
        {
            continue;
        }
        r.fragments[index].assign(datagram.begin() + kFragmentHeaderSize, datagram.end());
        if (++r.received == count)
        {
            std::vector<uint8_t> message;
            for (const auto& part : r.fragments)
            {
                message.insert(message.end(), part.begin(), part.end());
            }
            m_reassembly.erase({sender, id});
            Deliver(sender, std::move(message), count);
        }
    }
}

void
TadLoraClient::Deliver(uint32_t sender, std::vector<uint8_t> message, uint32_t fragments)
{
    TadLoraMessageEvent event{
        sender,   m_clientId, 0, tadlora::Factor::A, static_cast<uint32_t>(message.size()),
        fragments};
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
    event.round = decoded.header.round;
    event.factor = decoded.header.factor;
    // Only this round's exchange counts: a message from an earlier round missed its deadline.
    if (decoded.header.round != m_round || decoded.header.sender != sender)
    {
        m_rejectedTrace(event);
        return;
    }
    m_inbox[{decoded.header.factor, sender}] =
        Received{std::move(message), decoded.header.senderDegree};
    m_receivedTrace(event);
}

} // namespace ns3
