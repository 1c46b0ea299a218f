/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Tests of the base graphs: sizes and degrees of the fixed kinds, connectivity and seed
 * determinism of the random kinds, file readers, and one-line errors naming the option.
 */

#include "tadlora-test-task.h"
#include "tadlora-topology.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

using tadlora::Degrees;
using tadlora::Edge;
using tadlora::MakeBaseGraph;

namespace
{

/// Connectivity checked independently of the implementation (union-find).
bool
IsConnected(const std::vector<Edge>& edges, uint32_t nodes)
{
    std::vector<uint32_t> parent(nodes);
    std::iota(parent.begin(), parent.end(), 0);
    auto find = [&parent](uint32_t x)
    {
        while (parent[x] != x)
        {
            x = parent[x] = parent[parent[x]];
        }
        return x;
    };
    uint32_t components = nodes;
    for (const Edge& e : edges)
    {
        const uint32_t a = find(e.u);
        const uint32_t b = find(e.v);
        if (a != b)
        {
            parent[a] = b;
            --components;
        }
    }
    return components == 1;
}

/// Sorted strictly increasing (so no duplicates), u < v < nodes, connected.
void
ExpectSimpleConnected(const std::vector<Edge>& edges, uint32_t nodes)
{
    for (std::size_t k = 0; k < edges.size(); ++k)
    {
        EXPECT_LT(edges[k].u, edges[k].v);
        EXPECT_LT(edges[k].v, nodes);
        if (k > 0)
        {
            EXPECT_TRUE(edges[k - 1] < edges[k]);
        }
    }
    EXPECT_TRUE(IsConnected(edges, nodes));
}

std::string
WriteTempFile(const std::string& name, const std::string& content)
{
    const std::string path = tadlora::test::TempDir() + "/topology-" + name;
    std::ofstream(path) << content;
    return path;
}

/// The message of the std::invalid_argument that MakeBaseGraph throws, or "" if none.
std::string
ErrorOf(const std::string& spec, uint32_t nodes)
{
    try
    {
        MakeBaseGraph(spec, nodes, 1);
    }
    catch (const std::invalid_argument& e)
    {
        return e.what();
    }
    return "";
}

} // namespace

TEST(Topology, CompleteGraphHasAllPairs)
{
    const auto edges = MakeBaseGraph("complete", 7, 0);
    EXPECT_EQ(edges.size(), 21u);
    ExpectSimpleConnected(edges, 7);
    EXPECT_EQ(Degrees(edges, 7), std::vector<uint32_t>(7, 6));
}

TEST(Topology, RingDegreesAreAllTwo)
{
    const auto edges = MakeBaseGraph("ring", 8, 0);
    EXPECT_EQ(edges.size(), 8u);
    ExpectSimpleConnected(edges, 8);
    EXPECT_EQ(Degrees(edges, 8), std::vector<uint32_t>(8, 2));
}

TEST(Topology, RingOfTwoIsOneEdge)
{
    EXPECT_EQ(MakeBaseGraph("ring", 2, 0), (std::vector<Edge>{{0, 1}}));
}

TEST(Topology, GridOfNineIsThreeByThreeLattice)
{
    const auto edges = MakeBaseGraph("grid", 9, 0);
    EXPECT_EQ(edges.size(), 12u);
    ExpectSimpleConnected(edges, 9);
    EXPECT_EQ(Degrees(edges, 9), (std::vector<uint32_t>{2, 3, 2, 3, 4, 3, 2, 3, 2}));
}

TEST(Topology, GridOfSevenHasPartialLastRow)
{
    // rows = floor(sqrt(7)) = 2, cols = 4: 0 1 2 3 over 4 5 6.
    const std::vector<Edge> expected{{0, 1}, {0, 4}, {1, 2}, {1, 5},
                                     {2, 3}, {2, 6}, {4, 5}, {5, 6}};
    EXPECT_EQ(MakeBaseGraph("grid", 7, 0), expected);
}

TEST(Topology, ErdosRenyiIsConnectedAndDeterministicPerSeed)
{
    const auto first = MakeBaseGraph("erdos-renyi:0.3", 20, 1);
    ExpectSimpleConnected(first, 20);
    EXPECT_EQ(MakeBaseGraph("erdos-renyi:0.3", 20, 1), first);
    EXPECT_NE(MakeBaseGraph("erdos-renyi:0.3", 20, 2), first);
    // 190 pairs at p = 0.3: mean 57, standard deviation 6.3.
    EXPECT_NEAR(static_cast<double>(first.size()), 57.0, 30.0);
}

