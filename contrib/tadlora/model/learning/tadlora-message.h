// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_MESSAGE_H
#define TADLORA_MESSAGE_H

#include "tadlora-method.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

/**
 * @file
 * The wire formats, little-endian. A factor message: a versioned header with its dtype (Codec),
 * the shapes of every adapted layer's tensor, the encoded values and a CRC-32 over everything
 * before it. On the network
 * every datagram (or length-prefixed TCP record) is one record: a fragment of a factor message,
 * or a control record (an acknowledgement or a confirmation of the mixing protocol, or a
 * neighbour-discovery beacon).
 */

namespace tadlora
{

/** @brief Why a received factor message was refused: each reason is counted on its own. */
enum class Rejection : uint8_t
{
    Short,      //!< short: its fragments carried less than its size
    Malformed,  //!< malformed: not a factor message, or its sizes do not add up
    Checksum,   //!< checksum: it fails its CRC-32
    Version,    //!< version: a wire version or dtype this build does not read
    Shape,      //!< shape: its factor's shapes are not the model's
    NonFinite,  //!< non-finite: a value is NaN or infinite
    Magnitude,  //!< magnitude: a value exceeds the bound on |value|
    Mismatched, //!< mismatched: its header disagrees with its fragments' sender or round
    Late,       //!< late: its round no longer takes factors
};

/** @return every Rejection, in order */
const std::vector<Rejection>& AllRejections();

/** @return the reason's name in traces and summaries ("checksum", "non-finite", ...) */
const char* RejectionName(Rejection reason);

/** @brief Raised for a message or record that is refused; says why. */
class MessageError : public std::runtime_error
{
public:
    /**
     * @param reason why
     * @param what the details
     */
    MessageError(Rejection reason, const std::string& what)
        : std::runtime_error(what)
        , m_reason(reason)
    {
    }

    /** @return why the message was refused */
    Rejection Reason() const
    {
        return m_reason;
    }

private:
    Rejection m_reason; //!< why
};

/** @brief How a factor's values travel (--compress): the message's dtype. */
struct Codec
{
    /** @brief The encodings, as the dtype byte of a message spells them. */
    enum class Kind : uint8_t
    {
        Float32 = 0, //!< none: 4 bytes a value
        Float16 = 1, //!< fp16: IEEE binary16, rounded to nearest even; 2 bytes a value
        Int8 = 2, //!< int8: per row of each layer a float32 scale max|x| / 127, then a byte a value
        TopK = 3, //!< topk:F: the ceil(F n) values largest in magnitude, each with its index
    };

    Kind kind = Kind::Float32; //!< the encoding
    double fraction = 1;       //!< TopK: the share of the values kept, in (0, 1]

    /**
     * @param text none, fp16, int8 or topk:F with 0 < F <= 1
     * @return the codec it names
     * @throws std::invalid_argument naming what is allowed
     */
    static Codec Parse(const std::string& text);

    /** @return how many values of n a TopK message keeps: ceil(F n), at least 1 */
    uint64_t Kept(uint64_t n) const;
};

/** @brief What a factor message says about itself. */
struct MessageHeader
{
    static constexpr uint16_t kVersion = 2; //!< current wire version (2: no sender degree)

    uint32_t sender = 0;       //!< sending client
    uint64_t round = 0;        //!< round the factor was trained in
    Factor factor = Factor::A; //!< which factor
    /** rows and columns of each adapted layer's tensor, in the model's layer order */
    std::vector<std::pair<uint32_t, uint32_t>> shapes;

    /** @return the number of float values the shapes add up to */
    uint64_t ValueCount() const;
};

/** @brief A decoded factor message. */
struct FactorMessage
{
    MessageHeader header;      //!< the header
    std::vector<float> values; //!< the factor's values, layer after layer, each row-major
};

/**
 * @brief Encode a factor message.
 * @param header the header; its shapes must add up to values.size()
 * @param values the factor's values, layer after layer, each row-major
 * @param codec how the values travel; the CRC-32 covers the encoded bytes
 * @return the bytes to send
 */
std::vector<uint8_t> EncodeMessage(const MessageHeader& header, const std::vector<float>& values,
                                   const Codec& codec = Codec());

/**
 * @brief Check and decode a whole message, of any codec.
 * @param bytes a whole message
 * @return its header and values (a TopK message's values it did not keep are 0)
 * @throws MessageError if the message is truncated or its sizes or indices do not add up
 *         (Malformed), fails its CRC-32 (Checksum), or is of another version or dtype (Version)
 */
FactorMessage DecodeMessage(const std::vector<uint8_t>& bytes);

/** @brief What a record carries. */
enum class RecordKind : uint8_t
{
    Fragment = 1, //!< a piece of a factor message
    Ack = 2,      //!< "I hold all your factors of this round"
    Confirm = 3,  //!< "I will mix with you this round; my confirmed degree is ..."
    Hello = 4,    //!< a one-hop neighbour-discovery beacon
};

/** @brief The header in front of each fragment of a factor message. */
struct FragmentHeader
{
    static constexpr uint32_t kSize = 31; //!< encoded size in bytes

    uint32_t sender = 0;       //!< sending client
    uint32_t messageId = 0;    //!< the sender's number for the message
    uint64_t round = 0;        //!< round of the factor, so stale pieces can be dropped
    uint32_t index = 0;        //!< this fragment's index
    uint32_t count = 0;        //!< fragments of the message
    uint32_t messageBytes = 0; //!< real bytes of the message; the rest is virtual padding
};

/** @brief An acknowledgement, a confirmation or a beacon. */
struct ControlRecord
{
    static constexpr uint32_t kSize = 19; //!< encoded size in bytes

    RecordKind kind = RecordKind::Ack; //!< Ack, Confirm or Hello
    uint32_t sender = 0;               //!< sending client
    uint64_t round = 0;                //!< the round it is about (a Hello: the sender's)
    uint32_t degree = 0;               //!< a confirmation's confirmed degree; 0 in an Ack
};

/**
 * @param header a fragment's header
 * @return the encoded header; the fragment's bytes follow it
 */
std::vector<uint8_t> EncodeFragmentHeader(const FragmentHeader& header);

/**
 * @param record a control record
 * @return the encoded record
 */
std::vector<uint8_t> EncodeControl(const ControlRecord& record);

/**
 * @param record a received datagram or TCP record
 * @return its kind
 * @throws MessageError if it is not a record
 */
RecordKind KindOf(const std::vector<uint8_t>& record);

/**
 * @param record a record of kind Fragment
 * @return its header; the fragment's bytes start at FragmentHeader::kSize
 * @throws MessageError if the header is truncated or inconsistent
 */
FragmentHeader DecodeFragmentHeader(const std::vector<uint8_t>& record);

/**
 * @param record a record of kind Ack, Confirm or Hello
 * @return the record
 * @throws MessageError if it is truncated
 */
ControlRecord DecodeControl(const std::vector<uint8_t>& record);

} // namespace tadlora

#endif // TADLORA_MESSAGE_H
