// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-message.h"

#include <libdeflate.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace tadlora
{
namespace
{

constexpr uint8_t kMagic[4] = {'T', 'D', 'L', 'R'};
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

/** @return a float's IEEE binary16 bits, rounded to nearest even (too large: infinity) */
uint16_t
ToHalf(float value)
{
    uint32_t x;
    std::memcpy(&x, &value, sizeof x);
    const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
    const uint32_t magnitude = x & 0x7fffffff;
    if (magnitude >= 0x7f800000) // infinity, or NaN (kept a NaN)
    {
        return sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0);
    }
    if (magnitude >= 0x477ff000) // 65520 and above round to infinity
    {
        return sign | 0x7c00;
    }
    if (magnitude < 0x38800000) // below 2^-14: a subnormal half, in units of 2^-24
    {
        float a;
        std::memcpy(&a, &magnitude, sizeof a);
        return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0F));
    }
    // A normal half: exponent rebiased from 127 to 15, 23 mantissa bits rounded to 10.
    const uint32_t rebiased = magnitude - 0x38000000;
    return sign | static_cast<uint16_t>((rebiased + 0xfff + ((rebiased >> 13) & 1)) >> 13);
}

/** @return the float an IEEE binary16 value is */
float
FromHalf(uint16_t half)
{
    const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
    const uint32_t exponent = (half >> 10) & 0x1f;
    const uint32_t mantissa = half & 0x3ff;
    if (exponent == 0)
    {
        const float magnitude = static_cast<float>(mantissa) / 16777216.0F;
        return sign ? -magnitude : magnitude;
    }
    const uint32_t bits = sign | (exponent == 31 ? 0x7f800000 | (mantissa << 13)
                                                 : ((exponent + 112) << 23) | (mantissa << 13));
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

void
PutFloat(Writer& w, float value)
{
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    w.Put<uint32_t>(bits);
}

float
GetFloat(Reader& r)
{
    const uint32_t bits = r.Get<uint32_t>();
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

/** @brief Write the values as the codec encodes them. */
void
EncodeValues(Writer& w, const MessageHeader& header, const std::vector<float>& values,
             const Codec& codec)
{
    switch (codec.kind)
    {
        case Codec::Kind::Float32:
            for (float v : values)
            {
                PutFloat(w, v);
            }
            break;
        case Codec::Kind::Float16:
            for (float v : values)
            {
                w.Put<uint16_t>(ToHalf(v));
            }
            break;
        case Codec::Kind::Int8:
        {
            size_t at = 0;
            for (const auto& [rows, cols] : header.shapes)
            {
                for (uint32_t row = 0; row < rows; ++row, at += cols)
                {
                    float largest = 0;
                    for (uint32_t c = 0; c < cols; ++c)
                    {
                        largest = std::max(largest, std::abs(values[at + c]));
                    }
                    const float scale = largest / 127;
                    PutFloat(w, scale);
                    for (uint32_t c = 0; c < cols; ++c)
                    {
                        const float q = scale > 0 ? std::nearbyint(values[at + c] / scale) : 0;
                        w.Put<uint8_t>(static_cast<uint8_t>(
                            static_cast<int8_t>(std::clamp(q, -127.0F, 127.0F))));
                    }
                }
            }
            break;
        }
        case Codec::Kind::TopK:
        {
            // The largest in magnitude, ties to the lower index; sent by increasing index.
            std::vector<uint32_t> order(values.size());
            std::iota(order.begin(), order.end(), 0);
            const auto kept = static_cast<ptrdiff_t>(codec.Kept(values.size()));
            std::nth_element(order.begin(), order.begin() + std::max<ptrdiff_t>(kept - 1, 0),
                             order.end(),
                             [&values](uint32_t i, uint32_t j)
                             {
                                 const float a = std::abs(values[i]);
                                 const float b = std::abs(values[j]);
                                 return a > b || (a == b && i < j);
                             });
            std::sort(order.begin(), order.begin() + kept);
            w.Put<uint32_t>(static_cast<uint32_t>(kept));
            for (ptrdiff_t k = 0; k < kept; ++k)
            {
                w.Put<uint32_t>(order[k]);
            }
            for (ptrdiff_t k = 0; k < kept; ++k)
            {
                PutFloat(w, values[order[k]]);
            }
            break;
        }
    }
}

/** @brief Read the values a codec encoded, into n floats. */
std::vector<float>
DecodeValues(Reader& r, uint64_t bodyEnd, const MessageHeader& header, Codec::Kind kind)
{
    const uint64_t n = header.ValueCount();
    const uint64_t bytes = bodyEnd - r.Position();
    uint64_t rows = 0;
    for (const auto& shape : header.shapes)
    {
        rows += shape.first;
    }
    const uint64_t kept = kind == Codec::Kind::TopK ? r.Get<uint32_t>() : 0;
    const uint64_t expected = kind == Codec::Kind::Float32   ? 4 * n
                              : kind == Codec::Kind::Float16 ? 2 * n
                              : kind == Codec::Kind::Int8    ? 4 * rows + n
                                                             : 4 + 8 * kept;
    if (bytes != expected || kept > n)
    {
        throw MessageError(Rejection::Malformed, "factor message's values do not match its shapes");
    }
    std::vector<float> values(n, 0.0F);
    switch (kind)
    {
        case Codec::Kind::Float32:
            for (float& v : values)
            {
                v = GetFloat(r);
            }
            break;
        case Codec::Kind::Float16:
            for (float& v : values)
            {
                v = FromHalf(r.Get<uint16_t>());
            }
            break;
        case Codec::Kind::Int8:
        {
            size_t at = 0;
            for (const auto& [layerRows, cols] : header.shapes)
            {
                for (uint32_t row = 0; row < layerRows; ++row, at += cols)
                {
                    const float scale = GetFloat(r);
                    for (uint32_t c = 0; c < cols; ++c)
                    {
                        values[at + c] = static_cast<int8_t>(r.Get<uint8_t>()) * scale;
                    }
                }
            }
            break;
        }
        case Codec::Kind::TopK:
        {
            std::vector<uint32_t> indices(kept);
            for (uint64_t k = 0; k < kept; ++k)
            {
                indices[k] = r.Get<uint32_t>();
                if (indices[k] >= n || (k > 0 && indices[k] <= indices[k - 1]))
                {
                    throw MessageError(Rejection::Malformed,
                                       "factor message's indices are not increasing values'");
                }
            }
            for (uint32_t index : indices)
            {
                values[index] = GetFloat(r);
            }
            break;
        }
    }
    return values;
}

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

Codec
Codec::Parse(const std::string& text)
{
    static const std::string topk = "topk:";
    Codec codec;
    if (text == "fp16")
    {
        codec.kind = Kind::Float16;
    }
    else if (text == "int8")
    {
        codec.kind = Kind::Int8;
    }
    else if (text.rfind(topk, 0) == 0)
    {
        codec.kind = Kind::TopK;
        size_t used = 0;
        try
        {
            codec.fraction = std::stod(text.substr(topk.size()), &used);
        }
        catch (const std::exception&)
        {
            used = 0;
        }
        if (used == 0 || topk.size() + used != text.size() || !(codec.fraction > 0) ||
            codec.fraction > 1)
        {
            throw std::invalid_argument("topk:F needs a fraction 0 < F <= 1, not '" +
                                        text.substr(topk.size()) + "'");
        }
    }
    else if (text != "none")
    {
        throw std::invalid_argument("'" + text + "' is not none, fp16, int8 or topk:F");
    }
    return codec;
}

uint64_t
Codec::Kept(uint64_t n) const
{
    return n == 0 ? 0 : std::clamp<uint64_t>(static_cast<uint64_t>(std::ceil(fraction * n)), 1, n);
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
EncodeMessage(const MessageHeader& header, const std::vector<float>& values, const Codec& codec)
{
    if (header.ValueCount() != values.size())
    {
        throw std::invalid_argument("factor message: shapes do not match the values");
    }
    std::vector<uint8_t> out(std::begin(kMagic), std::end(kMagic));
    out.reserve(64 + 8 * header.shapes.size() + 4 * values.size());
    Writer w(out);
    w.Put<uint16_t>(MessageHeader::kVersion);
    w.Put<uint8_t>(static_cast<uint8_t>(codec.kind));
    w.Put<uint8_t>(static_cast<uint8_t>(header.factor));
    w.Put<uint32_t>(header.sender);
    w.Put<uint64_t>(header.round);
    w.Put<uint32_t>(static_cast<uint32_t>(header.shapes.size()));
    for (const auto& [rows, cols] : header.shapes)
    {
        w.Put<uint32_t>(rows);
        w.Put<uint32_t>(cols);
    }
    EncodeValues(w, header, values, codec);
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
    const uint8_t dtype = r.Get<uint8_t>();
    if (dtype > static_cast<uint8_t>(Codec::Kind::TopK))
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
    decoded.values = DecodeValues(r, bodyEnd, decoded.header, static_cast<Codec::Kind>(dtype));
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
