/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Per-round random link activation and Metropolis-Hastings mixing weights.
 */

#include "tadlora-mixing.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace tadlora
{
namespace
{

/// SplitMix64 finalizer: spreads nearby inputs (seed, seed + 1, round 0, 1, ...) apart.
uint64_t
SplitMix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

} // namespace

std::vector<Edge>
DrawActiveEdges(const std::vector<Edge>& base, double linkProb, uint64_t seed, uint64_t round)
{
    if (!(linkProb >= 0.0 && linkProb <= 1.0))
    {
        throw std::invalid_argument("link probability must be in [0, 1] (got " +
                                    std::to_string(linkProb) + ")");
    }
    std::mt19937_64 gen(SplitMix64(SplitMix64(seed) ^ round));
    std::vector<Edge> active;
    for (const Edge& e : base)
    {
        // A uniform double in [0, 1) from 53 bits: below 1, so linkProb == 1 keeps every edge.
        if (static_cast<double>(gen() >> 11) * 0x1.0p-53 < linkProb)
        {
            active.push_back(e);
        }
    }
    return active;
}

MixingMatrix::MixingMatrix(uint32_t size)
    : m_size(size)
    , m_weights(static_cast<std::size_t>(size) * size, 0.0)
{
}

uint32_t
MixingMatrix::Size() const
{
    return m_size;
}

double&
MixingMatrix::operator()(uint32_t i, uint32_t j)
{
    return m_weights[static_cast<std::size_t>(i) * m_size + j];
}

double
MixingMatrix::operator()(uint32_t i, uint32_t j) const
{
    return m_weights[static_cast<std::size_t>(i) * m_size + j];
}

double
MixingMatrix::RowSum(uint32_t i) const
{
    double sum = 0.0;
    for (uint32_t j = 0; j < m_size; ++j)
    {
        sum += (*this)(i, j);
    }
    return sum;
}

double
MixingMatrix::ColumnSum(uint32_t j) const
{
    double sum = 0.0;
    for (uint32_t i = 0; i < m_size; ++i)
    {
        sum += (*this)(i, j);
    }
    return sum;
}

double
MixingMatrix::MaxColumnSumDeviation() const
{
    double deviation = 0.0;
    for (uint32_t j = 0; j < m_size; ++j)
    {
        deviation = std::max(deviation, std::abs(ColumnSum(j) - 1.0));
    }
    return deviation;
}

bool
MixingMatrix::IsSymmetric(double tolerance) const
{
    for (uint32_t i = 0; i < m_size; ++i)
    {
        for (uint32_t j = i + 1; j < m_size; ++j)
        {
            if (std::abs((*this)(i, j) - (*this)(j, i)) > tolerance)
            {
                return false;
            }
        }
    }
    return true;
}

double
MetropolisHastingsWeight(uint32_t degreeI, uint32_t degreeJ)
{
    return 1.0 / (1.0 + std::max(degreeI, degreeJ));
}

MixingMatrix
MetropolisHastings(uint32_t nodes, const std::vector<Edge>& activeEdges)
{
    for (const Edge& e : activeEdges)
    {
        if (!(e.u < e.v && e.v < nodes))
        {
            throw std::invalid_argument("active edge " + std::to_string(e.u) + " -- " +
                                        std::to_string(e.v) + " is not u < v < " +
                                        std::to_string(nodes));
        }
    }
    const std::vector<uint32_t> degrees = Degrees(activeEdges, nodes);
    MixingMatrix w(nodes);
    for (const Edge& e : activeEdges)
    {
        const double weight = MetropolisHastingsWeight(degrees[e.u], degrees[e.v]);
        w(e.u, e.v) = weight;
        w(e.v, e.u) = weight;
    }
    for (uint32_t i = 0; i < nodes; ++i)
    {
        double offDiagonal = 0.0;
        for (uint32_t j = 0; j < nodes; ++j)
        {
            offDiagonal += j == i ? 0.0 : w(i, j);
        }
        w(i, i) = 1.0 - offDiagonal;
    }
    return w;
}

} // namespace tadlora
