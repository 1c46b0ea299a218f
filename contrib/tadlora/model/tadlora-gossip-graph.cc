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
    , m_cachedRound(0)
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

const std::vector<Edge>&
GossipGraph::Active(uint64_t round)
{
    if (!m_cached || m_cachedRound != round)
    {
        m_active = DrawActiveEdges(m_base, m_linkProb, m_seed, round);
        m_cachedRound = round;
        m_cached = true;
    }
    return m_active;
}

std::vector<uint32_t>
GossipGraph::Neighbours(uint32_t client, uint64_t round)
{
    std::vector<uint32_t> neighbours;
    for (const Edge& e : Active(round))
    {
        if (e.u == client)
        {
            neighbours.push_back(e.v);
        }
        else if (e.v == client)
        {
            neighbours.push_back(e.u);
        }
    }
    std::sort(neighbours.begin(), neighbours.end());
    return neighbours;
}

} // namespace tadlora
