// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-connectivity.h"

#include "tadlora-mixing.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace tadlora
{
namespace
{

/**
 * @brief expected += probability * W^T W for the Metropolis-Hastings W of one active edge set.
 * W is symmetric with m + 2|E_t| non-zeros, so W^T W = W W is summed row by row over them.
 */
void
AccumulateGram(const std::vector<Edge>& active, uint32_t nodes, double probability,
               std::vector<double>& expected)
{
    const std::vector<uint32_t> degree = Degrees(active, nodes);
    std::vector<std::vector<std::pair<uint32_t, double>>> rows(nodes);
    std::vector<double> self(nodes, 1.0);
    for (const Edge& e : active)
    {
        const double w = MetropolisHastingsWeight(degree[e.u], degree[e.v]);
        rows[e.u].emplace_back(e.v, w);
        rows[e.v].emplace_back(e.u, w);
        self[e.u] -= w;
        self[e.v] -= w;
    }
    for (uint32_t i = 0; i < nodes; ++i)
    {
        rows[i].emplace_back(i, self[i]);
        for (const auto& [j, wij] : rows[i])
        {
            for (const auto& [k, wik] : rows[i])
            {
                expected[static_cast<size_t>(j) * nodes + k] += probability * wij * wik;
            }
        }
    }
}

} // namespace

std::string
Connectivity::Method() const
{
    return exact ? "exact" : "monte-carlo";
}

Connectivity
MixingConnectivity(const std::vector<Edge>& base, uint32_t nodes, double linkProb, uint64_t samples,
                   uint64_t seed, size_t exactMaxEdges)
{
    if (!(linkProb >= 0.0 && linkProb <= 1.0))
    {
        throw std::invalid_argument("link probability must be in [0, 1] (got " +
                                    std::to_string(linkProb) + ")");
    }
    if (samples == 0)
    {
        throw std::invalid_argument("rho: at least one Monte Carlo sample is needed");
    }
    Connectivity result;
    std::vector<double> expected(static_cast<size_t>(nodes) * nodes, 0.0);
    if (linkProb == 0.0 || linkProb == 1.0)
    {
        result.exact = true;
        result.samples = 1;
        AccumulateGram(linkProb == 1.0 ? base : std::vector<Edge>{}, nodes, 1.0, expected);
    }
    else if (base.size() <= exactMaxEdges)
    {
        result.exact = true;
        result.samples = uint64_t{1} << base.size();
        for (uint64_t subset = 0; subset < result.samples; ++subset)
        {
            std::vector<Edge> active;
            double probability = 1.0;
            for (size_t e = 0; e < base.size(); ++e)
            {
                const bool on = (subset >> e) & 1;
                probability *= on ? linkProb : 1.0 - linkProb;
                if (on)
                {
                    active.push_back(base[e]);
                }
            }
            AccumulateGram(active, nodes, probability, expected);
        }
    }
    else
    {
        result.samples = samples;
        for (uint64_t s = 0; s < samples; ++s)
        {
            AccumulateGram(DrawActiveEdges(base, linkProb, seed, s), nodes,
                           1.0 / static_cast<double>(samples), expected);
        }
    }
    // E[W^T W] is symmetric with the top eigenvalue 1 (eigenvector: all ones); ascending order.
    const torch::Tensor eigenvalues = torch::linalg::eigvalsh(
        torch::from_blob(expected.data(), {nodes, nodes}, torch::kFloat64), "L");
    result.rho = nodes < 2 ? 0.0 : std::min(1.0, eigenvalues[nodes - 2].item<double>());
    return result;
}

uint32_t
AutoSwitchInterval(double rho)
{
    const double gap = std::max(0.0, 1.0 - rho);
    const double t = gap == 0.0 ? 1000.0 : kAutoSwitchConstant / std::sqrt(gap);
    return static_cast<uint32_t>(std::clamp(std::round(t), 1.0, 1000.0));
}

} // namespace tadlora
