// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-framing.h"

#include <algorithm>

namespace ns3
{

namespace
{
constexpr size_t kPrefix = 4; //!< bytes of the length prefix
} // namespace

void
AppendRecord(std::vector<uint8_t>& stream, const uint8_t* record, uint32_t size)
{
    for (size_t i = 0; i < kPrefix; ++i)
    {
        stream.push_back(static_cast<uint8_t>(size >> (8 * i)));
    }
    stream.insert(stream.end(), record, record + size);
}

std::vector<std::vector<uint8_t>>
CutRecords(std::vector<uint8_t>& stream)
{
    std::vector<std::vector<uint8_t>> records;
    size_t used = 0;
    while (stream.size() - used >= kPrefix)
    {
        uint32_t size = 0;
        for (size_t i = 0; i < kPrefix; ++i)
        {
            size |= static_cast<uint32_t>(stream[used + i]) << (8 * i);
        }
        if (stream.size() - used - kPrefix < size)
        {
            break;
        }
        const auto begin = stream.begin() + static_cast<std::ptrdiff_t>(used + kPrefix);
        records.emplace_back(begin, begin + size);
        used += kPrefix + size;
    }
    stream.erase(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(used));
    return records;
}

} // namespace ns3
