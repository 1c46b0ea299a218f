// SPDX-License-Identifier: GPL-2.0-only
// The five methods' table (DESIGN.md section 1) and the alternating scheduler.

#include "tadlora-method.h"

#include <gtest/gtest.h>

#include <stdexcept>

using tadlora::Factor;
using tadlora::Method;

TEST(Scheduler, PhaseIsBWhenFloorOfRoundOverTIsEven)
{
    for (uint32_t t : {1u, 2u, 3u, 5u, 10u, 15u})
    {
        const Method method("tad-lora", t);
        for (uint64_t round = 0; round < 100; ++round)
        {
            const Factor expected = (round / t) % 2 == 0 ? Factor::B : Factor::A;
            EXPECT_EQ(method.Phase(round), expected) << "T=" << t << " round=" << round;
        }
    }
}

TEST(Scheduler, FirstSwitchHappensAfterTRounds)
{
    const Method method("tad-lora", 3);
    const std::string expected = "BBBAAABBBAAAB";
    for (uint64_t round = 0; round < expected.size(); ++round)
    {
        EXPECT_EQ(method.Plan(round).TrainedLabel(), std::string(1, expected[round]));
    }
}

TEST(Methods, LoraTrainsAndMixesBothFactorsEveryRound)
{
    const Method method("lora", 5);
    for (uint64_t round = 0; round < 20; ++round)
    {
        const auto plan = method.Plan(round);
        EXPECT_TRUE(plan.trainA && plan.trainB && plan.mixA && plan.mixB);
    }
}

TEST(Methods, FfaLoraTrainsAndMixesOnlyB)
{
    const Method method("ffa-lora", 5);
    for (uint64_t round = 0; round < 20; ++round)
    {
        const auto plan = method.Plan(round);
        EXPECT_FALSE(plan.trainA || plan.mixA);
        EXPECT_TRUE(plan.trainB && plan.mixB);
    }
}

namespace
{

/** Checks that a method trains the phase factor and mixes it, plus A and B if joint. */
void
ExpectAlternates(const Method& method, uint32_t interval, bool joint)
{
    for (uint64_t round = 0; round < 20; ++round)
    {
        const auto plan = method.Plan(round);
        const bool phaseB = (round / interval) % 2 == 0;
        EXPECT_EQ(plan.trainB, phaseB) << method.Name() << " round " << round;
        EXPECT_EQ(plan.trainA, !phaseB) << method.Name() << " round " << round;
        EXPECT_EQ(plan.mixB, joint || phaseB) << method.Name() << " round " << round;
        EXPECT_EQ(plan.mixA, joint || !phaseB) << method.Name() << " round " << round;
    }
}

} // namespace

TEST(Methods, RoLoraAlternatesEveryRoundWhateverTIsGiven)
{
    const Method method("rolora", 7);
    EXPECT_EQ(method.SwitchInterval(), 1u);
    ExpectAlternates(method, 1, false);
}

TEST(Methods, TadLoraNoJointMixesOnlyTheActiveFactor)
{
    ExpectAlternates(Method("tad-lora-no-joint", 4), 4, false);
}

TEST(Methods, TadLoraTrainsThePhaseFactorAndMixesBoth)
{
    const Method method("tad-lora", 4);
    ExpectAlternates(method, 4, true);
    EXPECT_EQ(method.Plan(0).MixedFactors(), (std::vector<Factor>{Factor::A, Factor::B}));
}

TEST(Methods, UnknownNameIsRejectedWithTheAllowedList)
{
    try
    {
        Method("fedavg", 1);
        FAIL() << "no exception";
    }
    catch (const std::invalid_argument& e)
    {
        EXPECT_EQ(std::string(e.what()),
                  "unknown method 'fedavg' (allowed: lora, ffa-lora, rolora, "
                  "tad-lora-no-joint, tad-lora)");
    }
    EXPECT_THROW(Method("tad-lora", 0), std::invalid_argument);
}
