// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-reassembler.h"

#include <algorithm>

namespace ns3
{

std::vector<TadLoraFragment>
FragmentMessage(const std::vector<uint8_t>& message, tadlora::FragmentHeader header, uint32_t maxRecord,
         uint32_t wireBytes)
{
    const uint32_t chunk = maxRecord - tadlora::FragmentHeader::kSize;
    wireBytes = static_cast<uint32_t>(std::max<size_t>(message.size(), wireBytes));
    header.count = (wireBytes + chunk - 1) / chunk;
    header.messageBytes = static_cast<uint32_t>(message.size());
    std::vector<TadLoraFragment> fragments;
    for (header.index = 0; header.index < header.count; ++header.index)
    {
        std::vector<uint8_t> record = tadlora::EncodeFragmentHeader(header);
        const size_t begin = std::min<size_t>(message.size(), size_t{header.index} * chunk);
        const size_t end = std::min<size_t>(message.size(), begin + chunk);
        record.insert(record.end(), message.begin() + begin, message.begin() + end);
        const auto padding = static_cast<uint32_t>(
            std::min(chunk, wireBytes - header.index * chunk) - (end - begin));
        fragments.push_back({std::move(record), padding});
    }
    return fragments;
}

std::optional<TadLoraReassembler::Message>
TadLoraReassembler::Add(const tadlora::FragmentHeader& header, const uint8_t* data, size_t size)
{
    if (header.index >= header.count)
    {
        return std::nullopt; // DecodeFragmentHeader refuses these; a fuzzer may not
    }
    const std::pair<uint32_t, uint32_t> key{header.sender, header.messageId};
    Partial& p = m_partial[key];
    if (p.count == 0)
    {
        p.round = header.round;
        p.count = header.count;
        p.messageBytes = header.messageBytes;
    }
    if (p.count != header.count || p.round != header.round || p.fragments.count(header.index) != 0)
    {
        return std::nullopt;
    }
    p.fragments[header.index].assign(data, data + size);
    if (p.fragments.size() < p.count)
    {
        return std::nullopt;
    }
    Message m{header.sender, header.messageId, p.round, header.count, 0, {}, false};
    for (const auto& [index, part] : p.fragments)
    {
        m.bytes.insert(m.bytes.end(), part.begin(), part.end());
    }
    m.wireBytes = static_cast<uint32_t>(m.bytes.size());
    m.complete = m.bytes.size() >= p.messageBytes;
    if (m.complete)
    {
        m.bytes.resize(p.messageBytes); // drop the virtual padding
    }
    m_partial.erase(key);
    return m;
}

void
TadLoraReassembler::DropUpTo(uint64_t round)
{
    for (auto it = m_partial.begin(); it != m_partial.end();)
    {
        it = it->second.round <= round ? m_partial.erase(it) : std::next(it);
    }
}

size_t
TadLoraReassembler::Pending() const
{
    return m_partial.size();
}

} // namespace ns3
