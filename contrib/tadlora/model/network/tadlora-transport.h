// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_TRANSPORT_H
#define TADLORA_TRANSPORT_H

#include "tadlora-message.h"

#include "ns3/address.h"
#include "ns3/callback.h"
#include "ns3/ptr.h"

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace ns3
{

class Packet;

/**
 * @ingroup tadlora
 * @brief How a client's records travel to its neighbours: UDP datagrams (unicast or
 * broadcast, TadLoraDatagramTransport) or TCP streams (TadLoraStreamTransport).
 *
 * A record is a fragment of a factor message or a control record (tadlora-message.h). Records
 * that arrive are handed whole to the client's receive callback, whichever way they came.
 */
class TadLoraTransport
{
public:
    /** @brief Takes one whole received record. */
    typedef Callback<void, const std::vector<uint8_t>&> ReceiveCallback;

    virtual ~TadLoraTransport() = default;

    /**
     * @brief Send one record.
     * @param round the round it belongs to
     * @param peer the neighbour it is for, or none for every node in reach (datagrams only)
     * @param record the record
     * @param control an acknowledgement or a confirmation: small, and it gates whole rounds,
     *        so it goes before records that wait
     */
    virtual void Send(uint64_t round, std::optional<uint32_t> peer, Ptr<Packet> record,
                      bool control) = 0;

    /**
     * @brief Send a factor message as fragment records (FragmentMessage), padded to wireBytes.
     * @param round the round it belongs to
     * @param peer the neighbour it is for, or none for every node in reach (datagrams only)
     * @param message the encoded message
     * @param header the fragments' common fields: sender, messageId and round
     * @param maxRecord bytes of one record, its header included
     * @param wireBytes bytes the message occupies on the wire, if more than its size
     * @return the fragments it took
     */
    uint32_t SendMessage(uint64_t round, std::optional<uint32_t> peer,
                         const std::vector<uint8_t>& message, const tadlora::FragmentHeader& header,
                         uint32_t maxRecord, uint32_t wireBytes);

    /**
     * @brief Drop the records still waiting to be sent that belong to a round up to this one.
     * @param round the last round to drop
     */
    virtual void DropUpTo(uint64_t round) = 0;

    /** @brief Close every socket of the transport and cancel its events. */
    virtual void Stop() = 0;
};

} // namespace ns3

#endif // TADLORA_TRANSPORT_H
