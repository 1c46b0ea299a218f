// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_FRAMING_H
#define TADLORA_FRAMING_H

#include <cstdint>
#include <vector>

/**
 * @file
 * Records on a byte stream (TCP): each record is preceded by its length, 4 bytes
 * little-endian. Pure functions, no ns-3 events: a fuzzer can drive them.
 */

namespace ns3
{

/**
 * @brief Append one record to a stream's outgoing bytes.
 * @param stream the bytes not yet sent
 * @param record the record
 * @param size its size
 */
void AppendRecord(std::vector<uint8_t>& stream, const uint8_t* record, uint32_t size);

/**
 * @brief Cut the whole records off the front of a stream's received bytes.
 * @param stream the bytes received and not yet cut; what is left is an incomplete record
 * @return the whole records, in order
 */
std::vector<std::vector<uint8_t>> CutRecords(std::vector<uint8_t>& stream);

} // namespace ns3

#endif // TADLORA_FRAMING_H
