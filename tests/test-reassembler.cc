// SPDX-License-Identifier: GPL-2.0-only
// Fragmentation, reassembly, TCP framing and the inbox: pure bookkeeping, driven here as a
// fuzzer would.

#include "tadlora-framing.h"
#include "tadlora-inbox.h"
#include "tadlora-learner.h"
#include "tadlora-reassembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

using ns3::TadLoraFragment;
using ns3::TadLoraInbox;
using ns3::TadLoraReassembler;
using tadlora::FragmentHeader;

namespace
{

std::vector<uint8_t>
Bytes(size_t n)
{
    std::vector<uint8_t> bytes(n);
    std::iota(bytes.begin(), bytes.end(), uint8_t{7});
    return bytes;
}

FragmentHeader
Header(uint32_t sender, uint32_t messageId, uint64_t round)
{
    FragmentHeader header;
    header.sender = sender;
    header.messageId = messageId;
    header.round = round;
    return header;
}

/** The header a fragment record starts with, as a receiver decodes it. */
FragmentHeader
HeaderOf(const TadLoraFragment& fragment)
{
    return tadlora::DecodeFragmentHeader(fragment.record);
}

/** Hand a fragment to a reassembler as the client does: its bytes, then its zero padding. */
std::optional<TadLoraReassembler::Message>
Add(TadLoraReassembler& reassembler, const TadLoraFragment& fragment)
{
    std::vector<uint8_t> body(fragment.record.begin() + FragmentHeader::kSize,
                              fragment.record.end());
    body.resize(body.size() + fragment.padding, 0);
    return reassembler.Add(HeaderOf(fragment), body.data(), body.size());
}

/** Hand a fragment to an inbox as the client does, with the first round still open. */
std::optional<TadLoraInbox::Delivery>
Add(TadLoraInbox& inbox, const TadLoraFragment& fragment, uint64_t open)
{
    std::vector<uint8_t> body(fragment.record.begin() + FragmentHeader::kSize,
                              fragment.record.end());
    body.resize(body.size() + fragment.padding, 0);
    return inbox.AddFragment(HeaderOf(fragment), body.data(), body.size(), open);
}

} // namespace

TEST(Fragmentation, CutsAMessageIntoRecordsOfTheGivenSize)
{
    // 3000 bytes in records of 1031 (1000 of payload): 1000, 1000, 1000.
    const auto fragments = ns3::FragmentMessage(Bytes(3000), Header(1, 2, 3), 1031, 0);
    ASSERT_EQ(fragments.size(), 3u);
    for (uint32_t i = 0; i < 3; ++i)
    {
        EXPECT_EQ(fragments[i].record.size(), 1031u);
        EXPECT_EQ(fragments[i].padding, 0u);
        EXPECT_EQ(HeaderOf(fragments[i]).index, i);
        EXPECT_EQ(HeaderOf(fragments[i]).count, 3u);
        EXPECT_EQ(HeaderOf(fragments[i]).messageBytes, 3000u);
        EXPECT_EQ(HeaderOf(fragments[i]).round, 3u);
    }
    // 2500 real bytes padded to 5500 on the wire: six records; the third carries 500 real bytes
    // and 500 of padding, the fourth and fifth only padding, the sixth 500 bytes of padding.
    const auto padded = ns3::FragmentMessage(Bytes(2500), Header(1, 2, 3), 1031, 5500);
    ASSERT_EQ(padded.size(), 6u);
    const std::vector<size_t> real{1000, 1000, 500, 0, 0, 0};
    const std::vector<uint32_t> padding{0, 0, 500, 1000, 1000, 500};
    for (size_t i = 0; i < 6; ++i)
    {
        EXPECT_EQ(padded[i].record.size(), FragmentHeader::kSize + real[i]) << i;
        EXPECT_EQ(padded[i].padding, padding[i]) << i;
    }
}

