// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_INBOX_H
#define TADLORA_INBOX_H

#include "tadlora-message.h"
#include "tadlora-reassembler.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace tadlora
{
class Learner;
} // namespace tadlora

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief What a client has received from its neighbours, by round, until the round is mixed.
 *
 * Fragments are reassembled into messages, and each whole message is decoded and checked once,
 * here, where it enters the client: it is kept only if it is whole, decodes (version, sizes,
 * checksum, shapes and values, tadlora::Learner::Decode), agrees with its fragments and belongs
 * to a round still open for factors; otherwise it is refused with one tadlora::Rejection.
 * Acknowledgements and confirmations are kept beside the factors. Pure bookkeeping, no ns-3 events:
 * the client decides which records to hand in and what to do with the answers.
 */
class TadLoraInbox
{
public:
    /** @brief A message whose fragments have all come, and whether it was kept. */
    struct Delivery
    {
        std::optional<tadlora::Rejection> rejection; //!< why it was refused; none: kept
        std::string why;                             //!< the details of a rejection
        uint32_t sender;                             //!< sending client
        uint32_t messageId;                          //!< the sender's number for it
        uint64_t round;                              //!< its round, from the fragments' headers
        tadlora::Factor factor;                      //!< its factor; A when it did not decode
        uint32_t fragments;                          //!< fragments it took
        uint32_t wireBytes; //!< bytes the fragments carried, padding included
    };

    /** @param learner decodes messages and says which factors each round mixes */
    explicit TadLoraInbox(tadlora::Learner& learner);

    /**
     * @brief Take one fragment meant for this client.
     * @param header its decoded header
     * @param data the bytes after the header
     * @param size how many
     * @param open the first round that still takes factors
     * @return the whole message and whether it was kept, when this fragment was its last
     *         missing one
     */
    std::optional<Delivery> AddFragment(const tadlora::FragmentHeader& header, const uint8_t* data,
                                        size_t size, uint64_t open);

    /**
     * @brief A neighbour holds all of this client's factors of a round.
     * @param round the round
     * @param sender the neighbour
     */
    void AddAck(uint64_t round, uint32_t sender);

    /**
     * @brief A neighbour will mix with this client in a round.
     * @param round the round
     * @param sender the neighbour
     * @param degree the neighbour's confirmed degree
     */
    void AddConfirmation(uint64_t round, uint32_t sender, uint32_t degree);

    /** @return whether every factor a round mixes has come from a neighbour */
    bool HasFactors(uint64_t round, uint32_t sender) const;
    /** @return whether a neighbour acknowledged all of this client's factors of a round */
    bool HasAck(uint64_t round, uint32_t sender) const;
    /** @return a neighbour's confirmed degree in a round, if its confirmation came */
    std::optional<uint32_t> Confirmation(uint64_t round, uint32_t sender) const;

    /**
     * @param round the round
     * @param factor the factor
     * @param sender the neighbour
     * @return the neighbour's message of that factor; it must have come (HasFactors)
     */
    const tadlora::FactorMessage& Factor(uint64_t round, tadlora::Factor factor,
                                         uint32_t sender) const;

    /**
     * @brief Forget everything of a round up to this one: it is mixed.
     * @param round the last round to forget
     */
    void DropUpTo(uint64_t round);

private:
    /** @brief What has come for one round. */
    struct Round
    {
        /** (factor, sender) -> the whole, checked message */
        std::map<std::pair<tadlora::Factor, uint32_t>, tadlora::FactorMessage> factors;
        std::set<uint32_t> acks;                    //!< neighbours holding all our factors
        std::map<uint32_t, uint32_t> confirmations; //!< neighbour -> its confirmed degree
    };

    tadlora::Learner& m_learner;       //!< decoder, and the factors of each round
    TadLoraReassembler m_reassembler;  //!< messages coming in, by fragments
    std::map<uint64_t, Round> m_round; //!< by round, the current one and later ones
};

} // namespace ns3

#endif // TADLORA_INBOX_H
