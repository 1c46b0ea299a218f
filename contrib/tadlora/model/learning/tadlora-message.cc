// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-message.h"

#include <libdeflate.h>

#include <cstring>

namespace tadlora
{
namespace
{

constexpr uint8_t kMagic[4] = {'T', 'D', 'L', 'R'};
constexpr uint8_t kFloat32 = 0;
constexpr uint16_t kRecordMagic = 0x4c74; //!< "tL"

/** @brief Appends little-endian integers to a byte vector. */
class Writer
{
public:
    explicit Writer(std::vector<uint8_t>& out)
        : m_out(out)
    {
    }

    template<typename T>
    void Put(T value)
    {
        for (size_t i = 0; i < sizeof(T); ++i)
        {
            m_out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i)));
        }
    }

private:
    std::vector<uint8_t>& m_out;
};

/** @brief Reads little-endian integers, refusing to run past the end. */
class Reader
{
public:
    Reader(const std::vector<uint8_t>& in, uint64_t begin, uint64_t end)
        : m_in(in)
        , m_end(end)
        , m_pos(begin)
    {
    }

    template<typename T>
    T Get()
    {
        if (m_pos + sizeof(T) > m_end)
        {
            throw MessageError(Rejection::Malformed, "message truncated");
        }
        uint64_t value = 0;
        for (size_t i = 0; i < sizeof(T); ++i)
        {
            value |= static_cast<uint64_t>(m_in[m_pos + i]) << (8 * i);
        }
        m_pos += sizeof(T);
        return static_cast<T>(value);
    }

    uint64_t Position() const
    {
        return m_pos;
    }

private:
    const std::vector<uint8_t>& m_in;
    uint64_t m_end;
    uint64_t m_pos;
};

uint32_t
Crc32(const uint8_t* data, uint64_t size)
{
    return libdeflate_crc32(0, data, size);
}

/** A record's magic and kind, the first three bytes of every record. */
std::vector<uint8_t>
RecordStart(RecordKind kind, size_t size)
{
    std::vector<uint8_t> out;
    out.reserve(size);
    Writer w(out);
    w.Put<uint16_t>(kRecordMagic);
    w.Put<uint8_t>(static_cast<uint8_t>(kind));
    return out;
}

} // namespace

const std::vector<Rejection>&
AllRejections()
{
    static const std::vector<Rejection> all{
        Rejection::Short,     Rejection::Malformed,  Rejection::Checksum,
        Rejection::Version,   Rejection::Shape,      Rejection::NonFinite,
        Rejection::Magnitude, Rejection::Mismatched, Rejection::Late};
    return all;
}

const char*
RejectionName(Rejection reason)
{
    static const char* const names[] = {"short",      "malformed", "checksum",   "version", "shape",
                                        "non-finite", "magnitude", "mismatched", "late"};
    return names[static_cast<size_t>(reason)];
}

uint64_t
MessageHeader::ValueCount() const
{
    uint64_t count = 0;
    for (const auto& [rows, cols] : shapes)
    {
        count += static_cast<uint64_t>(rows) * cols;
    }
    return count;
}

std::vector<uint8_t>
EncodeMessage(const MessageHeader& header, const std::vector<float>& values)
{
    if (header.ValueCount() != values.size())
    {
        throw std::invalid_argument("factor message: shapes do not match the values");
    }
    std::vector<uint8_t> out(std::begin(kMagic), std::end(kMagic));
    out.reserve(64 + 8 * header.shapes.size() + 4 * values.size());
    Writer w(out);
    w.Put<uint16_t>(MessageHeader::kVersion);
    w.Put<uint8_t>(kFloat32);
    w.Put<uint8_t>(static_cast<uint8_t>(header.factor));
    w.Put<uint32_t>(header.sender);
    w.Put<uint64_t>(header.round);
    w.Put<uint32_t>(static_cast<uint32_t>(header.shapes.size()));
    for (const auto& [rows, cols] : header.shapes)
    {
        w.Put<uint32_t>(rows);
        w.Put<uint32_t>(cols);
    }
    for (float v : values)
    {
        uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        w.Put<uint32_t>(bits);
    }
    w.Put<uint32_t>(Crc32(out.data(), out.size()));
    return out;
}

