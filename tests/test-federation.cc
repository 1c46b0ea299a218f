// SPDX-License-Identifier: GPL-2.0-only
// The learning side's algorithmic claims (DESIGN.md section 1), on real LibTorch training.

#include "tadlora-federation.h"
#include "tadlora-message.h"
#include "tadlora-mixing.h"
#include "tadlora-partition.h"
#include "tadlora-test-task.h"
#include "tadlora-topology.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

using namespace tadlora;

namespace
{

constexpr uint32_t kClients = 6;

std::unique_ptr<Federation>
Build(const FederationConfig& config)
{
    const auto task = test::SyntheticTask();
    const auto shards = Partition(LabelsOf(task->train), task->train.numClasses, kClients,
                                  "label-skew", config.seed);
    return std::make_unique<Federation>(config, test::PretrainedSyntheticModel().ptr(), task,
                                        shards);
}

FederationConfig
SmallConfig(const std::string& method, uint32_t switchInterval, uint64_t seed = 3)
{
    FederationConfig config;
    config.method = method;
    config.switchInterval = switchInterval;
    config.localSteps = 3;
    config.batchSize = 16;
    config.lr = 1e-2;
    config.seed = seed;
    return config;
}

std::unique_ptr<Federation>
MakeFederation(const std::string& method, uint32_t switchInterval, uint64_t seed = 3,
               bool keepOptimizerState = false, uint32_t phaseJitter = 0)
{
    FederationConfig config = SmallConfig(method, switchInterval, seed);
    config.phaseJitter = phaseJitter;
    config.keepOptimizerState = keepOptimizerState;
    return Build(config);
}

/** @return why Decode refuses bytes; fails the test if it does not */
Rejection
WhyRefused(Federation& federation, const std::vector<uint8_t>& bytes)
{
    try
    {
        federation.Decode(bytes);
    }
    catch (const MessageError& e)
    {
        return e.Reason();
    }
    ADD_FAILURE() << "accepted";
    return Rejection::Late;
}

/** @return RMS of values */
double
Rms(const std::vector<float>& values)
{
    double sum = 0;
    for (float v : values)
    {
        sum += double(v) * v;
    }
    return std::sqrt(sum / values.size());
}

/** The clients' average of a factor, element by element. */
std::vector<double>
Average(const Federation& federation, Factor factor)
{
    std::vector<double> average;
    for (uint32_t i = 0; i < federation.Clients(); ++i)
    {
        const std::vector<float> values = federation.FactorValues(i, factor);
        average.resize(values.size());
        for (size_t k = 0; k < values.size(); ++k)
        {
            average[k] += values[k] / static_cast<double>(federation.Clients());
        }
    }
    return average;
}

/**
 * One synchronous gossip exchange without a network: every client's message is serialized
 * before anyone mixes, and each client mixes the round's factors with MH weights of `active`.
 */
void
MixAll(Federation& federation, uint64_t round, const std::vector<Edge>& active)
{
    const MixingMatrix w = MetropolisHastings(federation.Clients(), active);
    for (Factor factor : federation.GetMethod().Plan(round).MixedFactors())
    {
        std::vector<FactorMessage> messages;
        for (uint32_t j = 0; j < federation.Clients(); ++j)
        {
            messages.push_back(federation.Decode(federation.Serialize(j, factor, round)));
        }
        for (uint32_t i = 0; i < federation.Clients(); ++i)
        {
            std::vector<WeightedFactor> neighbours;
            for (uint32_t j = 0; j < federation.Clients(); ++j)
            {
                if (j != i && w(i, j) > 0)
                {
                    neighbours.push_back({w(i, j), &messages[j]});
                }
            }
            federation.Mix(i, factor, w(i, i), neighbours);
        }
    }
}

void
ExpectSameAverage(const std::vector<double>& actual, const std::vector<double>& expected)
{
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t k = 0; k < actual.size(); ++k)
    {
        ASSERT_NEAR(actual[k], expected[k], 1e-6 * (1 + std::abs(expected[k]))) << "element " << k;
    }
}

void
TrainAll(Federation& federation, uint64_t round)
{
    for (uint32_t i = 0; i < federation.Clients(); ++i)
    {
        federation.Train(i, round);
    }
}