TEST(Reassembly, RebuildsTheMessageFromFragmentsInAnyOrder)
{
    const std::vector<uint8_t> message = Bytes(2500);
    auto fragments = ns3::FragmentMessage(message, Header(4, 9, 2), 1031, 5500);
    std::mt19937 rng(1);
    for (int trial = 0; trial < 20; ++trial)
    {
        std::shuffle(fragments.begin(), fragments.end(), rng);
        TadLoraReassembler reassembler;
        for (size_t i = 0; i + 1 < fragments.size(); ++i)
        {
            ASSERT_FALSE(Add(reassembler, fragments[i]));
            ASSERT_FALSE(Add(reassembler, fragments[i])) << "a repeated fragment counts once";
        }
        const auto whole = Add(reassembler, fragments.back());
        ASSERT_TRUE(whole);
        EXPECT_TRUE(whole->complete);
        EXPECT_EQ(whole->bytes, message);
        EXPECT_EQ(whole->wireBytes, 5500u);
        EXPECT_EQ(whole->fragments, 6u);
        EXPECT_EQ(whole->sender, 4u);
        EXPECT_EQ(whole->messageId, 9u);
        EXPECT_EQ(whole->round, 2u);
        EXPECT_EQ(reassembler.Pending(), 0u);
    }
}

TEST(Reassembly, IgnoresFragmentsThatDisagreeWithTheFirst)
{
    const auto fragments = ns3::FragmentMessage(Bytes(2000), Header(1, 1, 5), 1031, 0);
    ASSERT_EQ(fragments.size(), 2u);
    TadLoraReassembler reassembler;
    ASSERT_FALSE(Add(reassembler, fragments[0]));
    // Same sender and id, another round or count: not this message's.
    FragmentHeader other = HeaderOf(fragments[1]);
    other.round = 6;
    const uint8_t byte = 0;
    EXPECT_FALSE(reassembler.Add(other, &byte, 1));
    other = HeaderOf(fragments[1]);
    other.count = 3;
    EXPECT_FALSE(reassembler.Add(other, &byte, 1));
    other.index = 7; // out of range
    EXPECT_FALSE(reassembler.Add(other, &byte, 1));
    EXPECT_TRUE(Add(reassembler, fragments[1]));
}

TEST(Reassembly, AMessageShorterThanItsHeaderSaysIsIncomplete)
{
    FragmentHeader header = Header(2, 3, 0);
    header.count = 1;
    header.messageBytes = 100;
    const std::vector<uint8_t> body = Bytes(60);
    const auto whole = TadLoraReassembler().Add(header, body.data(), body.size());
    ASSERT_TRUE(whole);
    EXPECT_FALSE(whole->complete);
    EXPECT_EQ(whole->wireBytes, 60u);
}

TEST(Reassembly, DropsPartialMessagesOfPastRounds)
{
    TadLoraReassembler reassembler;
    for (uint64_t round = 0; round < 4; ++round)
    {
        const auto fragments = ns3::FragmentMessage(Bytes(2000), Header(1, round, round), 1031, 0);
        Add(reassembler, fragments[0]);
    }
    EXPECT_EQ(reassembler.Pending(), 4u);
    reassembler.DropUpTo(1);
    EXPECT_EQ(reassembler.Pending(), 2u);
    reassembler.DropUpTo(3);
    EXPECT_EQ(reassembler.Pending(), 0u);
}

TEST(Reassembly, HostileHeadersCostOnlyTheBytesThatCame)
{
    // A fragment claiming 4 billion siblings reserves nothing for them.
    FragmentHeader header = Header(1, 1, 0);
    header.count = 0xFFFFFFFFu;
    header.index = 5;
    const uint8_t byte = 1;
    TadLoraReassembler reassembler;
    EXPECT_FALSE(reassembler.Add(header, &byte, 1));
    // Random headers and bodies: never more than one message per (sender, id), nothing throws.
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i)
    {
        FragmentHeader h;
        h.sender = rng() % 4;
        h.messageId = rng() % 4;
        h.round = rng() % 3;
        h.count = 1 + rng() % 4;
        h.index = rng() % 5;
        h.messageBytes = rng() % 64;
        const std::vector<uint8_t> body = Bytes(rng() % 40);
        const auto whole = reassembler.Add(h, body.data(), body.size());
        if (whole)
        {
            // Whole: cut to the real size it announced; short: kept as it came.
            EXPECT_EQ(whole->bytes.size() <= whole->wireBytes, true);
            EXPECT_EQ(whole->complete || whole->bytes.size() == whole->wireBytes, true);
            EXPECT_LE(whole->fragments, 4u);
        }
        ASSERT_LE(reassembler.Pending(), 16u); // 4 senders x 4 ids
    }
}

