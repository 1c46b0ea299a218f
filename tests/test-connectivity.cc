// SPDX-License-Identifier: GPL-2.0-only
// rho (DESIGN.md section 1) against closed forms, exact against Monte Carlo, and the switching
// interval `--switch-interval auto` derives from it.

#include "tadlora-connectivity.h"
#include "tadlora-mixing.h"
#include "tadlora-topology.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

using namespace tadlora;

TEST(Connectivity, OneEdgeGivesOneMinusP)
{
    // W = I with probability 1 - p, else the 2 x 2 average J / 2: E[W^T W] = (1 - p) I + p J / 2,
    // whose eigenvalue off the all-ones vector is 1 - p.
    for (double p : {0.02, 0.1, 0.5, 0.9})
    {
        const Connectivity c = MixingConnectivity({{0, 1}}, 2, p);
        EXPECT_NEAR(c.rho, 1.0 - p, 1e-12) << "p=" << p;
        EXPECT_TRUE(c.exact);
        EXPECT_EQ(c.samples, 2u);
    }
}

TEST(Connectivity, AlwaysOnCompleteGraphAveragesInOneRoundAndNoLinksNever)
{
    const std::vector<Edge> complete = MakeBaseGraph("complete", 12, 1); // 66 edges
    EXPECT_NEAR(MixingConnectivity(complete, 12, 1.0).rho, 0.0, 1e-12);
    EXPECT_NEAR(MixingConnectivity(complete, 12, 0.0).rho, 1.0, 1e-12);
    EXPECT_TRUE(MixingConnectivity(complete, 12, 1.0).exact);
}

TEST(Connectivity, DisconnectedGraphHasRhoOne)
{
    std::vector<Edge> matching; // 17 disjoint edges: Monte Carlo, and never connected
    for (uint32_t k = 0; k < 17; ++k)
    {
        matching.push_back({2 * k, 2 * k + 1});
    }
    const Connectivity c = MixingConnectivity(matching, 34, 0.5, 200);
    EXPECT_FALSE(c.exact);
    EXPECT_NEAR(c.rho, 1.0, 1e-9);
}

TEST(Connectivity, MonteCarloAgreesWithTheExactExpectation)
{
    const std::vector<Edge> complete = MakeBaseGraph("complete", 6, 1); // 15 edges: exact
    const Connectivity exact = MixingConnectivity(complete, 6, 0.3);
    const Connectivity sampled = MixingConnectivity(complete, 6, 0.3, 40000, 7, 0);
    ASSERT_TRUE(exact.exact);
    ASSERT_FALSE(sampled.exact);
    EXPECT_EQ(exact.samples, 1u << 15);
    EXPECT_NEAR(sampled.rho, exact.rho, 4 * sampled.standardError + 1e-3);
    EXPECT_LT(sampled.standardError, 0.005);
    EXPECT_GT(exact.rho, 0.3);
    EXPECT_LT(exact.rho, 1.0);
}

TEST(Connectivity, FiveHundredClientsOnTheCompleteGraphMatchTheTraceFormula)
{
    // Relabelling the clients does not change the law of W_t on the complete graph, so
    // E[W^T W] = a I + b J, and its rows sum to 1 (W is doubly stochastic): rho = a =
    // (E ||W||_F^2 - 1) / (m - 1). E ||W||_F^2 is drawn here with the simulation's own edge
    // draws and dense weights, independently of MixingConnectivity's sampler.
    constexpr uint32_t m = 500;
    const std::vector<Edge> complete = MakeBaseGraph("complete", m, 1); // 124,750 edges
    for (double p : {0.02, 0.1})
    {
        const Connectivity c = MixingConnectivity(complete, m, p);
        ASSERT_FALSE(c.exact);
        constexpr int kDraws = 200;
        double sum = 0;
        double sumOfSquares = 0;
        for (int s = 0; s < kDraws; ++s)
        {
            const std::vector<Edge> active = DrawActiveEdges(complete, p, 99, s);
            const std::vector<uint32_t> degree = Degrees(active, m);
            std::vector<double> self(m, 1.0);
            double frobenius = 0;
            for (const Edge& e : active)
            {
                const double w = MetropolisHastingsWeight(degree[e.u], degree[e.v]);
                frobenius += 2 * w * w;
                self[e.u] -= w;
                self[e.v] -= w;
            }
            for (double w : self)
            {
                frobenius += w * w;
            }
            sum += frobenius;
            sumOfSquares += frobenius * frobenius;
        }
        const double mean = sum / kDraws;
        const double error =
            std::sqrt((sumOfSquares / kDraws - mean * mean) / (kDraws - 1)) / (m - 1);
        const double expected = (mean - 1) / (m - 1);
        // about 0.09 at p = 0.02 (a client averages with about 10 others) and 0.02 at p = 0.1
        EXPECT_NEAR(c.rho, expected, 4 * std::hypot(error, c.standardError) + 1e-4) << "p=" << p;
        EXPECT_GT(c.standardError, 0.0);
        EXPECT_LT(c.standardError, 0.01 * c.rho);
        EXPECT_GT(c.rho, p == 0.02 ? 0.05 : 0.01);
    }
}

TEST(Connectivity, FewerLinksMixWorse)
{
    const std::vector<Edge> complete = MakeBaseGraph("complete", 10, 1);
    const double dense = MixingConnectivity(complete, 10, 0.5).rho;
    const double sparse = MixingConnectivity(complete, 10, 0.1).rho;
    const double sparsest = MixingConnectivity(complete, 10, 0.02).rho;
    EXPECT_LT(dense, sparse);
    EXPECT_LT(sparse, sparsest);
    EXPECT_LT(sparsest, 1.0);
    // The same draws give the same estimate.
    EXPECT_EQ(MixingConnectivity(complete, 10, 0.1).rho, sparse);
}

TEST(Connectivity, AutoSwitchIntervalGrowsAsOneOverSqrtOfTheGap)
{
    EXPECT_EQ(AutoSwitchInterval(0.0),
              std::max(1u, static_cast<uint32_t>(std::round(kAutoSwitchConstant))));
    EXPECT_EQ(AutoSwitchInterval(0.99),
              static_cast<uint32_t>(std::round(kAutoSwitchConstant * 10)));
    EXPECT_EQ(AutoSwitchInterval(0.9999),
              static_cast<uint32_t>(std::round(kAutoSwitchConstant * 100)));
    EXPECT_EQ(AutoSwitchInterval(1.0), 1000u);
    EXPECT_THROW(MixingConnectivity({{0, 1}}, 2, 1.5), std::invalid_argument);
}
