/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Base communication graphs, built with Boost.Graph's generators, reader and algorithms.
 */

#include "tadlora-topology.h"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/connected_components.hpp>
#include <boost/graph/erdos_renyi_generator.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/small_world_generator.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace tadlora
{
namespace
{

const char* const g_allowedKinds = "complete, ring, grid, erdos-renyi:P, geometric:R, "
                                   "small-world:K:BETA, edges:PATH, dot:PATH";

/// Redraws of a random kind before concluding its parameter cannot give a connected graph.
constexpr int g_maxDraws = 1000;

using UndirectedGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS>;

/// Vertex of a DOT file: read_graphviz stores the file's node id here.
struct DotVertex
{
    std::string id;
};

using DotGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, DotVertex>;

[[noreturn]] void
Fail(const std::string& what)
{
    throw std::invalid_argument("base graph: " + what);
}

Edge
MakeEdge(uint32_t a, uint32_t b)
{
    return a < b ? Edge{a, b} : Edge{b, a};
}

std::vector<Edge>
SortedUnique(std::vector<Edge> edges)
{
    std::sort(edges.begin(), edges.end());
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
    return edges;
}

std::size_t
CountComponents(const std::vector<Edge>& edges, uint32_t nodes)
{
    UndirectedGraph graph(nodes);
    for (const Edge& e : edges)
    {
        boost::add_edge(e.u, e.v, graph);
    }
    std::vector<std::size_t> component(nodes);
    return boost::connected_components(graph, component.data());
}

/// Strict number parsing: the whole text must be a finite number (no "0.5x", "nan").
double
ParseReal(const std::string& text, const std::string& spec, const std::string& allowed)
{
    if (text.empty())
    {
        Fail("'" + spec + "' is missing a number (" + allowed + ")");
    }
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(value))
    {
        Fail("'" + spec + "' has a bad number '" + text + "' (" + allowed + ")");
    }
    return value;
}

uint32_t
ParseNodeId(const std::string& text, uint32_t nodes, const std::string& where)
{
    const bool digitsOnly =
        !text.empty() && text.size() <= 10 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digitsOnly || std::stoull(text) >= nodes)
    {
        Fail(where + ": node id '" + text + "' is not an integer in [0, " +
             std::to_string(nodes - 1) + "]");
    }
    return static_cast<uint32_t>(std::stoull(text));
}

Edge
FileEdge(uint32_t a, uint32_t b, const std::string& where)
{
    if (a == b)
    {
        Fail(where + ": self loop " + std::to_string(a) + " -- " + std::to_string(a) +
             " (a client does not exchange with itself)");
    }
    return MakeEdge(a, b);
}

void
RequireReadableFile(const std::string& path, const std::string& kind)
{
    // An ifstream opens a directory without error, so check the file type first.
    if (!std::filesystem::is_regular_file(path) || !std::ifstream(path))
    {
        Fail("cannot read '" + path + "' (" + kind + ":PATH needs a readable file)");
    }
}

std::vector<Edge>
Complete(uint32_t nodes)
{
    std::vector<Edge> edges;
    for (uint32_t u = 0; u < nodes; ++u)
    {
        for (uint32_t v = u + 1; v < nodes; ++v)
        {
            edges.push_back({u, v});
        }
    }
    return edges;
}

std::vector<Edge>
Ring(uint32_t nodes)
{
    std::vector<Edge> edges;
    for (uint32_t i = 0; i < nodes; ++i)
    {
        edges.push_back(MakeEdge(i, (i + 1) % nodes));
    }
    return edges;
}

std::vector<Edge>
Grid(uint32_t nodes)
{
    uint32_t rows = static_cast<uint32_t>(std::sqrt(static_cast<double>(nodes)));
    // Correct the floating-point square root to the exact integer floor.
    while (static_cast<uint64_t>(rows + 1) * (rows + 1) <= nodes)
    {
        ++rows;
    }
    while (static_cast<uint64_t>(rows) * rows > nodes)
    {
        --rows;
    }
    const uint32_t cols = (nodes + rows - 1) / rows;
    std::vector<Edge> edges;
    for (uint32_t k = 0; k < nodes; ++k)
    {
        if ((k + 1) % cols != 0 && k + 1 < nodes)
        {
            edges.push_back({k, k + 1});
        }
        if (k + cols < nodes)
        {
            edges.push_back({k, k + cols});
        }
    }
    return edges;
}

