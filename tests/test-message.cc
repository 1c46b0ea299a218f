// SPDX-License-Identifier: GPL-2.0-only
// The factor message's wire format: round trips, and damage of any kind is refused.

#include "tadlora-message.h"

#include <gtest/gtest.h>
#include <libdeflate.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

using namespace tadlora;

namespace
{

MessageHeader
SampleHeader()
{
    MessageHeader header;
    header.sender = 7;
    header.round = 123456789012ULL;
    header.factor = Factor::B;
    header.shapes = {{3, 2}, {1, 4}};
    return header;
}

std::vector<float>
SampleValues()
{
    return {1.5f, -2.25f, 0.0f, 3.0e-8f, -1.0e30f, 42.0f, 0.1f, 0.2f, 0.3f, -0.4f};
}

/** @return why DecodeMessage refuses bytes; fails the test if it does not */
Rejection
WhyRefused(const std::vector<uint8_t>& bytes)
{
    try
    {
        DecodeMessage(bytes);
    }
    catch (const MessageError& e)
    {
        return e.Reason();
    }
    ADD_FAILURE() << "accepted";
    return Rejection::Late;
}

} // namespace

TEST(Message, RoundTripsHeaderAndValuesExactly)
{
    const std::vector<uint8_t> bytes = EncodeMessage(SampleHeader(), SampleValues());
    // magic, version, dtype, factor, sender, round, layers, shapes, values, CRC-32
    EXPECT_EQ(bytes.size(), 4u + 2 + 1 + 1 + 4 + 8 + 4 + 2 * 8 + 10 * 4 + 4);
    const FactorMessage decoded = DecodeMessage(bytes);
    EXPECT_EQ(decoded.header.sender, 7u);
    EXPECT_EQ(decoded.header.round, 123456789012ULL);
    EXPECT_EQ(decoded.header.factor, Factor::B);
    EXPECT_EQ(decoded.header.shapes, SampleHeader().shapes);
    EXPECT_EQ(decoded.values, SampleValues());
}

TEST(Message, AnotherVersionIsRejectedEvenWithAValidChecksum)
{
    std::vector<uint8_t> bytes = EncodeMessage(SampleHeader(), SampleValues());
    ASSERT_EQ(bytes[4], MessageHeader::kVersion); // little-endian, after the 4-byte magic
    bytes[4] = 1;                                 // version 1 carried the sender's degree
    const size_t body = bytes.size() - 4;
    const uint32_t crc = libdeflate_crc32(0, bytes.data(), body);
    for (size_t k = 0; k < 4; ++k)
    {
        bytes[body + k] = static_cast<uint8_t>(crc >> (8 * k));
    }
    EXPECT_EQ(WhyRefused(bytes), Rejection::Version);
}

TEST(Message, EveryFlippedByteIsRejected)
{
    const std::vector<uint8_t> bytes = EncodeMessage(SampleHeader(), SampleValues());
    for (size_t i = 0; i < bytes.size(); ++i)
    {
        std::vector<uint8_t> damaged = bytes;
        damaged[i] ^= 0x10;
        // The magic says it is no factor message at all; any other byte fails the CRC-32.
        EXPECT_EQ(WhyRefused(damaged), i < 4 ? Rejection::Malformed : Rejection::Checksum)
            << "byte " << i;
    }
}

TEST(Message, TruncatedOrPaddedMessagesAreRejected)
{
    const std::vector<uint8_t> bytes = EncodeMessage(SampleHeader(), SampleValues());
    for (size_t size : {size_t(0), size_t(3), size_t(10), bytes.size() - 5, bytes.size() - 1})
    {
        EXPECT_THROW(DecodeMessage(std::vector<uint8_t>(bytes.begin(), bytes.begin() + size)),
                     MessageError)
            << "size " << size;
    }
    std::vector<uint8_t> padded = bytes;
    padded.push_back(0);
    EXPECT_THROW(DecodeMessage(padded), MessageError);
}

TEST(Message, EveryReasonHasItsOwnName)
{
    std::set<std::string> names;
    for (Rejection reason : AllRejections())
    {
        names.insert(RejectionName(reason));
    }
    EXPECT_EQ(names.size(), 9u);
    EXPECT_STREQ(RejectionName(Rejection::NonFinite), "non-finite");
    EXPECT_STREQ(RejectionName(Rejection::Late), "late");
}

TEST(Message, ShapesThatDoNotMatchTheValuesCannotBeEncoded)
{
    std::vector<float> values = SampleValues();
    values.pop_back();
    EXPECT_THROW(EncodeMessage(SampleHeader(), values), std::invalid_argument);
}

