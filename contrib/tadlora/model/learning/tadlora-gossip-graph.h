// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_GOSSIP_GRAPH_H
#define TADLORA_GOSSIP_GRAPH_H

#include "tadlora-topology.h"

#include <cstdint>
#include <map>
#include <vector>

/**
 * @file
 * The intended gossip graph of each round: the base graph with each edge active independently
 * with probability p (the paper's link model), the same for every client.
 */

namespace tadlora
{

/** @brief E_t for every round t, drawn from a stream that depends only on (seed, t). */
class GossipGraph
{
public:
    /**
     * @param nodes m
     * @param base the base graph's edges
     * @param linkProb p, each edge's activation probability per round
     * @param seed the run's seed
     */
    GossipGraph(uint32_t nodes, std::vector<Edge> base, double linkProb, uint64_t seed);

    /** @return m */
    uint32_t Nodes() const;
    /** @return the base graph's edges */
    const std::vector<Edge>& Base() const;
    /** @param round t @return E_t, sorted */
    const std::vector<Edge>& Active(uint64_t round);
    /** @param client i @param round t @return i's neighbours in E_t, ascending */
    const std::vector<uint32_t>& Neighbours(uint32_t client, uint64_t round);

private:
    /** @brief One round's graph. */
    struct Round
    {
        std::vector<Edge> active;                      //!< E_t, sorted
        std::vector<std::vector<uint32_t>> neighbours; //!< by client, ascending
    };

    /** @return round t's graph, drawn on first use */
    const Round& Get(uint64_t round);

    static constexpr size_t kCachedRounds = 4; //!< rounds of E_t kept

    uint32_t m_nodes;                  //!< m
    std::vector<Edge> m_base;          //!< base graph
    double m_linkProb;                 //!< p
    uint64_t m_seed;                   //!< run's seed
    std::map<uint64_t, Round> m_cache; //!< the latest rounds asked for
};

} // namespace tadlora

#endif // TADLORA_GOSSIP_GRAPH_H
