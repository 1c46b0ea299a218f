// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_CLIENT_H
#define TADLORA_CLIENT_H

#include "tadlora-discovery.h"
#include "tadlora-inbox.h"
#include "tadlora-message.h"
#include "tadlora-method.h"
#include "tadlora-round-barrier.h"
#include "tadlora-transport.h"

#include "ns3/application.h"
#include "ns3/data-rate.h"
#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/ptr.h"
#include "ns3/random-variable-stream.h"
#include "ns3/socket.h"
#include "ns3/traced-callback.h"

#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace tadlora
{
class GossipGraph;
class Learner;
} // namespace tadlora

namespace ns3
{

/** @brief A factor message between two clients. */
struct TadLoraMessageEvent
{
    uint32_t sender;        //!< sending client
    uint32_t receiver;      //!< the client it is meant for
    uint64_t round;         //!< round of the factor
    tadlora::Factor factor; //!< which factor
    uint32_t messageId;     //!< the sender's number for the message
    uint32_t bytes;         //!< message size on the wire, virtual padding included
    uint32_t fragments;     //!< fragments it took
};

/** @brief One row of the realized mixing matrix W_t for one factor. */
struct TadLoraMixEvent
{
    uint32_t client;                                  //!< i
    uint64_t round;                                   //!< t
    tadlora::Factor factor;                           //!< the factor mixed
    double selfWeight;                                //!< W_t[i, i]
    std::vector<std::pair<uint32_t, double>> weights; //!< (j, W_t[i, j]) for each factor mixed in
};

/**
 * @ingroup tadlora
 * @brief A decentralized federated LoRA client on an ns-3 node.
 *
 * Rounds begin Warmup after the application starts. With a BeaconInterval, the client also
 * broadcasts a small beacon that often (one-hop neighbour discovery) and gossips only with
 * the round's neighbours it has heard within three intervals: unicasting to a node out of
 * reach would only block the MAC's queue with retransmissions.
 *
 * A round, as each client lives it (rounds start together; each message names its round, and
 * a message that comes early is kept for the round it belongs to):
 * 1. Train K local steps, run for real by the learning side; they last K x StepTime, plus a
 *    random jitter of up to ExchangeJitter (clients that start in lockstep would make every
 *    first frame collide on a shared channel). The round's exchange opens when its first
 *    client is ready to send: a client whose training ends more than RoundDeadline later
 *    (a slow device, StepTime set from its profile) misses the exchange. Its neighbours have
 *    given up on it by then: it sends nothing, mixes nothing (ExchangeMissed), and its round
 *    ends with its training, which the other clients wait for at the barrier.
 * 2. Exchange: send the round's mixed factors to the neighbours active in the round, as
 *    fragments (UDP unicast, one UDP broadcast, or TCP). Whoever holds all of a neighbour's
 *    factors acknowledges them. The exchange ends when every neighbour's factors and
 *    acknowledgement are in, or RoundDeadline after it began.
 * 3. Confirm: the confirmed links are the neighbours whose factors and acknowledgement came;
 *    the client sends each a confirmation carrying its confirmed degree d_i. The phase ends
 *    when every confirmed neighbour's confirmation is in, or ConfirmTimeout after the
 *    exchange's deadline (a neighbour may still be exchanging until then).
 * 4. Mix: with each confirmed neighbour whose confirmation came, with the Metropolis-Hastings
 *    weight 1 / (1 + max(d_i, d_j)); the self weight takes the rest. A lost confirmation
 *    means the link is mixed on one side only: that is the one way W_t can leave double
 *    stochasticity, and the FactorMixed trace shows it.
 * The client owns no tensors: the learning side (a tadlora::Learner, tadlora::Federation in a
 * run) trains, serializes, decodes and mixes. The client keeps the round's state machine;
 * records travel by a TadLoraTransport, what comes in is reassembled, checked and kept by round
 * in a TadLoraInbox,
 * neighbours are discovered by a TadLoraDiscovery, and rounds start together at a
 * TadLoraRoundBarrier.
 */
class TadLoraClient : public Application
{
public:
    /** @brief How factor messages travel. */
    enum Transport
    {
        UDP,       //!< unicast UDP datagrams to each neighbour
        BROADCAST, //!< one UDP broadcast that every neighbour in reach hears
        TCP,       //!< a TCP connection to each neighbour
    };

    /** @return the object TypeId */
    static TypeId GetTypeId();
    TadLoraClient();
    ~TadLoraClient() override;

    /**
     * @brief Connect the client to the run's learning side and gossip graph.
     * @param learner all clients' learning state; must outlive the simulation
     * @param graph the run's per-round intended graph, shared by all clients
     * @param barrier the run's round barrier, shared by all clients
     */
    void Setup(tadlora::Learner* learner, std::shared_ptr<tadlora::GossipGraph> graph,
               std::shared_ptr<TadLoraRoundBarrier> barrier);

    /**
     * @brief Where to send to a base-graph neighbour.
     * @param peer the neighbour's client id
     * @param address its address and port
     */
    void AddPeer(uint32_t peer, const Address& address);

    /**
     * @brief Fix the random streams of the exchange jitter and, when it is on, of the fault
     * injection's corruption.
     * @param stream the first stream index to use
     * @return the number of streams used (1, or 2 with a FaultCorruptProbability)
     */
    int64_t AssignStreams(int64_t stream);

