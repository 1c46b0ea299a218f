// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_LEARNER_H
#define TADLORA_LEARNER_H

#include "tadlora-message.h"
#include "tadlora-method.h"

#include <cstdint>
#include <vector>

/**
 * @file
 * What the network side needs from the learning side: the narrow interface a client drives.
 * Federation implements it with real LoRA training; protocol tests implement it with a few
 * numbers per client, so they run without a model.
 */

namespace tadlora
{

/** @brief A neighbour's decoded factor and the weight it gets in a client's mix. */
struct WeightedFactor
{
    double weight;                //!< W_t[i, j]
    const FactorMessage* message; //!< a message that Learner::Decode accepted
};

/** @brief The learning operations a client sequences, for all clients of a run. */
class Learner
{
public:
    virtual ~Learner() = default;

    /** @return K, the local steps of a round (they set its simulated compute time) */
    virtual uint32_t LocalSteps() const = 0;
    /** @return the FLOPs of one client's local step; a device profile turns them into time */
    virtual double FlopsPerStep() const = 0;

    /**
     * @param round a round
     * @return the factors exchanged and mixed in it
     */
    virtual std::vector<Factor> MixedFactors(uint64_t round) const = 0;

    /**
     * @brief Run a client's local steps of a round.
     * @param client the client
     * @param round the round
     * @return the mean training loss over the steps
     */
    virtual double Train(uint32_t client, uint64_t round) = 0;

    /**
     * @brief A client's factor as a message.
     * @param client the sender
     * @param factor the factor
     * @param round the round, stamped in the header
     * @return the encoded message
     */
    virtual std::vector<uint8_t> Serialize(uint32_t client, Factor factor, uint64_t round) = 0;

    /**
     * @brief Check and decode a received message, once, where it enters the client.
     * @param bytes a whole message
     * @return the message
     * @throws MessageError saying why (Rejection) if it is malformed, corrupted, of another
     *         version, or its shapes do not match the model's
     */
    virtual FactorMessage Decode(const std::vector<uint8_t>& bytes) = 0;

    /**
     * @brief x_i <- selfWeight x_i + sum_j W_ij x_j for one factor of one client.
     * @param client the client i
     * @param factor the factor mixed
     * @param selfWeight W_ii
     * @param neighbours decoded messages of this factor and their weights
     */
    virtual void Mix(uint32_t client, Factor factor, double selfWeight,
                     const std::vector<WeightedFactor>& neighbours) = 0;

    /**
     * @brief A client has finished a round (trained and mixed).
     * @param client the client
     * @param round the round it finished
     */
    virtual void EndRound(uint32_t client, uint64_t round) = 0;
};

} // namespace tadlora

#endif // TADLORA_LEARNER_H
