// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_REASSEMBLER_H
#define TADLORA_REASSEMBLER_H

#include "tadlora-message.h"

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace ns3
{

/** @brief A fragment ready to send: its record, and the zero padding that follows it. */
struct TadLoraFragment
{
    std::vector<uint8_t> record; //!< fragment header and the message's bytes it carries
    uint32_t padding;            //!< bytes of virtual padding after the record
};

/**
 * @ingroup tadlora
 * @brief Cut a message into fragment records.
 *
 * The message occupies max(message size, wireBytes) bytes on the wire, in records of at most
 * maxRecord bytes, each a FragmentHeader followed by the message's next bytes; the bytes past
 * the real message are zero padding (virtual payload).
 * @param message the message
 * @param header the fragments' common fields (sender, messageId, round); index, count and
 *        messageBytes are set here
 * @param maxRecord bytes of one record, its header included
 * @param wireBytes bytes the message occupies on the wire, if more than its size
 * @return the fragments, in index order
 */
std::vector<TadLoraFragment> FragmentMessage(const std::vector<uint8_t>& message,
                                      tadlora::FragmentHeader header, uint32_t maxRecord,
                                      uint32_t wireBytes);

/**
 * @ingroup tadlora
 * @brief Reassembles factor messages from their fragments, in any order, for one receiver.
 *
 * Pure bookkeeping, no ns-3 events: a fuzzer can drive it. A message is keyed by (sender,
 * messageId); its first fragment fixes its round, fragment count and real size. A fragment
 * that disagrees with them, or repeats one already held, is ignored.
 */
class TadLoraReassembler
{
public:
    /** @brief A message whose fragments have all come. */
    struct Message
    {
        uint32_t sender;            //!< sending client
        uint32_t messageId;         //!< the sender's number for it
        uint64_t round;             //!< its round, from the fragments' headers
        uint32_t fragments;         //!< fragments it took
        uint32_t wireBytes;         //!< bytes the fragments carried, padding included
        std::vector<uint8_t> bytes; //!< the real message, padding dropped
        bool complete;              //!< the fragments carried at least the real size
    };

    /**
     * @brief Take one fragment.
     * @param header its decoded header
     * @param data the bytes after the header
     * @param size how many
     * @return the whole message, when this fragment was its last missing one
     */
    std::optional<Message> Add(const tadlora::FragmentHeader& header, const uint8_t* data,
                               size_t size);

    /**
     * @brief Forget every partial message of a round up to this one.
     * @param round the last round to forget
     */
    void DropUpTo(uint64_t round);

    /** @return messages partly received */
    size_t Pending() const;

private:
    /** @brief A message being reassembled. */
    struct Partial
    {
        uint64_t round = 0;        //!< round of the message
        uint32_t count = 0;        //!< fragments of the message; 0 until the first came
        uint32_t messageBytes = 0; //!< real bytes, padding excluded
        /** the fragments received, by index: memory follows what came, not what a header claims */
        std::map<uint32_t, std::vector<uint8_t>> fragments;
    };

    std::map<std::pair<uint32_t, uint32_t>, Partial> m_partial; //!< (sender, id) -> parts
};

} // namespace ns3

#endif // TADLORA_REASSEMBLER_H