TEST(Framing, CutsTheRecordsAppendedWhereverTheStreamIsSplit)
{
    const std::vector<std::vector<uint8_t>> records{Bytes(1), Bytes(0), Bytes(300), Bytes(70000)};
    std::vector<uint8_t> stream;
    for (const auto& record : records)
    {
        ns3::AppendRecord(stream, record.data(), static_cast<uint32_t>(record.size()));
    }
    EXPECT_EQ(stream.size(), 4 * 4 + 1 + 0 + 300 + 70000u);
    // The 300-byte record's length prefix: 300 = 0x012C, little-endian.
    EXPECT_EQ(std::vector<uint8_t>(stream.begin() + 9, stream.begin() + 13),
              (std::vector<uint8_t>{0x2C, 0x01, 0, 0}));
    std::mt19937 rng(3);
    for (int trial = 0; trial < 50; ++trial)
    {
        std::vector<uint8_t> received;
        std::vector<std::vector<uint8_t>> cut;
        size_t at = 0;
        while (at < stream.size())
        {
            const size_t n = std::min<size_t>(stream.size() - at, 1 + rng() % 2000);
            received.insert(received.end(), stream.begin() + at, stream.begin() + at + n);
            at += n;
            for (auto& record : ns3::CutRecords(received))
            {
                cut.push_back(std::move(record));
            }
        }
        EXPECT_EQ(cut, records);
        EXPECT_TRUE(received.empty());
    }
}

namespace
{

/** The two learning calls an inbox makes: every round mixes A and B; messages decode as sent. */
class DecodingLearner : public tadlora::Learner
{
public:
    uint32_t LocalSteps() const override
    {
        return 1;
    }

    double FlopsPerStep() const override
    {
        return 1e6;
    }

    std::vector<tadlora::Factor> MixedFactors(uint64_t) const override
    {
        return {tadlora::Factor::A, tadlora::Factor::B};
    }

    tadlora::FactorMessage Decode(const std::vector<uint8_t>& bytes) override
    {
        return tadlora::DecodeMessage(bytes);
    }

    double Train(uint32_t, uint64_t) override
    {
        throw std::logic_error("an inbox does not train");
    }

    std::vector<uint8_t> Serialize(uint32_t, tadlora::Factor, uint64_t) override
    {
        throw std::logic_error("an inbox does not serialize");
    }

    void Mix(uint32_t, tadlora::Factor, double,
             const std::vector<tadlora::WeightedFactor>&) override
    {
        throw std::logic_error("an inbox does not mix");
    }

    void EndRound(uint32_t, uint64_t) override
    {
        throw std::logic_error("an inbox does not end rounds");
    }
};

/** A factor message from a sender of a round, with two values. */
std::vector<uint8_t>
FactorBytes(uint32_t sender, uint64_t round, tadlora::Factor factor)
{
    tadlora::MessageHeader header;
    header.sender = sender;
    header.round = round;
    header.factor = factor;
    header.shapes = {{1, 2}};
    return tadlora::EncodeMessage(header, {1.5f, -2.0f});
}

/** Hand a message to an inbox as one fragment whose header says sender and round. */
std::optional<TadLoraInbox::Delivery>
Deliver(TadLoraInbox& inbox, const std::vector<uint8_t>& message, uint32_t sender, uint64_t round,
        uint64_t open, uint32_t messageId = 0)
{
    const auto fragments =
        ns3::FragmentMessage(message, Header(sender, messageId, round), 65507, 0);
    EXPECT_EQ(fragments.size(), 1u);
    return Add(inbox, fragments[0], open);
}

} // namespace

TEST(Inbox, KeepsAWholeMessageOfAnOpenRoundAndKnowsWhenANeighboursFactorsAreIn)
{
    DecodingLearner learner;
    TadLoraInbox inbox(learner);
    const auto a = Deliver(inbox, FactorBytes(3, 4, tadlora::Factor::A), 3, 4, 4);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->rejection, std::nullopt);
    EXPECT_EQ(a->sender, 3u);
    EXPECT_EQ(a->round, 4u);
    EXPECT_EQ(a->factor, tadlora::Factor::A);
    EXPECT_FALSE(inbox.HasFactors(4, 3)); // B has not come
    const auto b = Deliver(inbox, FactorBytes(3, 4, tadlora::Factor::B), 3, 4, 4, 1);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->factor, tadlora::Factor::B);
    EXPECT_TRUE(inbox.HasFactors(4, 3));
    EXPECT_FALSE(inbox.HasFactors(4, 2));
    EXPECT_FALSE(inbox.HasFactors(5, 3));
    EXPECT_EQ(inbox.Factor(4, tadlora::Factor::B, 3).values, (std::vector<float>{1.5f, -2.0f}));
}

