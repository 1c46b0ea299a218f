// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-transport.h"

#include "tadlora-reassembler.h"

#include "ns3/packet.h"

namespace ns3
{

uint32_t
TadLoraTransport::SendMessage(uint64_t round, std::optional<uint32_t> peer,
                              const std::vector<uint8_t>& message,
                              const tadlora::FragmentHeader& header, uint32_t maxRecord,
                              uint32_t wireBytes)
{
    const std::vector<TadLoraFragment> fragments =
        FragmentMessage(message, header, maxRecord, wireBytes);
    for (const TadLoraFragment& fragment : fragments)
    {
        Ptr<Packet> packet = Create<Packet>(fragment.record.data(), fragment.record.size());
        packet->AddPaddingAtEnd(fragment.padding);
        Send(round, peer, packet, false);
    }
    return static_cast<uint32_t>(fragments.size());
}

} // namespace ns3
