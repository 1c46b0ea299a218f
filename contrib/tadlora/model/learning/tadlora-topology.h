/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Base communication graphs of the decentralized federation: which clients may ever exchange
 * factors. Pure C++17 (no ns-3, no LibTorch), so it is testable without a simulator.
 */

#ifndef TADLORA_TOPOLOGY_H
#define TADLORA_TOPOLOGY_H

#include <cstdint>
#include <string>
#include <vector>

namespace tadlora
{

/**
 * @brief An undirected edge between clients u and v, stored with u < v so that each edge
 * has exactly one spelling and edge lists can be sorted and compared.
 */
struct Edge
{
    uint32_t u; //!< smaller endpoint
    uint32_t v; //!< larger endpoint
};

/**
 * @brief Equality of edges.
 * @param a first edge
 * @param b second edge
 * @return true if both endpoints are equal
 */
bool operator==(const Edge& a, const Edge& b);

/**
 * @brief Lexicographic order on (u, v), the order of MakeBaseGraph's result.
 * @param a first edge
 * @param b second edge
 * @return true if a comes before b
 */
bool operator<(const Edge& a, const Edge& b);

/**
 * @brief Build the base graph named by a `--topology` spec on `nodes` clients.
 *
 * Spec grammar (m = nodes, m >= 2):
 * - `complete`: every pair of clients.
 * - `ring`: i -- (i + 1) mod m.
 * - `grid`: 4-neighbour lattice of rows = floor(sqrt(m)) rows and cols = ceil(m / rows)
 *   columns, filled row by row (node k at row k / cols, column k % cols); the last row is
 *   partial when m != rows * cols.
 * - `erdos-renyi:P`: each pair is an edge with probability P, P in (0, 1].
 * - `geometric:R`: nodes uniform in the unit square, an edge when their distance is <= R,
 *   R > 0.
 * - `small-world:K:BETA`: Watts-Strogatz; ring lattice with K neighbours per node, each
 *   lattice edge rewired with probability BETA; K even, 2 <= K <= m - 2, BETA in [0, 1].
 *   Rewiring can hit an existing edge; such duplicates are merged.
 * - `edges:PATH`: text file, one `u v` pair of 0-based node ids per line; `#` starts a
 *   comment, blank lines are ignored, both spellings of a pair count as one edge.
 * - `dot:PATH`: Graphviz DOT `graph` (undirected) whose node ids are the integers 0..m-1;
 *   parallel edges are merged.
 *
 * Random kinds draw from a std::mt19937_64 seeded with `seed` and redraw from the same stream
 * until the graph is connected, at most 1000 times, so a seed names one graph.
 *
 * @param spec the topology spec, as given to `--topology`
 * @param nodes number of clients m
 * @param seed seed of the random kinds (ignored by the others)
 * @return the edges, sorted, each with u < v < m, no self loops nor duplicates; the graph
 *         is connected
 * @throws std::invalid_argument with a one-line message naming the option and what is
 *         allowed: unknown kind, bad parameter, unreadable file, node id out of range, self
 *         loop, disconnected graph, m < 2
 */
std::vector<Edge> MakeBaseGraph(const std::string& spec, uint32_t nodes, uint64_t seed);

/**
 * @brief Degree of every node.
 * @param edges undirected edges, each with both endpoints < nodes
 * @param nodes number of nodes
 * @return degree of node i at index i
 * @throws std::invalid_argument if an endpoint is >= nodes
 */
std::vector<uint32_t> Degrees(const std::vector<Edge>& edges, uint32_t nodes);

} // namespace tadlora

#endif // TADLORA_TOPOLOGY_H
