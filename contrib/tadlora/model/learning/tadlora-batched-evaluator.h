// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_BATCHED_EVALUATOR_H
#define TADLORA_BATCHED_EVALUATOR_H

#include "tadlora-transformer.h"

#include <memory>
#include <vector>

/**
 * @file
 * Held-out accuracy of many models over one frozen base, in one pass per batch of samples.
 */

namespace tadlora
{

struct TaskData;
class LoraFactors;

/**
 * @brief Evaluates G models (clients' own, the averaged one) on the held-out set together.
 *
 * Every batch of held-out samples goes through the model once for all G models: whatever the
 * frozen base computes before the first adapted projection (embedding, first norm, first key)
 * runs once per sample, the rest over all models at once. Each model's adapted weights are
 * formed once per evaluation, and the passes go to whichever thread is free. Runs without
 * autograd. The held-out samples are converted to the model's inputs once, when it is made.
 */
class BatchedEvaluator
{
public:
    /**
     * @param model the frozen model (base and head)
     * @param data the task, whose held-out set is evaluated on
     */
    BatchedEvaluator(TransformerClassifier model, std::shared_ptr<const TaskData> data);

    /**
     * @param models the factors of G models
     * @return each model's share of the held-out set it classifies correctly
     */
    std::vector<double> Accuracies(const LoraFactors& models);

private:
    TransformerClassifier m_model;          //!< frozen base and head
    std::shared_ptr<const TaskData> m_data; //!< the task
    torch::Tensor m_inputs;                 //!< the held-out set as the model takes it
    torch::Tensor m_labels;                 //!< its labels, contiguous
};

} // namespace tadlora

#endif // TADLORA_BATCHED_EVALUATOR_H