TEST(Topology, ErdosRenyiWithProbabilityOneIsComplete)
{
    EXPECT_EQ(MakeBaseGraph("erdos-renyi:1", 6, 3), MakeBaseGraph("complete", 6, 0));
}

TEST(Topology, SparseErdosRenyiIsRedrawnUntilConnected)
{
    // At p = 0.12 on 20 nodes about 80% of draws leave an isolated node (20 * 0.88^19 = 1.8).
    for (uint64_t seed = 0; seed < 10; ++seed)
    {
        ExpectSimpleConnected(MakeBaseGraph("erdos-renyi:0.12", 20, seed), 20);
    }
}

TEST(Topology, GeometricIsConnectedAndDeterministicPerSeed)
{
    const auto first = MakeBaseGraph("geometric:0.35", 30, 1);
    ExpectSimpleConnected(first, 30);
    EXPECT_EQ(MakeBaseGraph("geometric:0.35", 30, 1), first);
    EXPECT_NE(MakeBaseGraph("geometric:0.35", 30, 2), first);
    EXPECT_LT(first.size(), 30u * 29u / 2u);
}

TEST(Topology, GeometricWithRadiusAboveDiagonalIsComplete)
{
    EXPECT_EQ(MakeBaseGraph("geometric:1.5", 9, 4), MakeBaseGraph("complete", 9, 0));
}

TEST(Topology, SmallWorldWithoutRewiringIsRingLattice)
{
    const auto edges = MakeBaseGraph("small-world:4:0", 10, 5);
    EXPECT_EQ(edges.size(), 20u);
    EXPECT_EQ(Degrees(edges, 10), std::vector<uint32_t>(10, 4));
    for (uint32_t i = 0; i < 10; ++i)
    {
        for (uint32_t step : {1u, 2u})
        {
            const uint32_t j = (i + step) % 10;
            const Edge e{std::min(i, j), std::max(i, j)};
            EXPECT_TRUE(std::binary_search(edges.begin(), edges.end(), e)) << i << " -- " << j;
        }
    }
}

TEST(Topology, SmallWorldIsConnectedAndDeterministicPerSeed)
{
    const auto first = MakeBaseGraph("small-world:4:0.3", 20, 1);
    ExpectSimpleConnected(first, 20);
    EXPECT_LE(first.size(), 40u); // rewiring onto an existing edge merges the two
    EXPECT_EQ(MakeBaseGraph("small-world:4:0.3", 20, 1), first);
    EXPECT_NE(MakeBaseGraph("small-world:4:0.3", 20, 2), first);
    EXPECT_NE(MakeBaseGraph("small-world:4:0", 20, 1), first);
}

TEST(Topology, EdgeListFileIsReadWithCommentsAndBothSpellings)
{
    const std::string path = WriteTempFile(
        "list.txt", "# a triangle with a tail\n0 1\n\n1 2 # trailing\n2 0\n  2 3\n1 0\n");
    EXPECT_EQ(MakeBaseGraph("edges:" + path, 4, 0),
              (std::vector<Edge>{{0, 1}, {0, 2}, {1, 2}, {2, 3}}));
}

TEST(Topology, DotFileIsReadByNodeId)
{
    const std::string path = WriteTempFile(
        "square.dot", "graph G {\n  3 -- 0;\n  0 -- 1 -- 2;\n  2 -- 3;\n  0 -- 2;\n}\n");
    EXPECT_EQ(MakeBaseGraph("dot:" + path, 4, 0),
              (std::vector<Edge>{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {2, 3}}));
}

