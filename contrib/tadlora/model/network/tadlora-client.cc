// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-client.h"

#include "tadlora-datagram-transport.h"
#include "tadlora-gossip-graph.h"
#include "tadlora-learner.h"
#include "tadlora-mixing.h"
#include "tadlora-stream-transport.h"

#include "ns3/double.h"
#include "ns3/enum.h"
#include "ns3/inet-socket-address.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
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
            .AddAttribute("Rounds", "Number of rounds to run (--rounds).", UintegerValue(30),
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
                          TimeValue(Seconds(10)), MakeTimeAccessor(&TadLoraClient::m_warmup),
                          MakeTimeChecker(Seconds(0)))
            .AddAttribute("BeaconInterval",
                          "Period of the one-hop neighbour-discovery beacon "
                          "(--beacon-interval-s); 0 turns discovery off and every neighbour "
                          "of the round is tried.",
                          TimeValue(Seconds(1)), MakeTimeAccessor(&TadLoraClient::m_beaconInterval),
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
                          MakeEnumAccessor(&TadLoraClient::m_transportKind),
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
            .AddAttribute("FaultCorruptProbability",
                          "Fault injection: the probability that a fragment received by the "
                          "client it is meant for has one byte of its payload corrupted "
                          "(--fault-corrupt-prob).",
                          DoubleValue(0), MakeDoubleAccessor(&TadLoraClient::m_corruptProbability),
                          MakeDoubleChecker<double>(0, 1))
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
                            "A reassembled message was refused (tadlora::Rejection says why): "
                            "short, malformed, corrupted, of another version or shape, holding "
                            "non-finite or too large values, mismatched, or late.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_rejectedTrace),
                            "ns3::TadLoraClient::RejectedTracedCallback")
            .AddTraceSource("FactorMixed", "A factor was mixed: one row of the realized W_t.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_mixedTrace),
                            "ns3::TadLoraClient::MixTracedCallback")
            .AddTraceSource("ExchangeMissed",
                            "The client's training ended more than RoundDeadline after the "
                            "round's exchange opened: it sends and mixes nothing that round.",
                            MakeTraceSourceAccessor(&TadLoraClient::m_missedTrace),
                            "ns3::TadLoraClient::ClientRoundTracedCallback")
            .AddTraceSource("RoundCompleted",
                            "The client finished a round (trained, exchanged, mixed).",
                            MakeTraceSourceAccessor(&TadLoraClient::m_roundTrace),
                            "ns3::TadLoraClient::RoundTracedCallback");
    return tid;
}

TadLoraClient::TadLoraClient()
    : m_corruptProbability(0)
    , m_learner(nullptr)
    , m_round(0)
    , m_phase(Phase::Training)
    , m_trainLoss(0)
    , m_nextMessageId(0)
{
    NS_LOG_FUNCTION(this);
    m_jitter = CreateObject<UniformRandomVariable>();
    m_corrupt = CreateObject<UniformRandomVariable>();
}

TadLoraClient::~TadLoraClient()
{
    NS_LOG_FUNCTION(this);
}

void
TadLoraClient::Setup(tadlora::Learner* learner, std::shared_ptr<tadlora::GossipGraph> graph,
                     std::shared_ptr<TadLoraRoundBarrier> barrier)
{
    m_learner = learner;
    m_graph = std::move(graph);
    m_barrier = std::move(barrier);
    m_barrier->Join();
    m_inbox = std::make_unique<TadLoraInbox>(*learner);
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
    if (m_corruptProbability == 0)
    {
        return 1; // the streams of a run without faults stay where they were
    }
    m_corrupt->SetStream(stream + 1);
    return 2;
}

void
TadLoraClient::DoDispose()
{
    NS_LOG_FUNCTION(this);
    m_socket = nullptr;
    m_transport.reset();
    m_discovery.reset();
    m_graph.reset();
    m_barrier.reset();
    Application::DoDispose();
}