std::vector<Edge>
ActiveEdges(uint64_t round, double p = 0.5)
{
    return DrawActiveEdges(MakeBaseGraph("complete", kClients, 1), p, 11, round);
}

} // namespace

TEST(Federation, AllClientsStartFromOneAAndZeroB)
{
    auto federation = MakeFederation("lora", 1);
    const auto a0 = federation->FactorValues(0, Factor::A);
    for (uint32_t i = 0; i < kClients; ++i)
    {
        EXPECT_EQ(federation->FactorValues(i, Factor::A), a0);
        for (float b : federation->FactorValues(i, Factor::B))
        {
            ASSERT_EQ(b, 0.0f);
        }
    }
    EXPECT_EQ(a0.size(), 4u * 8 * 64); // 2 blocks x (query, value) x [r=8, d=64]
    const Disagreement d = federation->Diagnose();
    EXPECT_EQ(d.consensusA, 0.0);
    EXPECT_EQ(d.consensusB, 0.0);
    EXPECT_EQ(d.crossTerm, 0.0);
}

TEST(Federation, MixingPreservesEachFactorsClientAverage)
{
    auto federation = MakeFederation("lora", 1);
    TrainAll(*federation, 0);
    const Disagreement before = federation->Diagnose();
    const auto averageA = Average(*federation, Factor::A);
    const auto averageB = Average(*federation, Factor::B);
    MixAll(*federation, 0, ActiveEdges(0));
    const Disagreement after = federation->Diagnose();
    ASSERT_GT(before.consensusB, 0.0);
    EXPECT_LT(after.consensusA, 0.9 * before.consensusA);
    EXPECT_LT(after.consensusB, 0.9 * before.consensusB);
    ExpectSameAverage(Average(*federation, Factor::A), averageA);
    ExpectSameAverage(Average(*federation, Factor::B), averageB);
}

TEST(Federation, FullMixingOnCompleteGraphReachesExactConsensus)
{
    auto federation = MakeFederation("lora", 1);
    TrainAll(*federation, 0);
    MixAll(*federation, 0, ActiveEdges(0, 1.0));
    const Disagreement d = federation->Diagnose();
    EXPECT_LT(d.consensusA, 1e-10);
    EXPECT_LT(d.consensusB, 1e-10);
    EXPECT_LT(d.crossTerm, 1e-6);
}

TEST(Federation, FfaLoraNeverChangesA)
{
    auto federation = MakeFederation("ffa-lora", 1);
    const auto a0 = federation->FactorValues(0, Factor::A);
    for (uint64_t round = 0; round < 4; ++round)
    {
        TrainAll(*federation, round);
        MixAll(*federation, round, ActiveEdges(round));
    }
    for (uint32_t i = 0; i < kClients; ++i)
    {
        EXPECT_EQ(federation->FactorValues(i, Factor::A), a0) << "client " << i;
    }
    const Disagreement d = federation->Diagnose();
    EXPECT_EQ(d.consensusA, 0.0);
    EXPECT_EQ(d.crossTerm, 0.0);
    EXPECT_GT(d.consensusB, 0.0);
}

TEST(Federation, TrainingMovesOnlyThePhaseFactor)
{
    auto federation = MakeFederation("tad-lora", 2);
    const auto a0 = federation->FactorValues(1, Factor::A);
    federation->Train(1, 0); // phase B
    EXPECT_EQ(federation->FactorValues(1, Factor::A), a0);
    const auto b1 = federation->FactorValues(1, Factor::B);
    EXPECT_NE(b1, std::vector<float>(b1.size(), 0.0f));
    federation->Train(1, 2); // phase A
    EXPECT_EQ(federation->FactorValues(1, Factor::B), b1);
    EXPECT_NE(federation->FactorValues(1, Factor::A), a0);
}

