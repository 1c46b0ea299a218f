// SPDX-License-Identifier: GPL-2.0-only
/*
 * How well a random gossip graph mixes: rho of DESIGN.md section 1, and the switching interval
 * it suggests.
 */
#ifndef TADLORA_CONNECTIVITY_H
#define TADLORA_CONNECTIVITY_H

#include "tadlora-topology.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tadlora
{

/**
 * @brief rho = the second-largest eigenvalue of E[W_t^T W_t] over the link randomness, for
 * Metropolis-Hastings weights on edges drawn independently with probability p.
 *
 * 1 - rho is the expected contraction of the clients' disagreement per round; rho = 1 when the
 * graph does not connect the clients.
 */
struct Connectivity
{
    double rho = 1;           //!< the eigenvalue
    double standardError = 0; //!< of a Monte Carlo estimate (0 when exact)
    bool exact = false;       //!< true: the expectation was summed over every active edge set
    uint64_t samples = 0;     //!< the edge sets drawn (2^|E| summed when exact)

    /** @return "exact" or "monte-carlo" */
    std::string Method() const;
};

/** Base graphs with at most this many edges get the exact expectation. */
inline constexpr size_t kExactRhoMaxEdges = 16;

/**
 * @brief Compute rho: exactly (every subset of the base edges, weighted by its probability) when
 * the base graph has at most `exactMaxEdges` edges or p is 0 or 1, else by Monte Carlo: a
 * first set of draws (as many as `samples` while their cost, about m (1 + p d)^2 each for mean
 * degree d, stays near a second of work; at least 32) estimates the eigenvector, and `samples`
 * further draws the Rayleigh quotient E ||W_t v||^2 along it, with its standard error. The
 * quotient is at most rho, and equals it when the direction is exact (any direction orthogonal
 * to the all-ones vector, on the complete graph). Each draw costs O(m + p |E|).
 * @param base the base graph's edges
 * @param nodes the number of clients m
 * @param linkProb p
 * @param samples Monte Carlo draws of the quotient, and at most as many of the direction
 * @param seed seed of the Monte Carlo draws
 * @param exactMaxEdges the largest base graph summed exactly (2^|E| edge sets)
 * @return rho and how it was computed
 * @throws std::invalid_argument if p is outside [0, 1] or samples is 0
 */
Connectivity MixingConnectivity(const std::vector<Edge>& base, uint32_t nodes, double linkProb,
                                uint64_t samples = 4000, uint64_t seed = 1,
                                size_t exactMaxEdges = kExactRhoMaxEdges);

/**
 * The constant c of T* = c / sqrt(1 - rho), the paper's Theta(1 / sqrt(1 - rho)) trade-off.
 * Calibrated on this project's switching-interval sweeps over whole A + B cycles (150 rounds
 * x 20 steps, 5 seeds, scenarios/paper-phase.toml and paper-ring-phase.toml): the best T was
 * 10 on the complete graph at p = 0.1 and 0.02 (rho 0.640, 0.911) and on a ring at p = 0.5
 * (rho 0.895); best T * sqrt(1 - rho) 6.00, 2.98 and 3.24, median 3.24. Calibrated on the
 * complete graph alone (c = 4.49) it predicted T = 14 for the ring. README, "Reproducing the
 * paper", shows the sweeps and how to recalibrate.
 */
inline constexpr double kAutoSwitchConstant = 3.24;

/**
 * @param rho the graph's rho
 * @return the switching interval T = round(kAutoSwitchConstant / sqrt(1 - rho)), at least 1,
 *         capped at 1000 (rho = 1: the clients never agree, so switching as rarely as allowed)
 */
uint32_t AutoSwitchInterval(double rho);

} // namespace tadlora

#endif // TADLORA_CONNECTIVITY_H
