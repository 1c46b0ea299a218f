// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_RECORDER_H
#define TADLORA_RECORDER_H

#include "tadlora-client.h"
#include "tadlora-options.h"
#include "tadlora-topology.h"
#include "tadlora-usage-probe.h"

#include "ns3/application.h"
#include "ns3/nstime.h"

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <tuple>
#include <vector>

namespace tadlora
{
class GossipGraph;
} // namespace tadlora

namespace ns3
{

/** @brief What the clients reported of a round, once the last of them finished it. */
struct TadLoraRoundReport
{
    uint64_t round = 0;            //!< the round
    double meanLoss = 0;           //!< the clients' mean training loss
    size_t activeEdges = 0;        //!< |E_t|
    double columnSumDeviation = 0; //!< max |column sum - 1| over the round's realized W_t
    uint64_t msgsSent = 0;         //!< factor messages sent, from round 0 on
    uint64_t msgsDelivered = 0;    //!< delivered whole and in time, from round 0 on
    uint64_t msgsRejected = 0;     //!< whole but refused, from round 0 on
    /** of them, by reason (every reason present), from round 0 on */
    std::map<tadlora::Rejection, uint64_t> rejectedBy;
    uint64_t bytesSent = 0;        //!< bytes of the messages sent, from round 0 on
    uint64_t confirmedEdges = 0;   //!< edges mixed on both sides, from round 0 on
    uint64_t oneSidedEdges = 0;    //!< edges mixed on one side only, from round 0 on
    uint64_t activeEdgesTotal = 0; //!< sum of |E_t| from round 0 on
    double roundTimeSum = 0;       //!< simulated seconds of the rounds so far
    uint64_t missedExchanges = 0;  //!< exchanges clients trained too late for, from round 0 on
};

/**
 * @ingroup tadlora
 * @brief A plain trace sink of every client's trace sources: it keeps what was sent,
 * delivered and mixed, writes network.csv's row of a round when the last client finished it,
 * then hands the round's report to the run (which evaluates, and stops the run, as it sees
 * fit). links.csv, messages.csv and mixing.csv are written at the end.
 *
 * What it keeps follows the trace level: each message and weight until its round ends
 * (summary, links), or to the end (full). Links add each directed link's totals, counted
 * when the messages' round ends.
 */
class TadLoraRecorder
{
public:
    /** @brief Takes a round's report. */
    typedef std::function<void(const TadLoraRoundReport&)> RoundCallback;

    /**
     * @param clients m
     * @param graph the run's intended graph of each round
     * @param usage what the run's network devices transmit
     * @param start when round 0 begins
     * @param networkTrace network.csv; its header is written here
     * @param roundEnd takes each round's report
     * @param level summary, links or full (not auto)
     */
    TadLoraRecorder(uint32_t clients, tadlora::GossipGraph& graph, const TadLoraUsageProbe& usage,
                    Time start, std::ostream& networkTrace, RoundCallback roundEnd,
                    TadLoraTraceLevel level);

    /** @param app a client to listen to */
    void Connect(Ptr<Application> app);

    /** @param out messages.csv: one row per message and receiver */
    void WriteMessages(std::ostream& out) const;
    /** @param out mixing.csv: one row per weight of each realized W_t */
    void WriteMixing(std::ostream& out) const;
    /** @param out links.csv: one row per directed link a message was sent on */
    void WriteLinks(std::ostream& out) const;

private:
    /** (sender, message id, receiver) */
    using MessageKey = std::tuple<uint32_t, uint32_t, uint32_t>;
    /** (round, factor, client, peer) */
    using WeightKey = std::tuple<uint64_t, tadlora::Factor, uint32_t, uint32_t>;

    /** @brief One message to one receiver. */
    struct Message
    {
        uint64_t round;                              //!< round of the factor
        tadlora::Factor factor;                      //!< the factor
        uint32_t bytes;                              //!< on the wire
        uint32_t fragments;                          //!< fragments sent
        Time sent;                                   //!< when
        uint32_t fragmentsReceived = 0;              //!< fragments that reached the receiver
        bool delivered = false;                      //!< whole and in time
        std::optional<tadlora::Rejection> rejection; //!< whole but refused, and why
        Time arrived;                                //!< when it was whole
    };

    /** @brief A directed link's totals over the rounds ended so far. */
    struct Link
    {
        uint64_t msgsSent = 0;          //!< messages sent on it
        uint64_t msgsDelivered = 0;     //!< of them, delivered
        uint64_t msgsRejected = 0;      //!< of them, whole but refused
        uint64_t bytesSent = 0;         //!< their bytes
        uint64_t fragmentsSent = 0;     //!< their fragments
        uint64_t fragmentsReceived = 0; //!< of them, received by the round's end
        double latencySum = 0;          //!< of the delivered messages
        uint64_t mixedRounds = 0;       //!< rounds the receiver mixed the sender's factors
    };

    /** @brief What the clients reported of one round so far. */
    struct Progress
    {
        uint32_t completed = 0;            //!< clients done with it
        double lossSum = 0;                //!< their training losses
        uint64_t msgsSent = 0;             //!< the round's messages
        uint64_t msgsDelivered = 0;        //!< of them, delivered
        uint64_t fragmentsSent = 0;        //!< the round's fragments
        uint64_t fragmentsReceived = 0;    //!< of them, received
        double latencySum = 0;             //!< of the delivered messages
        std::set<tadlora::Edge> attempted; //!< links with a message sent either way
        std::vector<MessageKey> messages;  //!< the round's messages, as sent
        uint32_t missedExchanges = 0;      //!< clients that trained too late to exchange
    };

    void OnSent(const TadLoraMessageEvent& e);
    void OnFragment(uint32_t sender, uint32_t receiver, uint32_t messageId);
    void OnReceived(const TadLoraMessageEvent& e);
    void OnRejected(const TadLoraMessageEvent& e, tadlora::Rejection reason);
    void OnMixed(const TadLoraMixEvent& e);
    void OnMissed(uint32_t client, uint64_t round);
    void OnRound(uint32_t client, uint64_t round, double trainLoss);
    /**
     * @brief Add an ended round's messages and weights to the links' totals, and forget them
     * unless the trace is full.
     * @param round the round
     * @param sent the round's messages
     */
    void EndRound(uint64_t round, const std::vector<MessageKey>& sent);

    uint32_t m_clients;                       //!< m
    tadlora::GossipGraph& m_graph;            //!< E_t of each round
    const TadLoraUsageProbe& m_probe;         //!< bytes and airtime
    std::ostream& m_networkTrace;             //!< network.csv
    RoundCallback m_roundEnd;                 //!< takes each round's report
    Time m_previousRoundEnd;                  //!< when the previous round ended
    std::map<MessageKey, Message> m_messages; //!< every message sent
    std::map<WeightKey, double> m_weights;    //!< realized W_t[client, peer]
    std::map<uint64_t, Progress> m_progress;  //!< rounds not yet finished by every client
    TadLoraUsageProbe::Usage m_usage;         //!< at the end of the previous round
    TadLoraRoundReport m_totals;              //!< the counters from round 0 on
    TadLoraTraceLevel m_level;                //!< what is kept
    /** (sender, receiver) -> totals */
    std::map<std::pair<uint32_t, uint32_t>, Link> m_links;
};

} // namespace ns3

#endif // TADLORA_RECORDER_H
