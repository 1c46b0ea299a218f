// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_BATCHED_TRAINER_H
#define TADLORA_BATCHED_TRAINER_H

#include "tadlora-federation.h"
#include "tadlora-method.h"
#include "tadlora-transformer.h"

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

/**
 * @file
 * Local training of many clients in one pass over the frozen base.
 */

namespace torch::serialize
{
class InputArchive;
class OutputArchive;
} // namespace torch::serialize

namespace tadlora
{

struct TaskData;
class LoraFactors;

/**
 * @brief K local AdamW steps for any set of clients, all in one pass per step.
 *
 * Each step draws every client's batch from that client's own generator, runs the frozen base
 * once over all of the batches (adapted weights W + s B A by batched matmul), and
 * back-propagates the sum of the clients' own mean losses: since no two clients share a
 * trainable value, each client's gradient is exactly that of its own loss. AdamW then updates
 * each client's trainable factors with that client's own moments and step count (torch's AdamW:
 * decoupled weight decay, betas 0.9 and 0.999, eps 1e-8). A client that does not train a
 * factor in a round leaves it, and its moments, untouched, so clients that train different
 * factors (asynchronous switching) share a pass. The clients split into groups, one per thread
 * and more if a group would hold more than a few clients (its activations would leave the
 * caches); each group trains on one thread.
 */
class BatchedTrainer
{
public:
    /**
     * @param config how clients train (its local steps, batch size, AdamW and seed)
     * @param model the frozen model (base and head)
     * @param data the task
     * @param shards each client's training sample indices
     */
    BatchedTrainer(const FederationConfig& config, TransformerClassifier model,
                   std::shared_ptr<const TaskData> data,
                   const std::vector<std::vector<uint32_t>>& shards);

    /**
     * @brief Run one round's K local steps for several clients.
     * @param clients the clients, distinct
     * @param plans what each of them trains this round
     * @param factors the clients' factors, one model each in the clients' order; trained in place
     * @return each client's mean training loss over the K steps
     */
    std::vector<double> Train(const std::vector<uint32_t>& clients,
                              const std::vector<RoundPlan>& plans, LoraFactors& factors);

    /**
     * @return each group's compute time in the last Train call, in seconds, in the clients'
     * order: at more than one thread the groups run side by side, and the slowest sets the
     * call's wall time
     */
    const std::vector<double>& GroupSeconds() const;

    /** @param archive where the state that changes with training goes: each client's batch
     * generator, and its AdamW moments and step counts */
    void Save(torch::serialize::OutputArchive& archive) const;
    /** @param archive state written by Save, for the same clients and model */
    void Load(torch::serialize::InputArchive& archive);

private:
    /**
     * @brief Train's work for one group of clients, on the calling thread's share of the
     * machine: one pass per step over all of the group's clients.
     * @copydetails Train
     */
    std::vector<double> TrainGroup(const std::vector<uint32_t>& clients,
                                   const std::vector<RoundPlan>& plans, LoraFactors& factors);

    /** @brief AdamW's state of one factor, for every client. */
    struct Moments
    {
        std::vector<at::Tensor> first;  //!< per layer: [m, ...] running mean of the gradient
        std::vector<at::Tensor> second; //!< per layer: [m, ...] running mean of its square
        std::vector<int64_t> steps;     //!< per client: steps taken
    };

    FederationConfig m_config;               //!< how clients train
    TransformerClassifier m_model;           //!< frozen base and head
    std::shared_ptr<const TaskData> m_data;  //!< the task
    std::vector<at::Tensor> m_shards;        //!< per client: [n_i] training sample indices
    std::vector<at::Generator> m_generators; //!< per client: batch sampling
    std::vector<Moments> m_moments;          //!< A's, then B's; kept across rounds if asked
    std::vector<double> m_groupSeconds;      //!< GroupSeconds()
};

} // namespace tadlora

#endif // TADLORA_BATCHED_TRAINER_H
