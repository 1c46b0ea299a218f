// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-connectivity.h"

#include "tadlora-mixing.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>

namespace tadlora
{
namespace
{

/**
 * @brief The active edges of one draw: each base edge independently with probability p, found
 * by geometric jumps between them, so a draw costs O(p |E|), not O(|E|).
 */
std::vector<Edge>
SampleActiveEdges(const std::vector<Edge>& base, double linkProb, std::mt19937_64& gen)
{
    std::vector<Edge> active;
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const double logMiss = std::log1p(-linkProb);
    for (double next = 0;; ++next)
    {
        // edges skipped before the next active one: Geometric(p), by inversion
        next += std::floor(std::log1p(-uniform(gen)) / logMiss);
        if (next >= static_cast<double>(base.size()))
        {
            return active;
        }
        active.push_back(base[static_cast<size_t>(next)]);
    }
}

/** @brief One Metropolis-Hastings W_t, sparse: the self weights and each edge's weight. */
struct SparseMixing
{
    std::vector<double> self;   //!< W_ii
    std::vector<double> weight; //!< W_uv of each active edge, in the edges' order

    SparseMixing(const std::vector<Edge>& active, uint32_t nodes)
        : self(nodes, 1.0)
    {
        const std::vector<uint32_t> degree = Degrees(active, nodes);
        weight.reserve(active.size());
        for (const Edge& e : active)
        {
            weight.push_back(MetropolisHastingsWeight(degree[e.u], degree[e.v]));
            self[e.u] -= weight.back();
            self[e.v] -= weight.back();
        }
    }
};

/**
 * @brief expected += probability * W^T W for the Metropolis-Hastings W of one active edge set.
 * W is symmetric with m + 2|E_t| non-zeros, so W^T W = W W is summed row by row over them.
 */
void
AccumulateGram(const std::vector<Edge>& active, uint32_t nodes, double probability,
               std::vector<double>& expected)
{
    const SparseMixing w(active, nodes);
    std::vector<std::vector<std::pair<uint32_t, double>>> rows(nodes);
    for (size_t k = 0; k < active.size(); ++k)
    {
        rows[active[k].u].emplace_back(active[k].v, w.weight[k]);
        rows[active[k].v].emplace_back(active[k].u, w.weight[k]);
    }
    for (uint32_t i = 0; i < nodes; ++i)
    {
        rows[i].emplace_back(i, w.self[i]);
        for (const auto& [j, wij] : rows[i])
        {
            for (const auto& [k, wik] : rows[i])
            {
                expected[static_cast<size_t>(j) * nodes + k] += probability * wij * wik;
            }
        }
    }
}

/** @return ||W v||^2 for the Metropolis-Hastings W of one active edge set */
double
SquaredNormOfMixed(const std::vector<Edge>& active, const std::vector<double>& v)
{
    const SparseMixing w(active, static_cast<uint32_t>(v.size()));
    std::vector<double> mixed(v.size());
    for (size_t i = 0; i < v.size(); ++i)
    {
        mixed[i] = w.self[i] * v[i];
    }
    for (size_t k = 0; k < active.size(); ++k)
    {
        mixed[active[k].u] += w.weight[k] * v[active[k].v];
        mixed[active[k].v] += w.weight[k] * v[active[k].u];
    }
    double sum = 0;
    for (double x : mixed)
    {
        sum += x * x;
    }
    return sum;
}

/** @return the eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix */
std::tuple<torch::Tensor, torch::Tensor>
SymmetricEigen(std::vector<double>& matrix, uint32_t nodes)
{
    return torch::linalg::eigh(torch::from_blob(matrix.data(), {nodes, nodes}, torch::kFloat64),
                               "L");
}

/**
 * Work of the direction's draws (multiply-adds of AccumulateGram) allowed: about a second on
 * this project's machine. The complete graph of 500 clients at p = 0.02 gets all its draws.
 */
constexpr double kDirectionWork = 3e8;

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
    if (nodes < 2)
    {
        result.rho = 0;
        result.exact = true;
        result.samples = 1;
        return result;
    }
    std::vector<double> expected(static_cast<size_t>(nodes) * nodes, 0.0);
    if (linkProb == 0.0 || linkProb == 1.0 || base.size() <= exactMaxEdges)
    {
        result.exact = true;
        const bool certain = linkProb == 0.0 || linkProb == 1.0;
        result.samples = certain ? 1 : uint64_t{1} << base.size();
        for (uint64_t subset = 0; subset < result.samples; ++subset)
        {
            std::vector<Edge> active;
            double probability = 1.0;
            for (size_t e = 0; e < base.size(); ++e)
            {
                const bool on = certain ? linkProb == 1.0 : (subset >> e) & 1;
                probability *= certain ? 1.0 : (on ? linkProb : 1.0 - linkProb);
                if (on)
                {
                    active.push_back(base[e]);
                }
            }
            AccumulateGram(active, nodes, probability, expected);
        }
        // E[W^T W] is symmetric with the top eigenvalue 1 (eigenvector: all ones); ascending.
        const auto [values, vectors] = SymmetricEigen(expected, nodes);
        result.rho = std::min(1.0, values[nodes - 2].item<double>());
        return result;
    }

    // Monte Carlo. The second eigenvalue of a sampled mean of W^T W is biased upward: it
    // picks the direction where the sampling noise adds most (at 500 clients, 4000 draws
    // overstate the complete graph's rho by a third). So the draws are split: the first
    // estimate the eigenvector v (orthogonal to the all-ones vector), the rest the Rayleigh
    // quotient v^T E[W^T W] v = E ||W v||^2, a mean of independent draws with a standard
    // error. It is below rho by how far v is from the eigenvector: not at all when every
    // direction orthogonal to the all-ones one is an eigenvector (the complete graph).
    std::mt19937_64 directionDraws(seed);
    std::mt19937_64 estimateDraws(seed ^ 0x9e3779b97f4a7c15ULL);
    double work = 0;
    for (uint32_t d : Degrees(base, nodes))
    {
        work += (1 + linkProb * d) * (1 + linkProb * d);
    }
    const uint64_t directionSamples =
        std::clamp<uint64_t>(static_cast<uint64_t>(kDirectionWork / work), 32, samples);
    for (uint64_t s = 0; s < directionSamples; ++s)
    {
        AccumulateGram(SampleActiveEdges(base, linkProb, directionDraws), nodes,
                       1.0 / static_cast<double>(directionSamples), expected);
    }
    const auto [values, vectors] = SymmetricEigen(expected, nodes);
    std::vector<double> v(nodes);
    double mean = 0;
    for (uint32_t i = 0; i < nodes; ++i)
    {
        v[i] = vectors[i][nodes - 2].item<double>();
        mean += v[i] / nodes;
    }
    double norm = 0;
    for (double& x : v)
    {
        x -= mean;
        norm += x * x;
    }
    for (double& x : v)
    {
        x /= std::sqrt(norm);
    }
    double sum = 0;
    double sumOfSquares = 0;
    for (uint64_t s = 0; s < samples; ++s)
    {
        const double q = SquaredNormOfMixed(SampleActiveEdges(base, linkProb, estimateDraws), v);
        sum += q;
        sumOfSquares += q * q;
    }
    const double n = static_cast<double>(samples);
    result.rho = std::min(1.0, sum / n);
    result.standardError =
        samples < 2 ? 0.0
                    : std::sqrt(std::max(0.0, sumOfSquares / n - (sum / n) * (sum / n)) / (n - 1));
    result.samples = directionSamples + samples;
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
