// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_DISCOVERY_H
#define TADLORA_DISCOVERY_H

#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/ptr.h"
#include "ns3/random-variable-stream.h"
#include "ns3/socket.h"

#include <functional>
#include <map>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief One-hop neighbour discovery: a client broadcasts a small beacon every interval (with
 * up to a quarter of an interval of jitter, so neighbours' beacons do not collide for ever),
 * and counts a peer in reach if it heard the peer's beacon within three intervals. With an
 * interval of 0 discovery is off and every peer counts as in reach.
 */
class TadLoraDiscovery
{
public:
    /**
     * @param client this client's index, stamped in its beacons
     * @param interval the beacon period; 0: off
     */
    TadLoraDiscovery(uint32_t client, Time interval);

    /**
     * @brief Start beaconing (if on): the first beacon goes at a random time within an interval.
     * @param socket the client's UDP socket, allowed to broadcast
     * @param port the port every client listens on
     * @param random the client's random stream (its draws interleave with the client's own)
     * @param round the client's current round, stamped in its beacons
     */
    void Start(Ptr<Socket> socket, uint16_t port, Ptr<UniformRandomVariable> random,
               std::function<uint64_t()> round);

    /** @brief Stop beaconing. */
    void Stop();

    /**
     * @brief A peer's beacon came.
     * @param peer its client index
     */
    void Heard(uint32_t peer);

    /**
     * @param peer a client index
     * @return whether its beacon was heard lately (always, with discovery off)
     */
    bool InReach(uint32_t peer) const;

private:
    /** @brief Broadcast a beacon and schedule the next. */
    void SendBeacon();

    uint32_t m_client;                   //!< this client's index
    Time m_interval;                     //!< beacon period; 0: off
    Ptr<Socket> m_socket;                //!< the client's UDP socket
    uint16_t m_port = 0;                 //!< every client's port
    Ptr<UniformRandomVariable> m_random; //!< the client's random stream
    std::function<uint64_t()> m_round;   //!< the client's current round
    std::map<uint32_t, Time> m_heard;    //!< peer -> when its last beacon came
    EventId m_event;                     //!< the next beacon
};

} // namespace ns3

#endif // TADLORA_DISCOVERY_H
