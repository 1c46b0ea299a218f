// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_LORA_FACTORS_H
#define TADLORA_LORA_FACTORS_H

#include "tadlora-method.h"
#include "tadlora-metrics.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

/**
 * @file
 * The LoRA factors of many models over one frozen base, stacked along a leading model axis.
 */

namespace tadlora
{

/**
 * @brief The LoRA factors of G models (clients, or clients and their average): for every
 * adapted layer, in the model's order, A [G, r, d_in] and B [G, d_out, r].
 *
 * Stacked so that one pass of the model runs every model (TransformerClassifierImpl), and the
 * diagnostics over clients are single tensor operations.
 */
class LoraFactors
{
public:
    LoraFactors() = default;

    /**
     * @brief G models that all start from one A and B = 0.
     * @param a per adapted layer, the shared A [r, d_in]
     * @param outputs per adapted layer, d_out
     * @param models G
     */
    LoraFactors(const std::vector<at::Tensor>& a, const std::vector<int64_t>& outputs,
                int64_t models);

    /** @return G */
    int64_t Models() const;
    /** @return the number of adapted layers */
    size_t Layers() const;
    /** @param factor A or B @return per layer, that factor stacked over the models */
    std::vector<at::Tensor>& Of(Factor factor);
    /** @param factor A or B @return per layer, that factor stacked over the models */
    const std::vector<at::Tensor>& Of(Factor factor) const;

    /** @param models indices into the models @return a copy of those models' factors */
    LoraFactors Select(const at::Tensor& models) const;
    /**
     * @brief Overwrite some models' factors.
     * @param models indices into the models
     * @param values their new factors, one model each, in that order
     */
    void Assign(const at::Tensor& models, const LoraFactors& values);
    /** @return a copy that owns its values */
    LoraFactors Clone() const;
    /** @return one model: the mean of every factor over the models */
    LoraFactors Mean() const;
    /** @param more factors of the same layers' shapes @return these models, then those */
    LoraFactors Append(const LoraFactors& more) const;

    /** @return the models' disagreement (DESIGN.md section 1) */
    Disagreement Diagnose() const;

    /**
     * @param model a model
     * @param factor the factor
     * @return a copy of the model's factor, layer after layer, each row-major
     */
    std::vector<float> Values(int64_t model, Factor factor) const;
    /**
     * @param factor the factor
     * @return per layer, the rows and columns of one model's factor
     */
    std::vector<std::pair<uint32_t, uint32_t>> Shapes(Factor factor) const;

    std::vector<at::Tensor> a; //!< per adapted layer: [G, r, d_in]
    std::vector<at::Tensor> b; //!< per adapted layer: [G, d_out, r]
};

} // namespace tadlora

#endif // TADLORA_LORA_FACTORS_H