void
TadLoraClient::StartApplication()
{
    NS_LOG_FUNCTION(this);
    NS_ABORT_MSG_IF(m_learner == nullptr || !m_graph || !m_barrier,
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
    if (m_transportKind == TCP)
    {
        m_transport = std::make_unique<TadLoraStreamTransport>(
            GetNode(), m_port, m_peers, m_hopLimit,
            MakeCallback(&TadLoraClient::HandleRecord, this));
    }
    else
    {
        m_transport =
            std::make_unique<TadLoraDatagramTransport>(m_socket, m_port, m_peers, m_sendRate);
    }
    m_round = 0;
    m_event = Simulator::Schedule(m_warmup, &TadLoraClient::StartRound, this);
    m_discovery = std::make_unique<TadLoraDiscovery>(m_clientId, m_beaconInterval);
    m_discovery->Start(m_socket, m_port, m_jitter, [this]() { return m_round; });
}

void
TadLoraClient::StopApplication()
{
    NS_LOG_FUNCTION(this);
    Simulator::Cancel(m_event);
    if (m_discovery)
    {
        m_discovery->Stop();
    }
    if (m_socket)
    {
        m_socket->Close();
        m_socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
    }
    if (m_transport)
    {
        m_transport->Stop();
    }
}

void
TadLoraClient::StartRound()
{
    NS_LOG_FUNCTION(this << m_round);
    m_phase = Phase::Training;
    m_trainLoss = m_learner->Train(m_clientId, m_round);
    const Time compute = m_stepTime * static_cast<int64_t>(m_learner->LocalSteps());
    m_trainingEnd = Simulator::Now() + compute;
    const Time jitter = Seconds(m_jitter->GetValue(0, m_exchangeJitter.GetSeconds()));
    m_event = Simulator::Schedule(compute + jitter, &TadLoraClient::StartExchange, this);
}

void
TadLoraClient::StartExchange()
{
    NS_LOG_FUNCTION(this << m_round);
    m_neighbours.clear();
    m_confirmed.clear();
    if (m_trainingEnd > m_barrier->OpenExchange() + m_roundDeadline)
    {
        NS_LOG_LOGIC("client " << m_clientId << " trained too late for round " << m_round);
        m_missedTrace(m_clientId, m_round);
        FinishRound();
        return;
    }
    m_phase = Phase::Exchange;
    m_exchangeStart = Simulator::Now();
    for (uint32_t peer : m_graph->Neighbours(m_clientId, m_round))
    {
        NS_ABORT_MSG_IF(m_peers.count(peer) == 0,
                        "TadLoraClient " << m_clientId << ": no address for neighbour " << peer);
        if (m_discovery->InReach(peer))
        {
            m_neighbours.push_back(peer);
        }
    }
    for (tadlora::Factor factor : m_learner->MixedFactors(m_round))
    {
        if (m_neighbours.empty())
        {
            break;
        }
        const std::vector<uint8_t> message = m_learner->Serialize(m_clientId, factor, m_round);
        const auto wireBytes =
            static_cast<uint32_t>(std::max<size_t>(message.size(), m_virtualPayload));
        // A broadcast is one message that every neighbour may hear; unicast is one per neighbour.
        const bool broadcast = m_transportKind == BROADCAST;
        for (size_t copy = 0; copy < (broadcast ? 1 : m_neighbours.size()); ++copy)
        {
            const std::optional<uint32_t> to =
                broadcast ? std::nullopt : std::optional<uint32_t>(m_neighbours[copy]);
            tadlora::FragmentHeader header;
            header.sender = m_clientId;
            header.round = m_round;
            header.messageId = m_nextMessageId++;
            const uint32_t fragments = m_transport->SendMessage(m_round, to, message, header,
                                                                m_maxPayload, m_virtualPayload);
            for (uint32_t j : m_neighbours)
            {
                if (!to || j == *to)
                {
                    m_sentTrace(TadLoraMessageEvent{m_clientId, j, m_round, factor,
                                                    header.messageId, wireBytes, fragments});
                }
            }
        }
    }
    m_event = Simulator::Schedule(m_roundDeadline, &TadLoraClient::EndExchange, this);
    CheckExchange();
}

bool
TadLoraClient::Exchanged(uint32_t neighbour) const
{
    return m_inbox->HasFactors(m_round, neighbour) && m_inbox->HasAck(m_round, neighbour);
}

bool
TadLoraClient::IsNeighbour(uint64_t round, uint32_t peer) const
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
        SendControl(tadlora::RecordKind::Confirm, m_round, j, degree);
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
        if (!m_inbox->Confirmation(m_round, j))
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
    const auto degree = static_cast<uint32_t>(m_confirmed.size());
    for (tadlora::Factor factor : m_learner->MixedFactors(m_round))
    {
        TadLoraMixEvent mix{m_clientId, m_round, factor, 1.0, {}};
        std::vector<tadlora::WeightedFactor> neighbours;
        for (uint32_t j : m_confirmed)
        {
            const std::optional<uint32_t> confirmation = m_inbox->Confirmation(m_round, j);
            if (!confirmation)
            {
                continue; // the link is confirmed on this side only: not mixed here
            }
            const double w = tadlora::MetropolisHastingsWeight(degree, *confirmation);
            neighbours.push_back({w, &m_inbox->Factor(m_round, factor, j)});
            mix.weights.emplace_back(j, w);
            mix.selfWeight -= w;
        }
        m_learner->Mix(m_clientId, factor, mix.selfWeight, neighbours);
        m_mixedTrace(mix);
    }
    m_learner->EndRound(m_clientId, m_round);
    // Whatever belongs to this round or earlier is stale now.
    m_inbox->DropUpTo(m_round);
    m_transport->DropUpTo(m_round);
    m_roundTrace(m_clientId, m_round, m_trainLoss);
    if (++m_round < m_rounds)
    {
        m_barrier->Arrive([this]() { StartRound(); });
    }
    else
    {
        m_discovery->Stop(); // done: nothing left to discover neighbours for
    }
}

