// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_DATAGRAM_TRANSPORT_H
#define TADLORA_DATAGRAM_TRANSPORT_H

#include "tadlora-transport.h"

#include "ns3/data-rate.h"
#include "ns3/event-id.h"
#include "ns3/socket.h"

#include <deque>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Records as UDP datagrams, one record each: unicast to a neighbour's address, or
 * broadcast to every node in reach. Records wait in one queue, control records at its front,
 * and leave at SendRate (all at once if it is 0).
 *
 * The socket is the client's: it also carries the neighbour-discovery beacons, and the client
 * reads it.
 */
class TadLoraDatagramTransport : public TadLoraTransport
{
public:
    /**
     * @param socket the client's bound UDP socket
     * @param port the port every client listens on (broadcasts go to it)
     * @param peers each base-graph neighbour's address
     * @param sendRate pace of records leaving; 0: as fast as the socket takes them
     */
    TadLoraDatagramTransport(Ptr<Socket> socket, uint16_t port, std::map<uint32_t, Address> peers,
                             DataRate sendRate);

    void Send(uint64_t round, std::optional<uint32_t> peer, Ptr<Packet> record,
              bool control) override;
    void DropUpTo(uint64_t round) override;
    void Stop() override;

private:
    /** @brief A record waiting for its turn. */
    struct Queued
    {
        uint64_t round;     //!< the round it belongs to
        Address to;         //!< destination
        Ptr<Packet> packet; //!< the record
    };

    /** @brief Send the next queued record and schedule the one after (pacing). */
    void SendNext();

    Ptr<Socket> m_socket;                //!< the client's UDP socket
    uint16_t m_port;                     //!< every client's port
    std::map<uint32_t, Address> m_peers; //!< base-graph neighbours' addresses
    DataRate m_sendRate;                 //!< pacing; 0: none
    std::deque<Queued> m_queue;          //!< records waiting
    EventId m_sendEvent;                 //!< the next paced send
};

} // namespace ns3

#endif // TADLORA_DATAGRAM_TRANSPORT_H
