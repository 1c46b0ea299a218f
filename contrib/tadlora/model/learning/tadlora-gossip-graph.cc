// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-gossip-graph.h"

#include "tadlora-mixing.h"

#include <algorithm>

namespace tadlora
{

GossipGraph::GossipGraph(uint32_t nodes, std::vector<Edge> base, double linkProb, uint64_t seed)
    : m_nodes(nodes)
    , m_base(std::move(base))
    , m_linkProb(linkProb)
    , m_seed(seed)
{
}

uint32_t
GossipGraph::Nodes() const
{
    return m_nodes;
}

const std::vector<Edge>&
GossipGraph::Base() const
{
    return m_base;
}

const GossipGraph::Round&
GossipGraph::Get(uint64_t round)
{
    auto it = m_cache.find(round);
    if (it == m_cache.end())
    {
        // Clients run a round or so apart: keep the few most recent rounds.
        if (m_cache.size() == kCachedRounds)
        {
            m_cache.erase(m_cache.begin());
        }
        Round r;
        r.active = DrawActiveEdges(m_base, m_linkProb, m_seed, round);
        r.neighbours.resize(m_nodes);
        for (const Edge& e : r.active)
        {
            r.neighbours[e.u].push_back(e.v);
            r.neighbours[e.v].push_back(e.u);
        }
        for (auto& list : r.neighbours)
        {
            std::sort(list.begin(), list.end());
        }
        it = m_cache.emplace(round, std::move(r)).first;
    }
    return it->second;
}

const std::vector<Edge>&
GossipGraph::Active(uint64_t round)
{
    return Get(round).active;
}

const std::vector<uint32_t>&
GossipGraph::Neighbours(uint32_t client, uint64_t round)
{
    return Get(round).neighbours.at(client);
}

} // namespace tadlora
