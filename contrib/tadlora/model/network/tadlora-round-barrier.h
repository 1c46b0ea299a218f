// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_ROUND_BARRIER_H
#define TADLORA_ROUND_BARRIER_H

#include "ns3/nstime.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Synchronous rounds, as in the paper: every client starts round t + 1 when the last
 * one has finished round t, so a round lasts as long as its slowest client. Shared by the
 * clients of a run, it also keeps when the round's exchange opened: when its first client was
 * ready to send.
 */
class TadLoraRoundBarrier
{
public:
    /** @brief One more client takes part. */
    void Join();
    /**
     * @brief A client finished its round.
     * @param next starts its next round, once every client has finished this one
     */
    void Arrive(std::function<void()> next);
    /**
     * @brief A client is ready to exchange the current round's factors.
     * @return when the round's first client was (now, if this one is the first)
     */
    Time OpenExchange();

private:
    std::optional<Time> m_exchangeOpened;         //!< when the current round's exchange opened
    uint32_t m_members = 0;                       //!< clients taking part
    std::vector<std::function<void()>> m_waiting; //!< clients done with the current round
};

} // namespace ns3

#endif // TADLORA_ROUND_BARRIER_H
