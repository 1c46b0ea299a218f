// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_PRETRAIN_H
#define TADLORA_PRETRAIN_H

#include "tadlora-transformer.h"

#include <cstdint>
#include <functional>
#include <string>

/**
 * @file
 * Pretraining of the frozen base, once per model shape and task, cached on disk.
 */

namespace tadlora
{

struct Dataset;

/** @brief How the base is pretrained: masked token modelling, the analogue of RoBERTa's MLM. */
struct PretrainConfig
{
    int64_t steps = 600;     //!< AdamW steps
    int64_t batchSize = 128; //!< samples per step
    double lr = 2e-3;        //!< learning rate, cosine-decayed to 0
    double maskRatio = 0.3;  //!< share of tokens hidden and reconstructed
    uint64_t seed = 1;       //!< seed of the initialization, masks and batches

    /** @return a short text that changes whenever the pretraining recipe changes */
    std::string Key() const;
};

/**
 * @brief The default cache directory: $TADLORA_CACHE_DIR, else $XDG_CACHE_HOME/tadlora, else
 * $HOME/.cache/tadlora.
 * @return the directory (not created)
 */
std::string DefaultCacheDir();

/**
 * @param config the model's shape
 * @param unlabeled the inputs to pretrain on
 * @param taskName the task's name
 * @param recipe the pretraining recipe
 * @return the file name a pretrained base is cached under: it differs whenever one of them does
 */
std::string BaseCacheName(const ModelConfig& config, const Dataset& unlabeled,
                          const std::string& taskName, const PretrainConfig& recipe);

/**
 * @brief A pretrained base for a model shape and task: loaded from the cache, or pretrained
 * deterministically and then cached (written atomically).
 *
 * The encoder is trained to recover masked input tokens of the unlabeled training inputs (their
 * features, or their ids by cross-entropy over the vocabulary); the classification head keeps
 * its seeded random initialization and is never trained.
 *
 * @param config the model's shape
 * @param unlabeled the inputs to pretrain on; labels are not used
 * @param taskName part of the cache key
 * @param recipe the pretraining recipe
 * @param cacheDir where pretrained bases are kept
 * @param progress called with (step, steps, loss) now and then during pretraining
 * @return the model, with base and head frozen
 */
TransformerClassifier PretrainedModel(
    const ModelConfig& config, const Dataset& unlabeled, const std::string& taskName,
    const PretrainConfig& recipe, const std::string& cacheDir,
    const std::function<void(int64_t, int64_t, double)>& progress);

} // namespace tadlora

#endif // TADLORA_PRETRAIN_H
