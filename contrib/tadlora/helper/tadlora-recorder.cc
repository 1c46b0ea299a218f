// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-recorder.h"

#include "tadlora-csv.h"
#include "tadlora-gossip-graph.h"
#include "tadlora-mixing.h"

#include "ns3/simulator.h"

#include <algorithm>

namespace ns3
{

namespace
{

const char*
FactorName(tadlora::Factor factor)
{
    return factor == tadlora::Factor::A ? "A" : "B";
}

/** A network.csv row: one round, as the network saw it. */
struct NetworkRow
{
    uint64_t round;
    double simTime;
    double roundTime;
    size_t activeEdges;
    size_t attemptedEdges;
    uint64_t confirmedEdges;
    uint64_t oneSidedEdges;
    uint64_t msgsSent;
    uint64_t msgsDelivered;
    uint64_t fragmentsSent;
    uint64_t fragmentsLost;
    double columnSumDeviation;
    uint64_t bytesOnAir;
    double airtime;
    double meanLatency;
    uint32_t missedExchanges;
};

const TadLoraColumns<NetworkRow> kNetworkColumns{
    {"round", [](std::ostream& o, const NetworkRow& r) { o << r.round; }},
    {"sim_time_s", [](std::ostream& o, const NetworkRow& r) { o << r.simTime; }},
    {"round_time_s", [](std::ostream& o, const NetworkRow& r) { o << r.roundTime; }},
    {"active_edges", [](std::ostream& o, const NetworkRow& r) { o << r.activeEdges; }},
    {"attempted_edges", [](std::ostream& o, const NetworkRow& r) { o << r.attemptedEdges; }},
    {"confirmed_edges", [](std::ostream& o, const NetworkRow& r) { o << r.confirmedEdges; }},
    {"one_sided_edges", [](std::ostream& o, const NetworkRow& r) { o << r.oneSidedEdges; }},
    {"msgs_sent", [](std::ostream& o, const NetworkRow& r) { o << r.msgsSent; }},
    {"msgs_delivered", [](std::ostream& o, const NetworkRow& r) { o << r.msgsDelivered; }},
    {"fragments_sent", [](std::ostream& o, const NetworkRow& r) { o << r.fragmentsSent; }},
    {"fragments_lost", [](std::ostream& o, const NetworkRow& r) { o << r.fragmentsLost; }},
    {"w_colsum_dev", [](std::ostream& o, const NetworkRow& r) { o << r.columnSumDeviation; }},
    {"bytes_on_air", [](std::ostream& o, const NetworkRow& r) { o << r.bytesOnAir; }},
    {"airtime_s", [](std::ostream& o, const NetworkRow& r) { o << r.airtime; }},
    {"mean_latency_s", [](std::ostream& o, const NetworkRow& r) { o << r.meanLatency; }},
    {"missed_exchanges", [](std::ostream& o, const NetworkRow& r) { o << r.missedExchanges; }},
};

/** A messages.csv row: one message to one receiver. */
struct MessageRow
{
    uint64_t round;
    tadlora::Factor factor;
    uint32_t sender;
    uint32_t receiver;
    uint32_t messageId;
    uint32_t bytes;
    uint32_t fragments;
    uint32_t fragmentsReceived;
    double sentTime;
    bool delivered;
    double latency;
    std::optional<tadlora::Rejection> rejection;
};

const TadLoraColumns<MessageRow> kMessageColumns{
    {"round", [](std::ostream& o, const MessageRow& r) { o << r.round; }},
    {"factor", [](std::ostream& o, const MessageRow& r) { o << FactorName(r.factor); }},
    {"sender", [](std::ostream& o, const MessageRow& r) { o << r.sender; }},
    {"receiver", [](std::ostream& o, const MessageRow& r) { o << r.receiver; }},
    {"message_id", [](std::ostream& o, const MessageRow& r) { o << r.messageId; }},
    {"bytes", [](std::ostream& o, const MessageRow& r) { o << r.bytes; }},
    {"fragments", [](std::ostream& o, const MessageRow& r) { o << r.fragments; }},
    {"fragments_received", [](std::ostream& o, const MessageRow& r) { o << r.fragmentsReceived; }},
    {"sent_time_s", [](std::ostream& o, const MessageRow& r) { o << r.sentTime; }},
    {"delivered", [](std::ostream& o, const MessageRow& r) { o << (r.delivered ? 1 : 0); }},
    {"latency_s", [](std::ostream& o, const MessageRow& r) { o << r.latency; }},
    {"rejected",
     [](std::ostream& o, const MessageRow& r)
     {
         if (r.rejection)
         {
             o << tadlora::RejectionName(*r.rejection);
         }
     }},
};

/** A mixing.csv row: one weight of a realized W_t. */
struct MixingRow
{
    uint64_t round;
    tadlora::Factor factor;
    uint32_t client;
    uint32_t peer;
    double weight;
};

const TadLoraColumns<MixingRow> kMixingColumns{
    {"round", [](std::ostream& o, const MixingRow& r) { o << r.round; }},
    {"factor", [](std::ostream& o, const MixingRow& r) { o << FactorName(r.factor); }},
    {"client", [](std::ostream& o, const MixingRow& r) { o << r.client; }},
    {"peer", [](std::ostream& o, const MixingRow& r) { o << r.peer; }},
    {"weight", [](std::ostream& o, const MixingRow& r) { o << r.weight; }},
};

/** A links.csv row: one directed link's totals. */
struct LinkRow
{
    uint32_t sender;
    uint32_t receiver;
    uint64_t msgsSent;
    uint64_t msgsDelivered;
    uint64_t msgsRejected;
    uint64_t bytesSent;
    uint64_t fragmentsSent;
    uint64_t fragmentsLost;
    double meanLatency;
    uint64_t mixedRounds;
};

const TadLoraColumns<LinkRow> kLinkColumns{
    {"sender", [](std::ostream& o, const LinkRow& r) { o << r.sender; }},
    {"receiver", [](std::ostream& o, const LinkRow& r) { o << r.receiver; }},
    {"msgs_sent", [](std::ostream& o, const LinkRow& r) { o << r.msgsSent; }},
    {"msgs_delivered", [](std::ostream& o, const LinkRow& r) { o << r.msgsDelivered; }},
    {"msgs_rejected", [](std::ostream& o, const LinkRow& r) { o << r.msgsRejected; }},
    {"bytes_sent", [](std::ostream& o, const LinkRow& r) { o << r.bytesSent; }},
    {"fragments_sent", [](std::ostream& o, const LinkRow& r) { o << r.fragmentsSent; }},
    {"fragments_lost", [](std::ostream& o, const LinkRow& r) { o << r.fragmentsLost; }},
    {"mean_latency_s", [](std::ostream& o, const LinkRow& r) { o << r.meanLatency; }},
    {"mixed_rounds", [](std::ostream& o, const LinkRow& r) { o << r.mixedRounds; }},
};

} // namespace

TadLoraRecorder::TadLoraRecorder(uint32_t clients, tadlora::GossipGraph& graph,
                                 const TadLoraUsageProbe& usage, Time start,
                                 std::ostream& networkTrace, RoundCallback roundEnd,
                                 TadLoraTraceLevel level)
    : m_clients(clients)
    , m_graph(graph)
    , m_probe(usage)
    , m_networkTrace(networkTrace)
    , m_roundEnd(std::move(roundEnd))
    , m_previousRoundEnd(start)
    , m_level(level)
{
    NS_ABORT_MSG_IF(level == TadLoraTraceLevel::Auto, "TadLoraRecorder: resolve the trace level");
    for (tadlora::Rejection reason : tadlora::AllRejections())
    {
        m_totals.rejectedBy[reason] = 0;
    }
    WriteCsvHeader(m_networkTrace, kNetworkColumns);
}

void
TadLoraRecorder::Connect(Ptr<Application> app)
{
    app->TraceConnectWithoutContext("FactorSent", MakeCallback(&TadLoraRecorder::OnSent, this));
    app->TraceConnectWithoutContext("FragmentReceived",
                                    MakeCallback(&TadLoraRecorder::OnFragment, this));
    app->TraceConnectWithoutContext("FactorReceived",
                                    MakeCallback(&TadLoraRecorder::OnReceived, this));
    app->TraceConnectWithoutContext("FactorRejected",
                                    MakeCallback(&TadLoraRecorder::OnRejected, this));
    app->TraceConnectWithoutContext("FactorMixed", MakeCallback(&TadLoraRecorder::OnMixed, this));
    app->TraceConnectWithoutContext("ExchangeMissed",
                                    MakeCallback(&TadLoraRecorder::OnMissed, this));
    app->TraceConnectWithoutContext("RoundCompleted",
                                    MakeCallback(&TadLoraRecorder::OnRound, this));
}

void
TadLoraRecorder::WriteMessages(std::ostream& out) const
{
    std::vector<MessageRow> rows;
    for (const auto& [key, m] : m_messages)
    {
        const auto& [sender, id, receiver] = key;
        rows.push_back({m.round, m.factor, sender, receiver, id, m.bytes, m.fragments,
                        m.fragmentsReceived, m.sent.GetSeconds(), m.delivered,
                        m.delivered ? (m.arrived - m.sent).GetSeconds() : 0.0, m.rejection});
    }
    const auto order = [](const MessageRow& r)
    { return std::make_tuple(r.round, r.factor, r.sender, r.receiver, r.messageId); };
    std::sort(rows.begin(), rows.end(),
              [&order](const MessageRow& a, const MessageRow& b) { return order(a) < order(b); });
    WriteCsvHeader(out, kMessageColumns);
    for (const MessageRow& row : rows)
    {
        WriteCsvRow(out, kMessageColumns, row);
    }
}

void
TadLoraRecorder::WriteMixing(std::ostream& out) const
{
    WriteCsvHeader(out, kMixingColumns);
    for (const auto& [key, weight] : m_weights)
    {
        const auto& [round, factor, client, peer] = key;
        WriteCsvRow(out, kMixingColumns, MixingRow{round, factor, client, peer, weight});
    }
}

void
TadLoraRecorder::WriteLinks(std::ostream& out) const
{
    WriteCsvHeader(out, kLinkColumns);
    for (const auto& [key, l] : m_links)
    {
        WriteCsvRow(out, kLinkColumns,
                    LinkRow{key.first, key.second, l.msgsSent, l.msgsDelivered, l.msgsRejected,
                            l.bytesSent, l.fragmentsSent, l.fragmentsSent - l.fragmentsReceived,
                            l.msgsDelivered == 0 ? 0.0 : l.latencySum / l.msgsDelivered,
                            l.mixedRounds});
    }
}

void
TadLoraRecorder::OnSent(const TadLoraMessageEvent& e)
{
    m_messages[{e.sender, e.messageId, e.receiver}] =
        Message{e.round, e.factor, e.bytes, e.fragments, Simulator::Now(), 0, false, {}, Time()};
    Progress& p = m_progress[e.round];
    p.attempted.insert({std::min(e.sender, e.receiver), std::max(e.sender, e.receiver)});
    p.messages.push_back({e.sender, e.messageId, e.receiver});
    ++p.msgsSent;
    p.fragmentsSent += e.fragments;
    ++m_totals.msgsSent;
    m_totals.bytesSent += e.bytes;
}

void
TadLoraRecorder::OnFragment(uint32_t sender, uint32_t receiver, uint32_t messageId)
{
    auto it = m_messages.find({sender, messageId, receiver});
    if (it != m_messages.end() && it->second.fragmentsReceived < it->second.fragments)
    {
        ++it->second.fragmentsReceived;
        ++m_progress[it->second.round].fragmentsReceived;
    }
}

void
TadLoraRecorder::OnReceived(const TadLoraMessageEvent& e)
{
    Message& m = m_messages.at({e.sender, e.messageId, e.receiver}); // in its round
    m.delivered = true;
    m.arrived = Simulator::Now();
    Progress& p = m_progress[e.round];
    ++p.msgsDelivered;
    p.latencySum += (m.arrived - m.sent).GetSeconds();
    ++m_totals.msgsDelivered;
}

void
TadLoraRecorder::OnRejected(const TadLoraMessageEvent& e, tadlora::Rejection reason)
{
    // A message refused late may come after its round ended (and was forgotten).
    auto it = m_messages.find({e.sender, e.messageId, e.receiver});
    if (it != m_messages.end())
    {
        it->second.rejection = reason;
    }
    ++m_totals.msgsRejected;
    ++m_totals.rejectedBy[reason];
}

void
TadLoraRecorder::OnMixed(const TadLoraMixEvent& e)
{
    m_weights[{e.round, e.factor, e.client, e.client}] = e.selfWeight;
    for (const auto& [j, weight] : e.weights)
    {
        m_weights[{e.round, e.factor, e.client, j}] = weight;
    }
}

void
TadLoraRecorder::OnRound(uint32_t /* client */, uint64_t round, double trainLoss)
{
    Progress& p = m_progress[round];
    p.lossSum += trainLoss;
    if (++p.completed < m_clients)
    {
        return;
    }
    // The realized W_t of each factor mixed in the round.
    std::map<tadlora::Factor, tadlora::MixingMatrix> mixing;
    const auto begin = m_weights.lower_bound({round, tadlora::Factor::A, 0, 0});
    const auto end = m_weights.lower_bound({round + 1, tadlora::Factor::A, 0, 0});
    for (auto it = begin; it != end; ++it)
    {
        const auto& [r, factor, client, peer] = it->first;
        mixing.try_emplace(factor, m_clients).first->second(client, peer) = it->second;
    }
    double deviation = 0;
    for (const auto& [factor, matrix] : mixing)
    {
        deviation = std::max(deviation, matrix.MaxColumnSumDeviation());
    }
    // An edge is confirmed if both ends mixed it, one-sided if only one did.
    uint64_t confirmed = 0;
    uint64_t oneSided = 0;
    for (uint32_t i = 0; i < m_clients; ++i)
    {
        for (uint32_t j = i + 1; j < m_clients; ++j)
        {
            bool ij = false;
            bool ji = false;
            for (const auto& [factor, w] : mixing)
            {
                ij = ij || w(i, j) > 0;
                ji = ji || w(j, i) > 0;
            }
            confirmed += ij && ji ? 1 : 0;
            oneSided += ij != ji ? 1 : 0;
        }
    }
    const size_t active = m_graph.Active(round).size();
    const double roundTime = (Simulator::Now() - m_previousRoundEnd).GetSeconds();
    m_previousRoundEnd = Simulator::Now();
    const TadLoraUsageProbe::Usage usage = m_probe.Get();
    WriteCsvRow(m_networkTrace, kNetworkColumns,
                NetworkRow{round, Simulator::Now().GetSeconds(), roundTime, active,
                           p.attempted.size(), confirmed, oneSided, p.msgsSent, p.msgsDelivered,
                           p.fragmentsSent, p.fragmentsSent - p.fragmentsReceived, deviation,
                           usage.bytes - m_usage.bytes, usage.airtime - m_usage.airtime,
                           p.msgsDelivered == 0 ? 0.0 : p.latencySum / p.msgsDelivered,
                           p.missedExchanges});
    m_usage = usage;

    m_totals.round = round;
    m_totals.meanLoss = p.lossSum / m_clients;
    m_totals.activeEdges = active;
    m_totals.columnSumDeviation = deviation;
    m_totals.activeEdgesTotal += active;
    m_totals.confirmedEdges += confirmed;
    m_totals.oneSidedEdges += oneSided;
    m_totals.roundTimeSum += roundTime;
    m_totals.missedExchanges += p.missedExchanges;
    const std::vector<MessageKey> sent = std::move(p.messages);
    m_progress.erase(round);
    EndRound(round, sent);
    m_roundEnd(m_totals);
}

void
TadLoraRecorder::OnMissed(uint32_t /* client */, uint64_t round)
{
    ++m_progress[round].missedExchanges;
}

void
TadLoraRecorder::EndRound(uint64_t round, const std::vector<MessageKey>& sent)
{
    const auto begin = m_weights.lower_bound({round, tadlora::Factor::A, 0, 0});
    const auto end = m_weights.lower_bound({round + 1, tadlora::Factor::A, 0, 0});
    if (m_level != TadLoraTraceLevel::Summary)
    {
        for (const MessageKey& key : sent)
        {
            const Message& m = m_messages.at(key);
            const auto& [sender, id, receiver] = key;
            Link& l = m_links[{sender, receiver}];
            ++l.msgsSent;
            l.msgsDelivered += m.delivered ? 1 : 0;
            l.msgsRejected += m.rejection ? 1 : 0;
            l.bytesSent += m.bytes;
            l.fragmentsSent += m.fragments;
            l.fragmentsReceived += m.fragmentsReceived;
            l.latencySum += m.delivered ? (m.arrived - m.sent).GetSeconds() : 0.0;
        }
        // A receiver mixed a sender's factors in the round if it gave it a weight.
        std::set<std::pair<uint32_t, uint32_t>> mixed;
        for (auto it = begin; it != end; ++it)
        {
            const auto& [r, factor, client, peer] = it->first;
            if (client != peer && it->second > 0)
            {
                mixed.insert({peer, client});
            }
        }
        for (const auto& link : mixed)
        {
            ++m_links[link].mixedRounds;
        }
    }
    if (m_level == TadLoraTraceLevel::Full)
    {
        return;
    }
    for (const MessageKey& key : sent)
    {
        m_messages.erase(key);
    }
    m_weights.erase(begin, end);
}

} // namespace ns3