TEST(Inbox, RejectsShortCorruptMismatchedAndLateMessagesAndKeepsNone)
{
    DecodingLearner learner;
    TadLoraInbox inbox(learner);
    const std::vector<uint8_t> good = FactorBytes(3, 4, tadlora::Factor::A);

    // Short: the fragment says the message has 10 more bytes than it carries.
    FragmentHeader header = Header(3, 0, 4);
    header.index = 0;
    header.count = 1;
    header.messageBytes = static_cast<uint32_t>(good.size() + 10);
    const auto shortOne = inbox.AddFragment(header, good.data(), good.size(), 4);
    ASSERT_TRUE(shortOne);
    EXPECT_EQ(shortOne->rejection, tadlora::Rejection::Short);

    std::vector<uint8_t> flipped = good;
    flipped[flipped.size() / 2] ^= 0x40;
    const auto corrupt = Deliver(inbox, flipped, 3, 4, 4, 1);
    ASSERT_TRUE(corrupt);
    EXPECT_EQ(corrupt->rejection, tadlora::Rejection::Checksum);
    EXPECT_FALSE(corrupt->why.empty());

    // The fragments say sender 2, or round 5; the message says sender 3 of round 4.
    EXPECT_EQ(Deliver(inbox, good, 2, 4, 4, 2)->rejection, tadlora::Rejection::Mismatched);
    EXPECT_EQ(Deliver(inbox, good, 3, 5, 4, 3)->rejection, tadlora::Rejection::Mismatched);
    // Round 4 closed: the first open round is 5.
    EXPECT_EQ(Deliver(inbox, good, 3, 4, 5, 4)->rejection, tadlora::Rejection::Late);

    inbox.AddAck(4, 3);
    const std::vector<uint8_t> b = FactorBytes(3, 4, tadlora::Factor::B);
    EXPECT_EQ(Deliver(inbox, b, 3, 4, 4, 5)->rejection, std::nullopt);
    EXPECT_FALSE(inbox.HasFactors(4, 3)); // no A was kept
}

TEST(Inbox, KeepsAcksAndConfirmationsByRoundUntilTheRoundIsDropped)
{
    DecodingLearner learner;
    TadLoraInbox inbox(learner);
    inbox.AddAck(4, 1);
    inbox.AddConfirmation(4, 1, 3);
    inbox.AddConfirmation(5, 2, 6);
    EXPECT_TRUE(inbox.HasAck(4, 1));
    EXPECT_FALSE(inbox.HasAck(4, 2));
    EXPECT_FALSE(inbox.HasAck(5, 1));
    EXPECT_EQ(inbox.Confirmation(4, 1), std::optional<uint32_t>(3));
    EXPECT_EQ(inbox.Confirmation(5, 2), std::optional<uint32_t>(6));
    EXPECT_FALSE(inbox.Confirmation(4, 2));

    // Half a message of round 5 and a whole one of round 4, then round 4 is dropped.
    const auto half = ns3::FragmentMessage(FactorBytes(2, 5, tadlora::Factor::A), Header(2, 9, 5),
                                           FragmentHeader::kSize + 8, 0);
    ASSERT_GT(half.size(), 2u);
    EXPECT_FALSE(Add(inbox, half[0], 4));
    Deliver(inbox, FactorBytes(1, 4, tadlora::Factor::A), 1, 4, 4);
    Deliver(inbox, FactorBytes(1, 4, tadlora::Factor::B), 1, 4, 4, 1);
    EXPECT_TRUE(inbox.HasFactors(4, 1));
    inbox.DropUpTo(4);
    EXPECT_FALSE(inbox.HasAck(4, 1));
    EXPECT_FALSE(inbox.Confirmation(4, 1));
    EXPECT_FALSE(inbox.HasFactors(4, 1));
    EXPECT_EQ(inbox.Confirmation(5, 2), std::optional<uint32_t>(6));
    // Round 5's partial message survived: its other fragments complete it.
    std::optional<TadLoraInbox::Delivery> whole;
    for (size_t k = 1; k < half.size(); ++k)
    {
        whole = Add(inbox, half[k], 5);
    }
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole->rejection, std::nullopt);
    EXPECT_EQ(whole->fragments, half.size());
}
