// SPDX-License-Identifier: GPL-2.0-only
// The factor message's wire format: round trips, and damage of any kind is refused.

#include "tadlora-message.h"

#include <gtest/gtest.h>
#include <libdeflate.h>

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