std::vector<Edge>
DrawErdosRenyi(std::mt19937_64& gen, uint32_t nodes, double prob)
{
    if (prob == 1.0)
    {
        return Complete(nodes); // Boost's geometric skipping needs prob < 1.
    }
    using Iterator = boost::sorted_erdos_renyi_iterator<std::mt19937_64, UndirectedGraph>;
    std::vector<Edge> edges;
    for (Iterator it(gen, nodes, prob), end; it != end; ++it)
    {
        edges.push_back(MakeEdge((*it).first, (*it).second));
    }
    return edges;
}

std::vector<Edge>
DrawGeometric(std::mt19937_64& gen, uint32_t nodes, double radius)
{
    // 53 random bits per coordinate: portable, unlike std::uniform_real_distribution.
    auto uniform = [&gen]() { return static_cast<double>(gen() >> 11) * 0x1.0p-53; };
    std::vector<double> x(nodes);
    std::vector<double> y(nodes);
    for (uint32_t i = 0; i < nodes; ++i)
    {
        x[i] = uniform();
        y[i] = uniform();
    }
    std::vector<Edge> edges;
    for (uint32_t u = 0; u < nodes; ++u)
    {
        for (uint32_t v = u + 1; v < nodes; ++v)
        {
            const double dx = x[u] - x[v];
            const double dy = y[u] - y[v];
            if (dx * dx + dy * dy <= radius * radius)
            {
                edges.push_back({u, v});
            }
        }
    }
    return edges;
}

std::vector<Edge>
DrawSmallWorld(std::mt19937_64& gen, uint32_t nodes, uint32_t k, double beta)
{
    using Iterator = boost::small_world_iterator<std::mt19937_64, UndirectedGraph>;
    std::vector<Edge> edges;
    for (Iterator it(gen, nodes, k, beta), end; it != end; ++it)
    {
        edges.push_back(MakeEdge(it->first, it->second));
    }
    return edges;
}

/// Draws from one seeded stream until the graph is connected.
template<typename Draw>
std::vector<Edge>
DrawConnected(const std::string& spec, uint32_t nodes, uint64_t seed, Draw draw)
{
    std::mt19937_64 gen(seed);
    for (int attempt = 0; attempt < g_maxDraws; ++attempt)
    {
        std::vector<Edge> edges = SortedUnique(draw(gen));
        if (CountComponents(edges, nodes) == 1)
        {
            return edges;
        }
    }
    Fail("'" + spec + "' gave no connected graph on " + std::to_string(nodes) + " nodes in " +
         std::to_string(g_maxDraws) + " draws (use a denser parameter)");
}

std::vector<Edge>
ReadEdgeList(const std::string& path, uint32_t nodes)
{
    RequireReadableFile(path, "edges");
    std::ifstream in(path);
    std::vector<Edge> edges;
    std::string line;
    for (uint32_t lineNumber = 1; std::getline(in, line); ++lineNumber)
    {
        const std::string where = "'" + path + "' line " + std::to_string(lineNumber);
        std::istringstream fields(line.substr(0, line.find('#')));
        std::string a;
        std::string b;
        std::string extra;
        if (!(fields >> a))
        {
            continue; // blank or comment-only line
        }
        if (!(fields >> b) || (fields >> extra))
        {
            Fail(where + ": expected two node ids 'u v', got '" + line + "'");
        }
        edges.push_back(
            FileEdge(ParseNodeId(a, nodes, where), ParseNodeId(b, nodes, where), where));
    }
    return edges;
}

std::vector<Edge>
ReadDot(const std::string& path, uint32_t nodes)
{
    RequireReadableFile(path, "dot");
    std::ifstream in(path);
    DotGraph graph;
    boost::dynamic_properties properties(boost::ignore_other_properties);
    properties.property("node_id", boost::get(&DotVertex::id, graph));
    try
    {
        boost::read_graphviz(in, graph, properties, "node_id");
    }
    catch (const std::exception& e)
    {
        std::string reason = e.what();
        std::replace(reason.begin(), reason.end(), '\n', ' ');
        Fail("'" + path + "': " + reason +
             " (dot:PATH needs an undirected 'graph' with node ids 0.." +
             std::to_string(nodes - 1) + ")");
    }
    const std::string where = "'" + path + "'";
    std::vector<uint32_t> ids;
    for (auto vertex : boost::make_iterator_range(boost::vertices(graph)))
    {
        ids.push_back(ParseNodeId(graph[vertex].id, nodes, where));
    }
    std::vector<Edge> edges;
    for (auto edge : boost::make_iterator_range(boost::edges(graph)))
    {
        edges.push_back(
            FileEdge(ids[boost::source(edge, graph)], ids[boost::target(edge, graph)], where));
    }
    return edges;
}