TEST(Federation, PhaseJitterShiftsEachClientsTrainedFactorByItsOwnOffset)
{
    constexpr uint32_t kJitter = 3;
    auto federation = MakeFederation("tad-lora", 2, 3, false, kJitter);
    std::set<uint32_t> offsets;
    for (uint32_t i = 0; i < kClients; ++i)
    {
        const uint32_t offset = federation->PhaseOffset(i);
        EXPECT_LE(offset, kJitter);
        EXPECT_EQ(offset, MakeFederation("tad-lora", 2, 3, false, kJitter)->PhaseOffset(i));
        EXPECT_EQ(MakeFederation("tad-lora", 2)->PhaseOffset(i), 0u);
        offsets.insert(offset);
        // Round 1 with T = 2: phase(1 + o_i) is B for o_i = 0, A for 1 and 2, B for 3.
        const bool trainsA = (1 + offset) / 2 % 2 == 1;
        const auto a0 = federation->FactorValues(i, Factor::A);
        const auto b0 = federation->FactorValues(i, Factor::B);
        federation->Train(i, 1);
        EXPECT_EQ(federation->FactorValues(i, Factor::A) != a0, trainsA) << "client " << i;
        EXPECT_EQ(federation->FactorValues(i, Factor::B) != b0, !trainsA) << "client " << i;
    }
    EXPECT_GT(offsets.size(), 1u) << "the seed should give the clients different offsets";
}

/** Disagreement of the frozen factor A across the mixing step of a B-phase round. */
std::pair<double, double>
FrozenADisagreementAcrossMixing(const std::string& method)
{
    auto federation = MakeFederation(method, 1);
    for (uint64_t round = 0; round < 2; ++round) // B, then A: A now differs across clients
    {
        TrainAll(*federation, round);
        MixAll(*federation, round, ActiveEdges(round));
    }
    TrainAll(*federation, 2); // B phase: A frozen
    const double before = federation->Diagnose().consensusA;
    MixAll(*federation, 2, ActiveEdges(2));
    return {before, federation->Diagnose().consensusA};
}

TEST(Federation, WithoutJointMixingTheFrozenFactorsDisagreementStays)
{
    for (const std::string method : {"rolora", "tad-lora-no-joint"})
    {
        const auto [before, after] = FrozenADisagreementAcrossMixing(method);
        EXPECT_GT(before, 0.0) << method;
        EXPECT_EQ(after, before) << method;
    }
}

TEST(Federation, JointMixingShrinksFrozenFactorDisagreement)
{
    const auto [before, after] = FrozenADisagreementAcrossMixing("tad-lora");
    EXPECT_GT(before, 0.0);
    EXPECT_LT(after, 0.8 * before);
}

TEST(Federation, MixingWithNoNeighboursKeepsTheOwnFactor)
{
    auto federation = MakeFederation("lora", 1);
    federation->Train(2, 0);
    const auto b = federation->FactorValues(2, Factor::B);
    federation->Mix(2, Factor::B, 1.0, {});
    EXPECT_EQ(federation->FactorValues(2, Factor::B), b);
}

TEST(Federation, AMessageOfAnotherShapeIsRefused)
{
    auto federation = MakeFederation("lora", 1);
    MessageHeader header;
    header.factor = Factor::B;
    header.shapes = {{2, 2}};
    EXPECT_EQ(WhyRefused(*federation, EncodeMessage(header, {1, 2, 3, 4})), Rejection::Shape);
    // A message of the model's own shapes but the other factor's is refused by Mix.
    const FactorMessage a = federation->Decode(federation->Serialize(1, Factor::A, 0));
    EXPECT_THROW(federation->Mix(0, Factor::B, 0.5, {{0.5, &a}}), std::logic_error);
}

TEST(Federation, ResultsDoNotDependOnTheOrderClientsTrainIn)
{
    auto forward = MakeFederation("lora", 1);
    auto backward = MakeFederation("lora", 1);
    for (uint32_t i = 0; i < kClients; ++i)
    {
        forward->Train(i, 0);
        backward->Train(kClients - 1 - i, 0);
    }
    for (uint32_t i = 0; i < kClients; ++i)
    {
        EXPECT_EQ(forward->FactorValues(i, Factor::A), backward->FactorValues(i, Factor::A));
        EXPECT_EQ(forward->FactorValues(i, Factor::B), backward->FactorValues(i, Factor::B));
    }
}

