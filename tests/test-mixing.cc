/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Tests of link activation and Metropolis-Hastings weights: determinism and rate of the
 * per-round draws, exact weights on small graphs, and double stochasticity on random rounds.
 */

#include "tadlora-mixing.h"
#include "tadlora-topology.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

using tadlora::DrawActiveEdges;
using tadlora::Edge;
using tadlora::MakeBaseGraph;
using tadlora::MetropolisHastings;
using tadlora::MetropolisHastingsWeight;
using tadlora::MixingMatrix;

TEST(Mixing, ActiveEdgesDependOnlyOnSeedAndRound)
{
    const auto base = MakeBaseGraph("complete", 20, 0);
    const auto round3 = DrawActiveEdges(base, 0.5, 42, 3);
    DrawActiveEdges(base, 0.5, 42, 7); // drawing another round first changes nothing
    EXPECT_EQ(DrawActiveEdges(base, 0.5, 42, 3), round3);
    EXPECT_NE(DrawActiveEdges(base, 0.5, 42, 4), round3);
    EXPECT_NE(DrawActiveEdges(base, 0.5, 43, 3), round3);
}

TEST(Mixing, ActiveEdgesAreSubsequenceOfBase)
{
    const auto base = MakeBaseGraph("erdos-renyi:0.4", 15, 1);
    const auto active = DrawActiveEdges(base, 0.3, 9, 0);
    EXPECT_TRUE(std::includes(base.begin(), base.end(), active.begin(), active.end()));
}

TEST(Mixing, ActiveEdgesKeepAboutLinkProbOfEdgesOverManyRounds)
{
    const auto base = MakeBaseGraph("complete", 10, 0); // 45 edges
    const uint64_t rounds = 2000;
    for (double p : {0.5, 0.1, 0.02})
    {
        uint64_t kept = 0;
        for (uint64_t round = 0; round < rounds; ++round)
        {
            kept += DrawActiveEdges(base, p, 7, round).size();
        }
        // 90,000 coins: the standard deviation of the fraction is at most 0.0017.
        EXPECT_NEAR(static_cast<double>(kept) / (45.0 * rounds), p, 0.006) << "p = " << p;
    }
}

TEST(Mixing, LinkProbOneKeepsAllAndZeroKeepsNone)
{
    const auto base = MakeBaseGraph("complete", 12, 0);
    for (uint64_t round = 0; round < 20; ++round)
    {
        EXPECT_EQ(DrawActiveEdges(base, 1.0, 5, round), base);
        EXPECT_TRUE(DrawActiveEdges(base, 0.0, 5, round).empty());
    }
}

TEST(Mixing, LinkProbOutsideUnitIntervalThrowsNamingTheOption)
{
    const auto base = MakeBaseGraph("ring", 4, 0);
    for (double p : {-0.1, 1.5})
    {
        try
        {
            DrawActiveEdges(base, p, 0, 0);
            ADD_FAILURE() << "no exception for p = " << p;
        }
        catch (const std::invalid_argument& e)
        {
            EXPECT_EQ(std::string(e.what()).rfind("link probability must be in [0, 1]", 0), 0u);
        }
    }
}

TEST(Mixing, MetropolisHastingsWeightIsOneOverOnePlusMaxDegree)
{
    EXPECT_DOUBLE_EQ(MetropolisHastingsWeight(2, 3), 0.25);
    EXPECT_DOUBLE_EQ(MetropolisHastingsWeight(9, 1), 0.1);
    EXPECT_DOUBLE_EQ(MetropolisHastingsWeight(0, 0), 1.0);
}