std::vector<Edge>
BuildEdges(const std::string& spec, uint32_t nodes, uint64_t seed)
{
    const std::size_t colon = spec.find(':');
    const std::string kind = spec.substr(0, colon);
    const std::string argument = colon == std::string::npos ? "" : spec.substr(colon + 1);
    const bool hasArgument = colon != std::string::npos;

    if (kind == "complete" || kind == "ring" || kind == "grid")
    {
        if (hasArgument)
        {
            Fail("'" + kind + "' takes no parameter, got '" + spec + "'");
        }
        return kind == "complete" ? Complete(nodes) : kind == "ring" ? Ring(nodes) : Grid(nodes);
    }
    if (kind == "erdos-renyi")
    {
        const std::string allowed = "erdos-renyi:P needs P in (0, 1]";
        const double prob = ParseReal(argument, spec, allowed);
        if (!(prob > 0.0 && prob <= 1.0))
        {
            Fail("'" + spec + "': " + allowed);
        }
        return DrawConnected(spec, nodes, seed,
                             [&](std::mt19937_64& gen)
                             { return DrawErdosRenyi(gen, nodes, prob); });
    }
    if (kind == "geometric")
    {
        const std::string allowed = "geometric:R needs R > 0";
        const double radius = ParseReal(argument, spec, allowed);
        if (!(radius > 0.0))
        {
            Fail("'" + spec + "': " + allowed);
        }
        return DrawConnected(spec, nodes, seed,
                             [&](std::mt19937_64& gen)
                             { return DrawGeometric(gen, nodes, radius); });
    }
    if (kind == "small-world")
    {
        // Boost's rewiring loops forever unless some node lies outside a node's K-window.
        const std::string allowed = "small-world:K:BETA needs an even K with 2 <= K <= m - 2 = " +
                                    std::to_string(nodes - 2) + " and BETA in [0, 1]";
        const std::size_t split = argument.find(':');
        if (split == std::string::npos)
        {
            Fail("'" + spec + "': " + allowed);
        }
        const double k = ParseReal(argument.substr(0, split), spec, allowed);
        const double beta = ParseReal(argument.substr(split + 1), spec, allowed);
        if (k != std::floor(k) || k < 2 || k > nodes - 2.0 || std::fmod(k, 2.0) != 0.0 ||
            !(beta >= 0.0 && beta <= 1.0))
        {
            Fail("'" + spec + "': " + allowed);
        }
        return DrawConnected(spec, nodes, seed,
                             [&](std::mt19937_64& gen) {
                                 return DrawSmallWorld(gen, nodes, static_cast<uint32_t>(k), beta);
                             });
    }
    if (kind == "edges" && hasArgument)
    {
        return ReadEdgeList(argument, nodes);
    }
    if (kind == "dot" && hasArgument)
    {
        return ReadDot(argument, nodes);
    }
    Fail("unknown kind '" + spec + "' (allowed: " + g_allowedKinds + ")");
}

} // namespace

bool
operator==(const Edge& a, const Edge& b)
{
    return a.u == b.u && a.v == b.v;
}

bool
operator<(const Edge& a, const Edge& b)
{
    return a.u < b.u || (a.u == b.u && a.v < b.v);
}

std::vector<Edge>
MakeBaseGraph(const std::string& spec, uint32_t nodes, uint64_t seed)
{
    if (nodes < 2)
    {
        throw std::invalid_argument("base graph: needs at least 2 clients (got " +
                                    std::to_string(nodes) + ")");
    }
    const std::vector<Edge> edges = SortedUnique(BuildEdges(spec, nodes, seed));
    const std::size_t components = CountComponents(edges, nodes);
    if (components != 1)
    {
        Fail("'" + spec + "' is not connected (" + std::to_string(components) + " components on " +
             std::to_string(nodes) + " nodes); every client needs a path to every other");
    }
    return edges;
}

std::vector<uint32_t>
Degrees(const std::vector<Edge>& edges, uint32_t nodes)
{
    std::vector<uint32_t> degrees(nodes, 0);
    for (const Edge& e : edges)
    {
        if (e.u >= nodes || e.v >= nodes)
        {
            throw std::invalid_argument("edge " + std::to_string(e.u) + " -- " +
                                        std::to_string(e.v) +
                                        " has a node id >= " + std::to_string(nodes));
        }
        ++degrees[e.u];
        ++degrees[e.v];
    }
    return degrees;
}

} // namespace tadlora