TEST(Federation, BaseAccuracyIsEveryClientsAccuracyBeforeTraining)
{
    auto federation = MakeFederation("lora", 1);
    const double base = federation->BaseAccuracy();
    const Accuracy acc = federation->Evaluate();
    EXPECT_DOUBLE_EQ(acc.mean, base);
    EXPECT_NEAR(acc.std, 0.0, 1e-12);
    EXPECT_DOUBLE_EQ(acc.averagedModel, base);
}

TEST(Federation, KeptOptimizerStateCarriesMomentsIntoTheNextRound)
{
    auto fresh = MakeFederation("lora", 1, 3, false);
    auto kept = MakeFederation("lora", 1, 3, true);
    for (auto* f : {fresh.get(), kept.get()})
    {
        f->Train(0, 0);
    }
    // Same data, same start: the first round cannot tell the two apart...
    EXPECT_EQ(fresh->FactorValues(0, Factor::B), kept->FactorValues(0, Factor::B));
    for (auto* f : {fresh.get(), kept.get()})
    {
        f->Train(0, 1);
    }
    // ...the second starts from AdamW moments in one and from zero in the other.
    EXPECT_NE(fresh->FactorValues(0, Factor::B), kept->FactorValues(0, Factor::B));
    EXPECT_NE(fresh->FactorValues(0, Factor::A), kept->FactorValues(0, Factor::A));
}

TEST(Federation, NonFiniteValuesAndValuesAboveTheBoundAreRefusedEachForItsReason)
{
    FederationConfig config = SmallConfig("tad-lora", 2);
    config.maxFactorValue = 100;
    auto federation = Build(config);
    const FactorMessage honest = federation->Decode(federation->Serialize(1, Factor::A, 0));
    const auto with = [&honest](float value)
    {
        std::vector<float> values = honest.values;
        values[values.size() / 2] = value;
        return EncodeMessage(honest.header, values);
    };
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(WhyRefused(*federation, with(std::nanf(""))), Rejection::NonFinite);
    EXPECT_EQ(WhyRefused(*federation, with(inf)), Rejection::NonFinite);
    EXPECT_EQ(WhyRefused(*federation, with(-inf)), Rejection::NonFinite);
    EXPECT_EQ(WhyRefused(*federation, with(100.01f)), Rejection::Magnitude);
    EXPECT_EQ(WhyRefused(*federation, with(-100.01f)), Rejection::Magnitude);
    EXPECT_EQ(federation->Decode(with(-100.0f)).values[honest.values.size() / 2], -100.0f);
    std::vector<uint8_t> flipped = with(1.0f);
    flipped[40] ^= 0x01;
    EXPECT_EQ(WhyRefused(*federation, flipped), Rejection::Checksum);
}

TEST(Federation, ByzantineClientsAreDrawnFromTheSeedAndSendWhatTheirModeSays)
{
    FederationConfig config = SmallConfig("tad-lora", 2);
    config.byzantine = 2;
    std::set<std::vector<uint32_t>> draws;
    for (uint64_t seed = 1; seed <= 6; ++seed)
    {
        config.seed = seed;
        const std::vector<uint32_t> byzantine = Build(config)->Byzantine();
        ASSERT_EQ(byzantine.size(), 2u);
        EXPECT_LT(byzantine[0], byzantine[1]);
        EXPECT_LT(byzantine[1], kClients);
        draws.insert(byzantine);
    }
    EXPECT_GT(draws.size(), 2u); // the seed picks them

    config.seed = 3;
    for (ByzantineMode mode : {ByzantineMode::Nan, ByzantineMode::Scaled, ByzantineMode::Random})
    {
        config.byzantineMode = mode;
        config.byzantineScale = -3;
        auto federation = Build(config);
        const uint32_t liar = federation->Byzantine().front();
        uint32_t honest = 0;
        while (std::count(federation->Byzantine().begin(), federation->Byzantine().end(), honest))
        {
            ++honest;
        }
        for (uint32_t i = 0; i < kClients; ++i)
        {
            federation->Train(i, 0); // B moves off zero
        }
        const std::vector<float> own = federation->FactorValues(liar, Factor::B);
        ASSERT_GT(Rms(own), 0.0);
        const auto sent = DecodeMessage(federation->Serialize(liar, Factor::B, 0)).values;
        ASSERT_EQ(sent.size(), own.size());
        if (mode == ByzantineMode::Nan)
        {
            EXPECT_TRUE(
                std::all_of(sent.begin(), sent.end(), [](float v) { return std::isnan(v); }));
        }
        else if (mode == ByzantineMode::Scaled)
        {
            for (size_t k = 0; k < own.size(); ++k)
            {
                ASSERT_EQ(sent[k], static_cast<float>(own[k] * -3.0)) << k;
            }
        }
        else
        {
            // Noise of the factor's own RMS, drawn from the seed, new for each round.
            EXPECT_NEAR(Rms(sent) / Rms(own), 1.0, 0.1);
            EXPECT_NE(sent, own);
            EXPECT_EQ(DecodeMessage(federation->Serialize(liar, Factor::B, 0)).values, sent);
            EXPECT_NE(DecodeMessage(federation->Serialize(liar, Factor::B, 1)).values, sent);
        }
        // An honest client sends its factor.
        EXPECT_EQ(DecodeMessage(federation->Serialize(honest, Factor::B, 0)).values,
                  federation->FactorValues(honest, Factor::B));
    }
}