void
TadLoraClient::SendControl(tadlora::RecordKind kind, uint64_t round, uint32_t peer, uint32_t degree)
{
    const std::vector<uint8_t> record = tadlora::EncodeControl({kind, m_clientId, round, degree});
    m_transport->Send(round, peer, Create<Packet>(record.data(), record.size()), true);
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
        throw tadlora::MessageError(tadlora::Rejection::Malformed, "empty fragment");
    }
    // A round already mixed takes nothing more; a broadcast overheard by others is not theirs.
    if (header.round < m_round || header.sender == m_clientId ||
        !IsNeighbour(header.round, header.sender))
    {
        return;
    }
    m_fragmentTrace(header.sender, m_clientId, header.messageId);
    const uint8_t* data = record.data() + tadlora::FragmentHeader::kSize;
    const size_t size = record.size() - tadlora::FragmentHeader::kSize;
    std::vector<uint8_t> corrupted;
    if (m_corruptProbability > 0 && m_corrupt->GetValue() < m_corruptProbability)
    {
        // Fault injection: one byte of the payload gets a random non-zero XOR.
        corrupted.assign(data, data + size);
        corrupted[m_corrupt->GetInteger(0, size - 1)] ^= m_corrupt->GetInteger(1, 255);
        data = corrupted.data();
    }
    // The current round takes factors until its exchange ends.
    const uint64_t open = m_phase == Phase::Confirm ? m_round + 1 : m_round;
    const std::optional<TadLoraInbox::Delivery> delivery =
        m_inbox->AddFragment(header, data, size, open);
    if (!delivery)
    {
        return;
    }
    const TadLoraMessageEvent event{delivery->sender,   m_clientId,          delivery->round,
                                    delivery->factor,   delivery->messageId, delivery->wireBytes,
                                    delivery->fragments};
    if (delivery->rejection)
    {
        NS_LOG_LOGIC("client " << m_clientId << ": refused a message from " << delivery->sender
                               << ": " << tadlora::RejectionName(*delivery->rejection) << " "
                               << delivery->why);
        m_rejectedTrace(event, *delivery->rejection);
        return;
    }
    m_receivedTrace(event);
    if (m_inbox->HasFactors(delivery->round, delivery->sender))
    {
        SendControl(tadlora::RecordKind::Ack, delivery->round, delivery->sender, 0);
    }
    if (delivery->round == m_round)
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
        m_discovery->Heard(control.sender);
        return;
    }
    if (control.round < m_round || !IsNeighbour(control.round, control.sender))
    {
        return;
    }
    if (control.kind == tadlora::RecordKind::Ack)
    {
        m_inbox->AddAck(control.round, control.sender);
    }
    else
    {
        m_inbox->AddConfirmation(control.round, control.sender, control.degree);
    }
    if (control.round == m_round)
    {
        CheckExchange();
        CheckConfirm();
    }
}

} // namespace ns3
