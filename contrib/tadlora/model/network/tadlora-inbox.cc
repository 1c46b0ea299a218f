// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-inbox.h"

#include "tadlora-learner.h"

namespace ns3
{

TadLoraInbox::TadLoraInbox(tadlora::Learner& learner)
    : m_learner(learner)
{
}

std::optional<TadLoraInbox::Delivery>
TadLoraInbox::AddFragment(const tadlora::FragmentHeader& header, const uint8_t* data, size_t size,
                          uint64_t open)
{
    std::optional<TadLoraReassembler::Message> m = m_reassembler.Add(header, data, size);
    if (!m)
    {
        return std::nullopt;
    }
    Delivery delivery{tadlora::Rejection::Short, "",           m->sender,   m->messageId, m->round,
                      tadlora::Factor::A,        m->fragments, m->wireBytes};
    if (!m->complete)
    {
        return delivery;
    }
    tadlora::FactorMessage decoded;
    try
    {
        decoded = m_learner.Decode(m->bytes);
    }
    catch (const tadlora::MessageError& e)
    {
        delivery.rejection = e.Reason();
        delivery.why = e.what();
        return delivery;
    }
    delivery.factor = decoded.header.factor;
    if (decoded.header.round != m->round || decoded.header.sender != m->sender)
    {
        delivery.rejection = tadlora::Rejection::Mismatched;
    }
    else if (m->round < open)
    {
        delivery.rejection = tadlora::Rejection::Late;
    }
    else
    {
        delivery.rejection.reset();
        m_round[m->round].factors[{delivery.factor, m->sender}] = std::move(decoded);
    }
    return delivery;
}

void
TadLoraInbox::AddAck(uint64_t round, uint32_t sender)
{
    m_round[round].acks.insert(sender);
}

void
TadLoraInbox::AddConfirmation(uint64_t round, uint32_t sender, uint32_t degree)
{
    m_round[round].confirmations[sender] = degree;
}

bool
TadLoraInbox::HasFactors(uint64_t round, uint32_t sender) const
{
    const auto r = m_round.find(round);
    for (tadlora::Factor factor : m_learner.MixedFactors(round))
    {
        if (r == m_round.end() || r->second.factors.count({factor, sender}) == 0)
        {
            return false;
        }
    }
    return true;
}

bool
TadLoraInbox::HasAck(uint64_t round, uint32_t sender) const
{
    const auto r = m_round.find(round);
    return r != m_round.end() && r->second.acks.count(sender) != 0;
}

std::optional<uint32_t>
TadLoraInbox::Confirmation(uint64_t round, uint32_t sender) const
{
    const auto r = m_round.find(round);
    if (r == m_round.end())
    {
        return std::nullopt;
    }
    const auto c = r->second.confirmations.find(sender);
    return c == r->second.confirmations.end() ? std::nullopt : std::optional<uint32_t>(c->second);
}

const tadlora::FactorMessage&
TadLoraInbox::Factor(uint64_t round, tadlora::Factor factor, uint32_t sender) const
{
    return m_round.at(round).factors.at({factor, sender});
}

void
TadLoraInbox::DropUpTo(uint64_t round)
{
    m_round.erase(m_round.begin(), m_round.upper_bound(round));
    m_reassembler.DropUpTo(round);
}

} // namespace ns3
