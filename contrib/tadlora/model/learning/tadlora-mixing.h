/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Per-round random link activation and Metropolis-Hastings mixing weights (DESIGN.md section
 * 1, paper mode). Pure C++17 (no ns-3, no LibTorch), so it is testable without a simulator.
 */

#ifndef TADLORA_MIXING_H
#define TADLORA_MIXING_H

#include "tadlora-topology.h"

#include <cstdint>
#include <vector>

namespace tadlora
{

/**
 * @brief Draw the edges active in one round: each base edge independently with probability
 * linkProb.
 *
 * The stream is a std::mt19937_64 seeded with a SplitMix64 mix of (seed, round), so a round's
 * edge set depends on nothing else: no state to carry across rounds or checkpoints, and the
 * order in which rounds are drawn does not matter. The coin uses the top 53 bits of each draw
 * (std::uniform_real_distribution is not portable across standard libraries).
 *
 * @param base the base graph's edges
 * @param linkProb activation probability p in [0, 1]; 1 keeps every edge, 0 none
 * @param seed the run's seed
 * @param round the round t
 * @return the active edges, a subsequence of base in base's order
 * @throws std::invalid_argument if linkProb is outside [0, 1]
 */
std::vector<Edge> DrawActiveEdges(const std::vector<Edge>& base, double linkProb, uint64_t seed,
                                  uint64_t round);

/**
 * @brief A dense m x m matrix of mixing weights, row-major: row i holds the weights client i
 * gives to every client's factor (x_i <- sum_j W(i, j) x_j).
 *
 * It need not be doubly stochastic: when messages are lost the realized matrix can be
 * asymmetric, and MaxColumnSumDeviation() measures how far it is.
 */
class MixingMatrix
{
public:
    /**
     * @brief Create a matrix of zeros.
     * @param size number of clients m
     */
    explicit MixingMatrix(uint32_t size);

    /**
     * @brief Number of clients.
     * @return m
     */
    uint32_t Size() const;

    /**
     * @brief Weight W(i, j), writable.
     * @param i row (receiving client)
     * @param j column (sending client)
     * @return reference to the weight
     */
    double& operator()(uint32_t i, uint32_t j);

    /**
     * @brief Weight W(i, j).
     * @param i row (receiving client)
     * @param j column (sending client)
     * @return the weight
     */
    double operator()(uint32_t i, uint32_t j) const;

    /**
     * @brief Sum of row i; 1 when client i's update is a weighted average.
     * @param i row
     * @return sum_j W(i, j)
     */
    double RowSum(uint32_t i) const;

    /**
     * @brief Sum of column j; all 1 when mixing preserves the clients' average.
     * @param j column
     * @return sum_i W(i, j)
     */
    double ColumnSum(uint32_t j) const;

    /**
     * @brief Distance from column stochasticity, as reported in the trace.
     * @return max_j |ColumnSum(j) - 1|
     */
    double MaxColumnSumDeviation() const;

    /**
     * @brief Whether W equals its transpose.
     * @param tolerance largest allowed |W(i, j) - W(j, i)|
     * @return true if every pair is within tolerance
     */
    bool IsSymmetric(double tolerance) const;

private:
    uint32_t m_size;               //!< number of clients m
    std::vector<double> m_weights; //!< m * m weights, row-major
};

/**
 * @brief Metropolis-Hastings weight of an active edge.
 * @param degreeI active degree of client i
 * @param degreeJ active degree of client j
 * @return 1 / (1 + max(degreeI, degreeJ))
 */
double MetropolisHastingsWeight(uint32_t degreeI, uint32_t degreeJ);

/**
 * @brief Metropolis-Hastings mixing matrix of an active edge set: W_ij = W_ji =
 * 1 / (1 + max(d_i, d_j)) on active edges, W_ii = 1 - sum_{j != i} W_ij, 0 elsewhere, with
 * d the degrees in the active set. The result is symmetric and doubly stochastic.
 * @param nodes number of clients m
 * @param activeEdges the round's active edges, without duplicates, each with u < v < m
 * @return W
 * @throws std::invalid_argument if an edge is not u < v < m
 */
MixingMatrix MetropolisHastings(uint32_t nodes, const std::vector<Edge>& activeEdges);

} // namespace tadlora

#endif // TADLORA_MIXING_H