    /** TracedCallback signature for a message event. */
    typedef void (*MessageTracedCallback)(const TadLoraMessageEvent& event);
    /** TracedCallback signature for a message refused, and why. */
    typedef void (*RejectedTracedCallback)(const TadLoraMessageEvent& event,
                                           tadlora::Rejection reason);
    /** TracedCallback signature for one fragment received by the client it was meant for. */
    typedef void (*FragmentTracedCallback)(uint32_t sender, uint32_t receiver, uint32_t messageId);
    /** TracedCallback signature for a mix event. */
    typedef void (*MixTracedCallback)(const TadLoraMixEvent& event);
    /** TracedCallback signature for a client's round. */
    typedef void (*ClientRoundTracedCallback)(uint32_t client, uint64_t round);
    /** TracedCallback signature for the end of a round. */
    typedef void (*RoundTracedCallback)(uint32_t client, uint64_t round, double trainLoss);

protected:
    void DoDispose() override;

private:
    void StartApplication() override;
    void StopApplication() override;

    /** @brief Where a round is. */
    enum class Phase
    {
        Training,
        Exchange,
        Confirm,
    };

    /** @brief Train the round's K steps and schedule the exchange. */
    void StartRound();
    /** @brief Send the round's mixed factors to the round's neighbours. */
    void StartExchange();
    /** @brief End the exchange early once every neighbour's factors and ack are in. */
    void CheckExchange();
    /** @brief Settle the confirmed links and send the confirmations. */
    void EndExchange();
    /** @brief Mix early once every confirmed neighbour's confirmation is in. */
    void CheckConfirm();
    /** @brief Mix, report, and start the next round. */
    void FinishRound();

    /** @return whether a neighbour's factors and its ack of ours are in for this round */
    bool Exchanged(uint32_t neighbour) const;
    /** @return whether a neighbour is in the round's intended graph */
    bool IsNeighbour(uint64_t round, uint32_t peer) const;
    /** @brief Take one received record (a datagram, or a record cut from a TCP stream). */
    void HandleRecord(const std::vector<uint8_t>& record);
    /** @brief Take a fragment; once its message is whole, trace it and acknowledge the round. */
    void HandleFragment(const std::vector<uint8_t>& record);
    /** @brief Take an acknowledgement, a confirmation or a beacon. */
    void HandleControl(const std::vector<uint8_t>& record);
    /** @brief Send a control record to a neighbour, ahead of waiting fragments. */
    void SendControl(tadlora::RecordKind kind, uint64_t round, uint32_t peer, uint32_t degree);
    void HandleRead(Ptr<Socket> socket); //!< UDP datagrams

    // Attributes
    uint32_t m_clientId;         //!< this client's index
    uint16_t m_port;             //!< port of every client
    uint64_t m_rounds;           //!< rounds to run
    Time m_stepTime;             //!< simulated time of one local step
    Time m_roundDeadline;        //!< longest exchange phase
    Time m_confirmTimeout;       //!< longest confirmation phase
    Time m_exchangeJitter;       //!< longest random wait between training and sending
    Time m_warmup;               //!< from the application's start to round 0
    Time m_beaconInterval;       //!< neighbour discovery; 0: off
    uint32_t m_maxPayload;       //!< bytes per fragment record, header included
    uint32_t m_virtualPayload;   //!< bytes a factor message occupies on the wire, if larger
    Transport m_transportKind;   //!< how messages travel
    uint8_t m_hopLimit;          //!< IP TTL of unicast records; 0: the IP default
    DataRate m_sendRate;         //!< UDP pacing; 0: as fast as the socket takes them
    double m_corruptProbability; //!< fault injection: chance a received fragment is corrupted

    tadlora::Learner* m_learner;                    //!< learning side
    std::shared_ptr<tadlora::GossipGraph> m_graph;  //!< intended graph of each round
    std::shared_ptr<TadLoraRoundBarrier> m_barrier; //!< starts rounds together
    std::map<uint32_t, Address> m_peers;            //!< base-graph neighbours' addresses
    Ptr<Socket> m_socket;                           //!< UDP: records (unless TCP) and beacons
    std::unique_ptr<TadLoraTransport> m_transport;  //!< carries the records
    std::unique_ptr<TadLoraDiscovery> m_discovery;  //!< who is in reach
    std::unique_ptr<TadLoraInbox> m_inbox;          //!< what came, by round
    Ptr<UniformRandomVariable> m_jitter;            //!< exchange jitter and beacon times
    Ptr<UniformRandomVariable> m_corrupt;           //!< which fragments, bytes and bits

    uint64_t m_round;                   //!< current round
    Phase m_phase;                      //!< where the round is
    Time m_trainingEnd;                 //!< when the round's local steps are done
    Time m_exchangeStart;               //!< when the round's exchange began
    double m_trainLoss;                 //!< this round's mean training loss
    std::vector<uint32_t> m_neighbours; //!< the round's intended neighbours in reach
    std::vector<uint32_t> m_confirmed;  //!< neighbours whose factors and ack came in time
    EventId m_event;                    //!< the round's next scheduled step
    uint32_t m_nextMessageId;           //!< id of the next message sent

    TracedCallback<const TadLoraMessageEvent&> m_sentTrace;       //!< a factor message sent
    TracedCallback<uint32_t, uint32_t, uint32_t> m_fragmentTrace; //!< a fragment received
    TracedCallback<const TadLoraMessageEvent&> m_receivedTrace;   //!< received whole and in time
    TracedCallback<const TadLoraMessageEvent&, tadlora::Rejection> m_rejectedTrace; //!< refused
    TracedCallback<const TadLoraMixEvent&> m_mixedTrace;     //!< a factor mixed
    TracedCallback<uint32_t, uint64_t> m_missedTrace;        //!< trained too late to exchange
    TracedCallback<uint32_t, uint64_t, double> m_roundTrace; //!< a round completed
};

} // namespace ns3

#endif // TADLORA_CLIENT_H