FactorMessage
DecodeMessage(const std::vector<uint8_t>& bytes)
{
    if (bytes.size() < sizeof kMagic + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    {
        throw MessageError(Rejection::Malformed, "not a factor message");
    }
    const uint64_t bodyEnd = bytes.size() - 4;
    if (Reader(bytes, bodyEnd, bytes.size()).Get<uint32_t>() != Crc32(bytes.data(), bodyEnd))
    {
        throw MessageError(Rejection::Checksum, "factor message fails its CRC-32");
    }
    Reader r(bytes, sizeof kMagic, bodyEnd);
    if (r.Get<uint16_t>() != MessageHeader::kVersion)
    {
        throw MessageError(Rejection::Version, "factor message of an unknown version");
    }
    if (r.Get<uint8_t>() != kFloat32)
    {
        throw MessageError(Rejection::Version, "factor message of an unknown dtype");
    }
    FactorMessage decoded;
    const uint8_t factor = r.Get<uint8_t>();
    if (factor > 1)
    {
        throw MessageError(Rejection::Malformed, "factor message names an unknown factor");
    }
    decoded.header.factor = static_cast<Factor>(factor);
    decoded.header.sender = r.Get<uint32_t>();
    decoded.header.round = r.Get<uint64_t>();
    const uint32_t layers = r.Get<uint32_t>();
    if (layers > (bodyEnd - r.Position()) / 8)
    {
        throw MessageError(Rejection::Malformed, "message truncated");
    }
    for (uint32_t l = 0; l < layers; ++l)
    {
        const uint32_t rows = r.Get<uint32_t>();
        decoded.header.shapes.emplace_back(rows, r.Get<uint32_t>());
    }
    const uint64_t valueBytes = bodyEnd - r.Position();
    if (valueBytes % 4 != 0 || decoded.header.ValueCount() != valueBytes / 4)
    {
        throw MessageError(Rejection::Malformed, "factor message's values do not match its shapes");
    }
    decoded.values.resize(decoded.header.ValueCount());
    for (float& v : decoded.values)
    {
        const uint32_t bits = r.Get<uint32_t>();
        std::memcpy(&v, &bits, sizeof v);
    }
    return decoded;
}

std::vector<uint8_t>
EncodeFragmentHeader(const FragmentHeader& header)
{
    std::vector<uint8_t> out = RecordStart(RecordKind::Fragment, FragmentHeader::kSize);
    Writer w(out);
    w.Put<uint32_t>(header.sender);
    w.Put<uint32_t>(header.messageId);
    w.Put<uint64_t>(header.round);
    w.Put<uint32_t>(header.index);
    w.Put<uint32_t>(header.count);
    w.Put<uint32_t>(header.messageBytes);
    return out;
}

std::vector<uint8_t>
EncodeControl(const ControlRecord& record)
{
    std::vector<uint8_t> out = RecordStart(record.kind, ControlRecord::kSize);
    Writer w(out);
    w.Put<uint32_t>(record.sender);
    w.Put<uint64_t>(record.round);
    w.Put<uint32_t>(record.degree);
    return out;
}

RecordKind
KindOf(const std::vector<uint8_t>& record)
{
    Reader r(record, 0, record.size());
    if (record.size() < 3 || r.Get<uint16_t>() != kRecordMagic)
    {
        throw MessageError(Rejection::Malformed, "not a record");
    }
    const uint8_t kind = r.Get<uint8_t>();
    if (kind < static_cast<uint8_t>(RecordKind::Fragment) ||
        kind > static_cast<uint8_t>(RecordKind::Hello))
    {
        throw MessageError(Rejection::Malformed, "record of an unknown kind");
    }
    return static_cast<RecordKind>(kind);
}

FragmentHeader
DecodeFragmentHeader(const std::vector<uint8_t>& record)
{
    Reader r(record, 3, record.size());
    FragmentHeader header;
    header.sender = r.Get<uint32_t>();
    header.messageId = r.Get<uint32_t>();
    header.round = r.Get<uint64_t>();
    header.index = r.Get<uint32_t>();
    header.count = r.Get<uint32_t>();
    header.messageBytes = r.Get<uint32_t>();
    if (header.index >= header.count)
    {
        throw MessageError(Rejection::Malformed, "fragment index out of range");
    }
    return header;
}

ControlRecord
DecodeControl(const std::vector<uint8_t>& record)
{
    ControlRecord control;
    control.kind = KindOf(record);
    Reader r(record, 3, record.size());
    control.sender = r.Get<uint32_t>();
    control.round = r.Get<uint64_t>();
    control.degree = r.Get<uint32_t>();
    return control;
}

} // namespace tadlora