TEST(Record, FragmentHeaderRoundTrips)
{
    FragmentHeader header;
    header.sender = 3;
    header.messageId = 0xdeadbeef;
    header.round = 1ULL << 40;
    header.index = 5;
    header.count = 9;
    header.messageBytes = 8333;
    const std::vector<uint8_t> bytes = EncodeFragmentHeader(header);
    ASSERT_EQ(bytes.size(), FragmentHeader::kSize);
    EXPECT_EQ(KindOf(bytes), RecordKind::Fragment);
    const FragmentHeader decoded = DecodeFragmentHeader(bytes);
    EXPECT_EQ(decoded.sender, 3u);
    EXPECT_EQ(decoded.messageId, 0xdeadbeefu);
    EXPECT_EQ(decoded.round, 1ULL << 40);
    EXPECT_EQ(decoded.index, 5u);
    EXPECT_EQ(decoded.count, 9u);
    EXPECT_EQ(decoded.messageBytes, 8333u);
}

TEST(Record, ControlRecordRoundTrips)
{
    const std::vector<uint8_t> bytes = EncodeControl({RecordKind::Confirm, 12, 77, 4});
    ASSERT_EQ(bytes.size(), ControlRecord::kSize);
    const ControlRecord decoded = DecodeControl(bytes);
    EXPECT_EQ(decoded.kind, RecordKind::Confirm);
    EXPECT_EQ(decoded.sender, 12u);
    EXPECT_EQ(decoded.round, 77u);
    EXPECT_EQ(decoded.degree, 4u);
}

TEST(Record, DamagedRecordsAreRefused)
{
    FragmentHeader header;
    header.index = 2;
    header.count = 2; // index out of range
    EXPECT_THROW(DecodeFragmentHeader(EncodeFragmentHeader(header)), MessageError);
    std::vector<uint8_t> control = EncodeControl({RecordKind::Ack, 1, 2, 0});
    control.pop_back();
    EXPECT_THROW(DecodeControl(control), MessageError);
    EXPECT_THROW(KindOf({0x74, 0x4c, 9}), MessageError);
    EXPECT_THROW(KindOf({0x00, 0x4c, 1}), MessageError);
    EXPECT_THROW(KindOf({0x74}), MessageError);
}

TEST(Codec, ParsesItsSpellingsAndRefusesOthers)
{
    EXPECT_EQ(Codec::Parse("none").kind, Codec::Kind::Float32);
    EXPECT_EQ(Codec::Parse("fp16").kind, Codec::Kind::Float16);
    EXPECT_EQ(Codec::Parse("int8").kind, Codec::Kind::Int8);
    const Codec topk = Codec::Parse("topk:0.25");
    EXPECT_EQ(topk.kind, Codec::Kind::TopK);
    EXPECT_EQ(topk.fraction, 0.25);
    EXPECT_EQ(topk.Kept(10), 3u); // ceil(2.5)
    EXPECT_EQ(Codec::Parse("topk:0.001").Kept(10), 1u);
    for (const char* bad : {"zip", "topk", "topk:", "topk:0", "topk:1.5", "topk:-0.1", "topk:nan",
                            "topk:0.1x", "FP16", ""})
    {
        EXPECT_THROW(Codec::Parse(bad), std::invalid_argument) << bad;
    }
}

