// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_MESSAGE_H
#define TADLORA_MESSAGE_H

#include "tadlora-method.h"

#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

/**
 * @file
 * The wire format of one client's LoRA factor: a versioned header, the shapes of every adapted
 * layer's tensor, float32 values and a CRC-32 over everything before it. Little-endian.
 */

namespace tadlora
{

/** @brief Raised for a message that is truncated, corrupted or of an unknown version. */
class MessageError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

/** @brief What a factor message says about itself. */
struct MessageHeader
{
    static constexpr uint16_t kVersion = 1; //!< current wire version

    uint32_t sender = 0;       //!< sending client
    uint64_t round = 0;        //!< round the factor was trained in
    Factor factor = Factor::A; //!< which factor
    uint32_t senderDegree = 0; //!< sender's degree in the round's intended graph (for weights)
    /** rows and columns of each adapted layer's tensor, in the model's layer order */
    std::vector<std::pair<uint32_t, uint32_t>> shapes;

    /** @return the number of float values the shapes add up to */
    uint64_t ValueCount() const;
};

/** @brief A decoded message: the header and where its values start. */
struct DecodedMessage
{
    MessageHeader header;      //!< the header
    uint64_t valuesOffset = 0; //!< byte offset of the first float32 value
};

/**
 * @brief Encode a factor message.
 * @param header the header; its shapes must add up to values.size()
 * @param values the factor's values, layer after layer, each row-major
 * @return the bytes to send
 */
std::vector<uint8_t> EncodeMessage(const MessageHeader& header, const std::vector<float>& values);

/**
 * @brief Check and decode a message's header.
 * @param bytes a whole message
 * @return the header and the values' offset
 * @throws MessageError if the message is truncated, of another version, or fails its CRC-32
 */
DecodedMessage DecodeMessage(const std::vector<uint8_t>& bytes);

/**
 * @brief Read a decoded message's values.
 * @param bytes the message that DecodeMessage accepted
 * @param decoded what DecodeMessage returned for it
 * @return the values, layer after layer
 */
std::vector<float> MessageValues(const std::vector<uint8_t>& bytes, const DecodedMessage& decoded);

} // namespace tadlora

#endif // TADLORA_MESSAGE_H
