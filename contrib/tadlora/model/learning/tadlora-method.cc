// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-method.h"

#include <iterator>
#include <stdexcept>

namespace tadlora
{

bool
RoundPlan::Trains(Factor factor) const
{
    return factor == Factor::A ? trainA : trainB;
}

std::vector<Factor>
RoundPlan::MixedFactors() const
{
    std::vector<Factor> factors;
    if (mixA)
    {
        factors.push_back(Factor::A);
    }
    if (mixB)
    {
        factors.push_back(Factor::B);
    }
    return factors;
}

std::string
RoundPlan::TrainedLabel() const
{
    return std::string(trainA ? "A" : "") + (trainB ? "B" : "");
}

const Method::Row Method::kTable[] = {
    {"lora", Trains::Both, Mixes::Both, 0},
    {"ffa-lora", Trains::BOnly, Mixes::Trained, 0},
    {"rolora", Trains::Phase, Mixes::Trained, 1},
    {"tad-lora-no-joint", Trains::Phase, Mixes::Trained, 0},
    {"tad-lora", Trains::Phase, Mixes::Both, 0},
};

Method::Method(const std::string& name, uint32_t switchInterval)
    : m_row(nullptr)
{
    for (const Row& row : kTable)
    {
        if (name == row.name)
        {
            m_row = &row;
        }
    }
    if (m_row == nullptr)
    {
        std::string allowed;
        for (const std::string& n : Names())
        {
            allowed += (allowed.empty() ? "" : ", ") + n;
        }
        throw std::invalid_argument("unknown method '" + name + "' (allowed: " + allowed + ")");
    }
    if (switchInterval < 1)
    {
        throw std::invalid_argument("switch interval must be >= 1");
    }
    m_name = m_row->name;
    m_switchInterval = m_row->fixedInterval != 0 ? m_row->fixedInterval : switchInterval;
}

std::vector<std::string>
Method::Names()
{
    std::vector<std::string> names;
    for (const Row& row : kTable)
    {
        names.emplace_back(row.name);
    }
    return names;
}

const std::string&
Method::Name() const
{
    return m_name;
}

uint32_t
Method::SwitchInterval() const
{
    return m_switchInterval;
}

bool
Method::Alternates() const
{
    return m_row->trains == Trains::Phase;
}

bool
Method::TakesSwitchInterval() const
{
    return Alternates() && m_row->fixedInterval == 0;
}

Factor
Method::Phase(uint64_t round) const
{
    return (round / m_switchInterval) % 2 == 0 ? Factor::B : Factor::A;
}

RoundPlan
Method::Plan(uint64_t round) const
{
    RoundPlan plan{};
    switch (m_row->trains)
    {
        case Trains::Both:
            plan.trainA = plan.trainB = true;
            break;
        case Trains::BOnly:
            plan.trainB = true;
            break;
        case Trains::Phase:
            plan.trainA = Phase(round) == Factor::A;
            plan.trainB = Phase(round) == Factor::B;
            break;
    }
    plan.mixA = m_row->mixes == Mixes::Both || plan.trainA;
    plan.mixB = m_row->mixes == Mixes::Both || plan.trainB;
    return plan;
}

} // namespace tadlora