namespace
{

/** Values of every magnitude a factor may hold, and the edges of binary16. */
std::vector<float>
ManyValues(size_t count)
{
    torch::manual_seed(11);
    const torch::Tensor normal = torch::randn({static_cast<int64_t>(count)});
    const torch::Tensor scale = torch::pow(10.0, torch::randint(-9, 6, {normal.size(0)}));
    const torch::Tensor values = (normal * scale).contiguous();
    std::vector<float> out(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
    const std::vector<float> edges{
        65504.0F,           65519.0F,      65520.0F,       -70000.0F,      5.9604645e-08F,
        2.9802322e-08F,     8.940697e-08F, 6.1035156e-05F, 6.0975552e-05F, 1.0F + 1.0F / 2048,
        1.0F + 3.0F / 2048, 0.0F,          -0.0F};
    std::copy(edges.begin(), edges.end(), out.begin());
    return out;
}

/** A header of two layers, 6 x 40 and 4 x 60: 480 values. */
MessageHeader
WideHeader()
{
    MessageHeader header = SampleHeader();
    header.shapes = {{6, 40}, {4, 60}};
    return header;
}

} // namespace

TEST(Codec, Fp16IsIeeeBinary16RoundedToNearestEven)
{
    const std::vector<float> values = ManyValues(480);
    const FactorMessage decoded =
        DecodeMessage(EncodeMessage(WideHeader(), values, Codec::Parse("fp16")));
    // The reference: LibTorch's own conversion to half and back.
    const torch::Tensor reference =
        torch::tensor(values).to(torch::kHalf).to(torch::kFloat32).contiguous();
    for (size_t k = 0; k < values.size(); ++k)
    {
        EXPECT_EQ(decoded.values[k], reference[static_cast<int64_t>(k)].item<float>())
            << "value " << values[k];
        if (std::abs(values[k]) >= 6.1035156e-05F && std::abs(values[k]) <= 65504.0F)
        {
            EXPECT_LE(std::abs(decoded.values[k] - values[k]), std::abs(values[k]) / 2048)
                << "value " << values[k]; // half a unit in the last of 11 bits
        }
    }
    EXPECT_TRUE(std::isinf(decoded.values[2]) && std::isinf(decoded.values[3]));
}

TEST(Codec, Int8ErrsByAtMostHalfAStepOfItsRow)
{
    std::vector<float> values = ManyValues(480);
    std::fill(values.begin() + 40, values.begin() + 80, 0.0F); // a row of zeros
    const FactorMessage decoded =
        DecodeMessage(EncodeMessage(WideHeader(), values, Codec::Parse("int8")));
    size_t at = 0;
    for (const auto& [rows, cols] : WideHeader().shapes)
    {
        for (uint32_t row = 0; row < rows; ++row, at += cols)
        {
            float largest = 0;
            for (uint32_t c = 0; c < cols; ++c)
            {
                largest = std::max(largest, std::abs(values[at + c]));
            }
            for (uint32_t c = 0; c < cols; ++c)
            {
                EXPECT_LE(std::abs(decoded.values[at + c] - values[at + c]),
                          largest / 254 * (1 + 1e-6F))
                    << "row " << row << " column " << c;
            }
        }
    }
    EXPECT_EQ(std::vector<float>(decoded.values.begin() + 40, decoded.values.begin() + 80),
              std::vector<float>(40, 0.0F));
}

TEST(Codec, TopKKeepsExactlyTheLargestValuesAndZeroesTheRest)
{
    const std::vector<float> values = ManyValues(480);
    const FactorMessage decoded =
        DecodeMessage(EncodeMessage(WideHeader(), values, Codec::Parse("topk:0.1")));
    std::vector<float> magnitudes;
    for (float v : values)
    {
        magnitudes.push_back(std::abs(v));
    }
    std::sort(magnitudes.rbegin(), magnitudes.rend());
    const float threshold = magnitudes[47]; // the 48th largest: ceil(0.1 x 480)
    size_t kept = 0;
    for (size_t k = 0; k < values.size(); ++k)
    {
        if (decoded.values[k] != 0)
        {
            ++kept;
            EXPECT_EQ(decoded.values[k], values[k]);
            EXPECT_GE(std::abs(values[k]), threshold);
        }
        else
        {
            EXPECT_LE(std::abs(values[k]), threshold) << k;
        }
    }
    EXPECT_EQ(kept, 48u);
}

TEST(Codec, BytesShrinkAsDocumentedAndTheChecksumCoversThem)
{
    const std::vector<float> values = ManyValues(480);
    const size_t header = 4 + 2 + 1 + 1 + 4 + 8 + 4 + 2 * 8 + 4; // ... shapes, CRC-32
    const std::map<std::string, size_t> valueBytes{
        {"none", 480 * 4}, {"fp16", 480 * 2}, {"int8", 10 * 4 + 480}, {"topk:0.1", 4 + 48 * 8}};
    for (const auto& [name, size] : valueBytes)
    {
        const std::vector<uint8_t> bytes = EncodeMessage(WideHeader(), values, Codec::Parse(name));
        EXPECT_EQ(bytes.size(), header + size) << name;
        for (size_t i = 4; i < bytes.size(); i += 7)
        {
            std::vector<uint8_t> damaged = bytes;
            damaged[i] ^= 0x01;
            EXPECT_EQ(WhyRefused(damaged), Rejection::Checksum) << name << " byte " << i;
        }
    }
}

TEST(Codec, TopKIndicesOutOfOrderAreRefusedEvenWithAValidChecksum)
{
    std::vector<uint8_t> bytes =
        EncodeMessage(WideHeader(), ManyValues(480), Codec::Parse("topk:0.1"));
    const size_t indices = 4 + 2 + 1 + 1 + 4 + 8 + 4 + 2 * 8 + 4; // the first index
    std::swap_ranges(bytes.begin() + indices, bytes.begin() + indices + 4,
                     bytes.begin() + indices + 4);
    const size_t body = bytes.size() - 4;
    const uint32_t crc = libdeflate_crc32(0, bytes.data(), body);
    for (size_t k = 0; k < 4; ++k)
    {
        bytes[body + k] = static_cast<uint8_t>(crc >> (8 * k));
    }
    EXPECT_EQ(WhyRefused(bytes), Rejection::Malformed);
}