TEST(Federation, AccuracyAndDisagreementCountTheHonestClientsOnly)
{
    FederationConfig config = SmallConfig("tad-lora", 2);
    for (uint32_t byzantine : {1u, 0u})
    {
        config.byzantine = byzantine;
        auto federation = Build(config);
        for (uint32_t i = 0; i < kClients; ++i)
        {
            federation->Train(i, 0);
        }
        const Accuracy before = federation->Evaluate();
        const Disagreement spreadBefore = federation->Diagnose();
        // Client 5's B, blown up: it changes the metrics only if client 5 counts.
        const uint32_t liar = byzantine ? federation->Byzantine().front() : 5;
        federation->Mix(liar, Factor::B, 1000.0, {});
        const Accuracy after = federation->Evaluate();
        const Disagreement spreadAfter = federation->Diagnose();
        if (byzantine)
        {
            EXPECT_EQ(after.mean, before.mean);
            EXPECT_EQ(after.std, before.std);
            EXPECT_EQ(after.averagedModel, before.averagedModel);
            EXPECT_EQ(spreadAfter.consensusB, spreadBefore.consensusB);
        }
        else
        {
            EXPECT_NE(after.mean, before.mean);
            EXPECT_GT(spreadAfter.consensusB, 100 * spreadBefore.consensusB);
        }
    }
}

TEST(Federation, TopKErrorFeedbackSendsEveryValuesMassOverTime)
{
    // A factor that does not change, sent 400 times at topk:0.1: each message keeps a tenth of the
    // values, and what it leaves out is added to the next one, so the messages' mean tends to
    // the factor (their sum is R x minus the last residual), dropped values included.
    FederationConfig config = SmallConfig("lora", 1);
    config.codec = Codec::Parse("topk:0.1");
    auto federation = Build(config);
    const std::vector<float> a = federation->FactorValues(0, Factor::A);
    const auto n = static_cast<uint64_t>(a.size());
    constexpr int kRounds = 400;
    std::vector<double> sum(n, 0.0);
    for (int t = 0; t < kRounds; ++t)
    {
        const std::vector<float> sent =
            federation->Decode(federation->Serialize(0, Factor::A, t)).values;
        EXPECT_EQ(static_cast<uint64_t>(
                      std::count_if(sent.begin(), sent.end(), [](float v) { return v != 0; })),
                  config.codec.Kept(n));
        for (uint64_t k = 0; k < n; ++k)
        {
            sum[k] += sent[k];
        }
    }
    double largest = 0;
    double worst = 0;
    for (uint64_t k = 0; k < n; ++k)
    {
        largest = std::max(largest, std::abs(double(a[k])));
        worst = std::max(worst, std::abs(sum[k] / kRounds - a[k]));
    }
    // Without feedback the nine tenths never sent would stay 0: errors up to the largest of them.
    EXPECT_LE(worst, 0.05 * largest);
    // The client's own factor is untouched by what it sends.
    EXPECT_EQ(federation->FactorValues(0, Factor::A), a);
}
