// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_PRETRAIN_H
#define TADLORA_PRETRAIN_H

#include "tadlora-transformer.h"

#include "tadlora-dataset.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

/**
 * @file
 * Pretraining of the frozen base, once per model shape and task, cached on disk.
 */

namespace tadlora
{

/**
 * @brief How the base is pretrained.
 *
 * - `masked`: masked token modelling on every training input, labels unused (the analogue of
 *   RoBERTa's MLM); the classification head keeps its seeded random initialization.
 * - `supervised`: the encoder and the classification head trained together by cross-entropy
 *   on `samples` labelled training samples that no client holds (SplitForPretraining).
 */
struct PretrainConfig
{
    std::string objective = "masked"; //!< masked or supervised
    int64_t samples = 5000;           //!< supervised: training samples held out for the base
    int64_t steps = 600;              //!< AdamW steps
    int64_t batchSize = 128;          //!< samples per step
    double lr = 2e-3;                 //!< learning rate, cosine-decayed to 0
    double maskRatio = 0.3;           //!< masked: share of tokens hidden and reconstructed
    uint64_t seed = 1;                //!< seed of the initialization, split, masks and batches

    /** @return the objectives, as --pretrain takes them */
    static std::vector<std::string> Objectives();

    /** @return a short text that changes whenever the pretraining recipe changes */
    std::string Key() const;
};

/**
 * @param trainSize the task's training samples
 * @return the supervised split's default size: a twelfth of the training set (5000 of
 *         Fashion-MNIST's 60000, as the paper's reproduction in PyTorch held out), at least 1
 */
int64_t DefaultPretrainSamples(int64_t trainSize);

/** @brief The data the base pretrains on, and the training samples the clients keep. */
struct PretrainingSplit
{
    Dataset data;                     //!< what the base pretrains on
    std::vector<uint32_t> clientRows; //!< the training set's rows the clients hold, ascending
};

/**
 * @brief Sets the base's pretraining data aside.
 *
 * Masked: every training input (the labels are not used), and the clients keep every row.
 * Supervised: recipe.samples training samples, drawn by recipe.seed (so every run's seed
 * shares the base), which no client row includes.
 *
 * The training set itself is not changed (it may be a read-only mapping of the data cache):
 * the clients' rows index it.
 *
 * @param train the training set
 * @param recipe the pretraining recipe
 * @return the pretraining data and the clients' rows
 * @throws std::invalid_argument when the split would leave
 *         fewer training samples than it takes
 */
PretrainingSplit SplitForPretraining(const Dataset& train, const PretrainConfig& recipe);

/**
 * @brief The default cache directory: $TADLORA_CACHE_DIR, else $XDG_CACHE_HOME/tadlora, else
 * $HOME/.cache/tadlora.
 * @return the directory (not created)
 */
std::string DefaultCacheDir();

/**
 * @param config the model's shape
 * @param data the data to pretrain on (its size and a checksum of its contents are in the name)
 * @param taskName the task's name
 * @param recipe the pretraining recipe
 * @return the file name a pretrained base is cached under: it differs whenever one of them does,
 * and with LibTorch's thread count (pretraining's sums split over the threads, so a base
 * pretrained at one count differs from one pretrained at another in its last bits, and a run's
 * traces must not depend on which count filled the cache first)
 */
std::string BaseCacheName(const ModelConfig& config, const Dataset& data,
                          const std::string& taskName, const PretrainConfig& recipe);

/** First line of a cached base file; the version changes with the layout. */
inline constexpr const char* kBaseFileMagic = "tadlora-base 2";

/**
 * @brief Cache a pretrained base, atomically: a header (kBaseFileMagic, the key that names the
 * configuration which made it, the archive's size and CRC-32), then LibTorch's archive.
 * @param model the model
 * @param path the file
 * @param key the configuration's key (BaseCacheName)
 */
void WriteCachedBase(TransformerClassifier& model, const std::string& path, const std::string& key);

/**
 * @brief Load a cached base, checked: its header, key, size, CRC-32, archive, and finite
 * weights.
 * @param model the model to load into (of the configuration's shape)
 * @param path the file
 * @param key the configuration's key (BaseCacheName)
 * @return empty if the model was loaded; otherwise why the file cannot be used, as the end of
 *         a sentence about it ("is truncated ...")
 */
std::string ReadCachedBase(TransformerClassifier& model, const std::string& path,
                           const std::string& key);

/**
 * @brief A pretrained base for a model shape and task: loaded from the cache, or pretrained
 * deterministically and then cached (written atomically). A cached file that fails any check
 * of ReadCachedBase is never used: it is named in one notice, then rebuilt and replaced.
 *
 * Masked: the encoder is trained to recover masked input tokens (their features, or their
 * ids by cross-entropy over the vocabulary); the classification head keeps its seeded random
 * initialization. Supervised: encoder and head are trained by cross-entropy on the labels.
 *
 * @param config the model's shape
 * @param data the data to pretrain on (SplitForPretraining); masked uses its inputs only
 * @param taskName part of the cache key
 * @param recipe the pretraining recipe
 * @param cacheDir where pretrained bases are kept
 * @param progress called with (step, steps, loss) now and then during pretraining
 * @param notice called with one line when a cached file is refused (and rebuilt)
 * @return the model, with base and head frozen
 */
TransformerClassifier PretrainedModel(const ModelConfig& config, const Dataset& data,
                                      const std::string& taskName, const PretrainConfig& recipe,
                                      const std::string& cacheDir,
                                      const std::function<void(int64_t, int64_t, double)>& progress,
                                      const std::function<void(const std::string&)>& notice = {});

} // namespace tadlora

#endif // TADLORA_PRETRAIN_H
