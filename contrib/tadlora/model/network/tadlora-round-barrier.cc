// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-round-barrier.h"

#include "ns3/simulator.h"

namespace ns3
{

void
TadLoraRoundBarrier::Join()
{
    ++m_members;
}

void
TadLoraRoundBarrier::Arrive(std::function<void()> next)
{
    m_waiting.push_back(std::move(next));
    if (m_waiting.size() < m_members)
    {
        return;
    }
    for (auto& start : m_waiting)
    {
        Simulator::ScheduleNow(start);
    }
    m_waiting.clear();
    m_exchangeOpened.reset();
}

Time
TadLoraRoundBarrier::OpenExchange()
{
    if (!m_exchangeOpened)
    {
        m_exchangeOpened = Simulator::Now();
    }
    return *m_exchangeOpened;
}

} // namespace ns3