TEST(Mixing, MetropolisHastingsOnPathHasExactWeights)
{
    // Path 0 - 1 - 2 and isolated node 3: degrees 1, 2, 1, 0.
    const MixingMatrix w = MetropolisHastings(4, {{0, 1}, {1, 2}});
    const double third = 1.0 / 3.0;
    const std::vector<std::vector<double>> expected{{1 - third, third, 0, 0},
                                                    {third, 1 - 2 * third, third, 0},
                                                    {0, third, 1 - third, 0},
                                                    {0, 0, 0, 1}};
    ASSERT_EQ(w.Size(), 4u);
    for (uint32_t i = 0; i < 4; ++i)
    {
        for (uint32_t j = 0; j < 4; ++j)
        {
            EXPECT_DOUBLE_EQ(w(i, j), expected[i][j]) << i << ", " << j;
        }
    }
}

TEST(Mixing, MetropolisHastingsOnCompleteGraphIsUniformAverage)
{
    const MixingMatrix w = MetropolisHastings(5, MakeBaseGraph("complete", 5, 0));
    for (uint32_t i = 0; i < 5; ++i)
    {
        for (uint32_t j = 0; j < 5; ++j)
        {
            EXPECT_NEAR(w(i, j), 0.2, 1e-15);
        }
    }
}

TEST(Mixing, MetropolisHastingsIsSymmetricAndDoublyStochasticOnRandomRounds)
{
    const uint32_t nodes = 12;
    for (const char* spec : {"complete", "erdos-renyi:0.4", "small-world:4:0.2"})
    {
        const auto base = MakeBaseGraph(spec, nodes, 3);
        for (double p : {0.5, 0.1, 0.02})
        {
            for (uint64_t round = 0; round < 50; ++round)
            {
                const MixingMatrix w =
                    MetropolisHastings(nodes, DrawActiveEdges(base, p, 1, round));
                EXPECT_TRUE(w.IsSymmetric(0.0));
                EXPECT_LE(w.MaxColumnSumDeviation(), 1e-12);
                for (uint32_t i = 0; i < nodes; ++i)
                {
                    EXPECT_NEAR(w.RowSum(i), 1.0, 1e-12);
                    EXPECT_NEAR(w.ColumnSum(i), 1.0, 1e-12);
                    for (uint32_t j = 0; j < nodes; ++j)
                    {
                        EXPECT_GE(w(i, j), 0.0);
                    }
                }
            }
        }
    }
}

TEST(Mixing, NoActiveEdgesGiveIdentity)
{
    const MixingMatrix w = MetropolisHastings(3, {});
    for (uint32_t i = 0; i < 3; ++i)
    {
        for (uint32_t j = 0; j < 3; ++j)
        {
            EXPECT_EQ(w(i, j), i == j ? 1.0 : 0.0);
        }
    }
}

TEST(Mixing, MetropolisHastingsRejectsMalformedEdges)
{
    EXPECT_THROW(MetropolisHastings(3, {{1, 0}}), std::invalid_argument);
    EXPECT_THROW(MetropolisHastings(3, {{1, 1}}), std::invalid_argument);
    EXPECT_THROW(MetropolisHastings(3, {{0, 3}}), std::invalid_argument);
}

TEST(Mixing, MaxColumnSumDeviationMeasuresAsymmetricMatrixExactly)
{
    // Rows sum to 1 but columns to 0.75, 1.75 and 0.5, as after a lost message.
    MixingMatrix w(3);
    w(0, 0) = 0.5;
    w(0, 1) = 0.5;
    w(1, 0) = 0.25;
    w(1, 1) = 0.75;
    w(2, 1) = 0.5;
    w(2, 2) = 0.5;
    EXPECT_EQ(w.RowSum(1), 1.0);
    EXPECT_EQ(w.ColumnSum(0), 0.75);
    EXPECT_EQ(w.ColumnSum(1), 1.75);
    EXPECT_EQ(w.ColumnSum(2), 0.5);
    EXPECT_EQ(w.MaxColumnSumDeviation(), 0.75);
    EXPECT_FALSE(w.IsSymmetric(0.2));
    EXPECT_TRUE(w.IsSymmetric(0.5)); // largest asymmetry is |W(2, 1) - W(1, 2)| = 0.5
}
