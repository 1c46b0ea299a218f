// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_METRICS_H
#define TADLORA_METRICS_H

/**
 * @file
 * What a federation reports about its clients: their disagreement and their accuracy.
 */

namespace tadlora
{

/** @brief Disagreement between clients (DESIGN.md section 1), summed over adapted layers. */
struct Disagreement
{
    double consensusA; //!< (1/m) sum_i ||A_i - Abar||_F^2
    double consensusB; //!< (1/m) sum_i ||B_i - Bbar||_F^2
    double crossTerm;  //!< ||(1/m) sum_i (B_i - Bbar)(A_i - Abar)||_F
};

/** @brief Accuracy on the held-out set. */
struct Accuracy
{
    double mean;          //!< mean over clients of each client's own model
    double std;           //!< population standard deviation over clients
    double averagedModel; //!< the model with the clients' average A and average B
};

} // namespace tadlora

#endif // TADLORA_METRICS_H