TEST(Topology, BadSpecsThrowOneLineNamingTheOption)
{
    const std::string missing = tadlora::test::TempDir() + "/topology-no-such-file";
    const std::vector<std::string> badSpecs{"foo",
                                            "",
                                            "complete:3",
                                            "ring:",
                                            "erdos-renyi",
                                            "erdos-renyi:0",
                                            "erdos-renyi:1.5",
                                            "erdos-renyi:0.5x",
                                            "erdos-renyi:nan",
                                            "geometric:0",
                                            "geometric:-1",
                                            "small-world:4",
                                            "small-world:3:0.1",
                                            "small-world:0:0.1",
                                            "small-world:10:0.1",
                                            "small-world:4:1.5",
                                            "edges:" + missing,
                                            "dot:" + missing,
                                            "edges:" + ::testing::TempDir()};
    for (const std::string& spec : badSpecs)
    {
        const std::string message = ErrorOf(spec, 10);
        EXPECT_EQ(message.rfind("base graph: ", 0), 0u) << spec << ": " << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
}

TEST(Topology, UnknownKindListsAllowedKinds)
{
    EXPECT_EQ(ErrorOf("foo", 4),
              "base graph: unknown kind 'foo' (allowed: complete, ring, grid, erdos-renyi:P, "
              "geometric:R, small-world:K:BETA, edges:PATH, dot:PATH)");
}

TEST(Topology, SmallWorldErrorStatesTheAllowedRange)
{
    EXPECT_NE(ErrorOf("small-world:3:0.1", 10).find("even K with 2 <= K <= m - 2 = 8"),
              std::string::npos);
}

TEST(Topology, EdgeListWithNodeOutOfRangeThrowsWithLine)
{
    const std::string path = WriteTempFile("range.txt", "0 1\n1 5\n");
    const std::string message = ErrorOf("edges:" + path, 5);
    EXPECT_NE(message.find("line 2"), std::string::npos) << message;
    EXPECT_NE(message.find("[0, 4]"), std::string::npos) << message;
}

TEST(Topology, EdgeListWithSelfLoopOrBadLineThrows)
{
    EXPECT_NE(ErrorOf("edges:" + WriteTempFile("loop.txt", "0 1\n1 1\n"), 2).find("self loop"),
              std::string::npos);
    EXPECT_NE(ErrorOf("edges:" + WriteTempFile("three.txt", "0 1 2\n"), 3).find("two node ids"),
              std::string::npos);
    EXPECT_NE(ErrorOf("edges:" + WriteTempFile("neg.txt", "0 -1\n"), 3).find("node id '-1'"),
              std::string::npos);
}

TEST(Topology, DisconnectedFileGraphThrows)
{
    const std::string path = WriteTempFile("split.txt", "0 1\n2 3\n");
    EXPECT_NE(ErrorOf("edges:" + path, 4).find("not connected (2 components"), std::string::npos);
    // Node 4 has no edge at all.
    EXPECT_NE(
        ErrorOf("edges:" + WriteTempFile("lonely.txt", "0 1\n1 2\n2 3\n"), 5).find("not connected"),
        std::string::npos);
}

TEST(Topology, DotFileWithBadNodeIdOrDirectedGraphThrows)
{
    const std::string range = WriteTempFile("range.dot", "graph G { 0 -- 1; 1 -- 7; }\n");
    EXPECT_NE(ErrorOf("dot:" + range, 3).find("node id '7'"), std::string::npos);
    const std::string name = WriteTempFile("name.dot", "graph G { 0 -- a; }\n");
    EXPECT_NE(ErrorOf("dot:" + name, 2).find("node id 'a'"), std::string::npos);
    const std::string directed = WriteTempFile("directed.dot", "digraph G { 0 -> 1; }\n");
    EXPECT_EQ(ErrorOf("dot:" + directed, 2).rfind("base graph: ", 0), 0u);
    const std::string syntax = WriteTempFile("syntax.dot", "graph G { 0 -- ; \n");
    EXPECT_EQ(ErrorOf("dot:" + syntax, 2).rfind("base graph: ", 0), 0u);
}

TEST(Topology, RandomKindThatCannotConnectGivesUp)
{
    EXPECT_NE(ErrorOf("geometric:0.001", 50).find("no connected graph on 50 nodes in 1000 draws"),
              std::string::npos);
}

TEST(Topology, FewerThanTwoNodesThrows)
{
    EXPECT_EQ(ErrorOf("complete", 1), "base graph: needs at least 2 clients (got 1)");
}

TEST(Topology, DegreesCountBothEndpoints)
{
    EXPECT_EQ(Degrees({{0, 1}, {0, 2}, {0, 3}}, 5), (std::vector<uint32_t>{3, 1, 1, 1, 0}));
    EXPECT_THROW(Degrees({{0, 5}}, 5), std::invalid_argument);
}
