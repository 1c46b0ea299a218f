// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_CLIENT_H
#define TADLORA_CLIENT_H

#include "tadlora-method.h"

#include "ns3/application.h"
#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/ptr.h"
#include "ns3/socket.h"
#include "ns3/traced-callback.h"

#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace tadlora
{
class Federation;
class GossipGraph;
} // namespace tadlora

namespace ns3
{

/** @brief A factor message between two clients, as sent or as received whole and intact. */
struct TadLoraMessageEvent
{
    uint32_t sender;        //!< sending client
    uint32_t receiver;      //!< receiving client
    uint64_t round;         //!< round of the factor
    tadlora::Factor factor; //!< which factor
    uint32_t bytes;         //!< message size, fragment headers excluded
    uint32_t fragments;     //!< UDP datagrams it took
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
 * Each round: train K local steps (run for real by the learning side, lasting K x StepTime of
 * simulated time), send the round's mixed factors to the neighbours active in the round as
 * fragmented UDP datagrams, and at the round deadline mix what arrived complete and intact.
 * Weights are Metropolis-Hastings, 1 / (1 + max(d_i, d_j)) for each neighbour j heard from,
 * with d_j taken from j's message; the self weight takes the rest, so a lost message leaves
 * its weight with the client's own factor. The client owns no tensors: the learning side
 * (tadlora::Federation) trains, serializes and mixes.
 */
class TadLoraClient : public Application
{
public:
    /** @return the object TypeId */
    static TypeId GetTypeId();
    TadLoraClient();
    ~TadLoraClient() override;

    /**
     * @brief Connect the client to the run's learning side and gossip graph.
     * @param federation all clients' learning state; must outlive the simulation
     * @param graph the run's per-round intended graph, shared by all clients
     */
    void Setup(tadlora::Federation* federation, std::shared_ptr<tadlora::GossipGraph> graph);

    /**
     * @brief Where to send to a base-graph neighbour.
     * @param peer the neighbour's client id
     * @param address its address and port
     */
    void AddPeer(uint32_t peer, const Address& address);

    /** TracedCallback signature for a message event. */
    typedef void (*MessageTracedCallback)(const TadLoraMessageEvent& event);
    /** TracedCallback signature for a mix event. */
    typedef void (*MixTracedCallback)(const TadLoraMixEvent& event);
    /** TracedCallback signature for the end of a round. */
    typedef void (*RoundTracedCallback)(uint32_t client, uint64_t round, double trainLoss);

protected:
    void DoDispose() override;

private:
    void StartApplication() override;
    void StopApplication() override;

    /** @brief Train the round's K steps and schedule the exchange and the deadline. */
    void StartRound();
    /** @brief Send the round's mixed factors to the round's neighbours. */
    void SendFactors();
    /** @brief Mix what arrived, report, and start the next round. */
    void FinishRound();
    /** @brief Read datagrams and reassemble factor messages. */
    void HandleRead(Ptr<Socket> socket);
    /** @brief Take a reassembled message: check it, then keep it for this round's mix. */
    void Deliver(uint32_t sender, std::vector<uint8_t> message, uint32_t fragments);

    /** @brief A message being reassembled. */
    struct Reassembly
    {
        std::vector<std::vector<uint8_t>> fragments; //!< by index; empty until received
        uint32_t received = 0;                       //!< fragments received so far
    };

    uint32_t m_clientId;   //!< this client's index
    uint16_t m_port;       //!< UDP port of every client
    uint64_t m_rounds;     //!< rounds to run
    Time m_stepTime;       //!< simulated time of one local step
    Time m_roundDeadline;  //!< time after the exchange starts that messages count
    uint32_t m_maxPayload; //!< UDP payload per datagram, fragment header included

    tadlora::Federation* m_federation;             //!< learning side
    std::shared_ptr<tadlora::GossipGraph> m_graph; //!< intended graph of each round
    std::map<uint32_t, Address> m_peers;           //!< base-graph neighbours' addresses
    Ptr<Socket> m_socket;                          //!< bound to m_port
    uint64_t m_round;                              //!< current round
    uint32_t m_degree;                             //!< this client's degree in the round's graph
    double m_trainLoss;                            //!< this round's mean training loss
    uint32_t m_nextMessageId;                      //!< id of the next message sent
    std::map<std::pair<uint32_t, uint32_t>, Reassembly> m_reassembly; //!< (sender, id) -> parts
    /** @brief A message received in time for this round's mix. */
    struct Received
    {
        std::vector<uint8_t> message; //!< the whole, checked message
        uint32_t senderDegree;        //!< from its header
    };

    std::map<std::pair<tadlora::Factor, uint32_t>, Received> m_inbox; //!< (factor, sender)
    EventId m_event; //!< the next scheduled step of the round

    TracedCallback<const TadLoraMessageEvent&> m_sentTrace;     //!< a factor message sent
    TracedCallback<const TadLoraMessageEvent&> m_receivedTrace; //!< received in time and intact
    TracedCallback<const TadLoraMessageEvent&> m_rejectedTrace; //!< corrupt, late or unexpected
    TracedCallback<const TadLoraMixEvent&> m_mixedTrace;        //!< a factor mixed
    TracedCallback<uint32_t, uint64_t, double> m_roundTrace;    //!< a round completed
};

} // namespace ns3

#endif // TADLORA_CLIENT_H
