// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_DATASET_H
#define TADLORA_DATASET_H

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

/**
 * @file
 * The classification tasks clients fine-tune on, as token sequences: Fashion-MNIST and a fast
 * synthetic stand-in (feature tokens), and the SpamAssassin corpus (token ids, see
 * tadlora-spam-assassin.h).
 */

namespace tadlora
{

/** Where Debian's dataset-fashion-mnist package installs the four gzip IDX files. */
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

/** Side of the image patches Fashion-MNIST is cut into, unless asked otherwise. */
inline constexpr int64_t kDefaultPatchSide = 7;

/** Token id of padding, in tasks whose inputs are token ids. */
inline constexpr int64_t kPaddingToken = 0;
/** Token id that hides a token from the encoder during pretraining. */
inline constexpr int64_t kMaskToken = 1;

/** @brief Labelled samples, each a sequence of tokens. */
struct Dataset
{
    /**
     * [N, tokens, tokenDim] features, float32 or uint8 (pixels, 4 times smaller: ModelInputs
     * scales them), or [N, tokens] int64 ids if the task has a vocab
     */
    torch::Tensor inputs;
    torch::Tensor labels;    //!< [N], int64, each in [0, numClasses)
    uint32_t numClasses = 0; //!< number of classes
    double offset = 0;       //!< uint8 inputs become (x - offset) / scale
    double scale = 1;        //!< see offset

    /**
     * @param stored some of inputs' samples (a selection or a slice)
     * @return them as a model reads them: float32 features (uint8 ones scaled) or int64 ids
     */
    torch::Tensor ModelInputs(const torch::Tensor& stored) const;
};

/** @brief A task: its train and test sets and the input shape a model needs. */
struct TaskData
{
    Dataset train;        //!< what clients partition and train on
    Dataset test;         //!< the held-out set every client is evaluated on
    std::string name;     //!< task name, as given to --task
    int64_t tokens = 0;   //!< tokens per sample
    int64_t tokenDim = 0; //!< features per token (0 when tokens are ids)
    int64_t vocab = 0;    //!< token ids are in [0, vocab) (0 when tokens are features)
};

/**
 * @brief Loads Fashion-MNIST as sequences of image patches.
 *
 * Pixels are kept as bytes and scaled by Dataset::ModelInputs to [0, 1] and normalized with
 * the training set's mean 0.2860 and std 0.3530; each 28 x 28 image is cut into non-overlapping P x
 * P patches in row-major order, each patch flattened row-major: inputs are [N, (28 / P)^2, P^2],
 * [N, 16, 49] for P = 7.
 *
 * @param dir directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
 * @param trainLimit keep the first trainLimit training samples (0 = all 60000)
 * @param testLimit keep the first testLimit test samples (0 = all 10000)
 * @param patch the patches' side P; must divide 28
 * @param cacheDir where the decoded splits are cached ("" = decode them every time); a split
 *        found there for the same files and P is mapped read-only instead of decoded, so the
 *        inputs must not be written
 * @param notice told why a cached split could not be used (it is then decoded and cached anew),
 *        or could not be cached (the run goes on with the decoded split)
 * @return the task "fashion-mnist", 10 classes
 * @throws std::runtime_error naming the file and the problem on one line when a file is
 *         missing, unreadable, truncated or not the expected IDX file
 * @throws std::invalid_argument on a negative limit, or a patch side P that does not divide 28
 */
TaskData LoadFashionMnist(const std::string& dir, int64_t trainLimit, int64_t testLimit,
                          int64_t patch = kDefaultPatchSide, const std::string& cacheDir = "",
                          const std::function<void(const std::string&)>& notice = {});

/**
 * @brief Generates a fast, learnable but not trivial task of shape [N, 8, 16].
 *
 * Each class has a fixed random prototype sequence with N(0, 1) entries; a sample is its
 * class's prototype times a scale drawn from U[0.5, 1.5) plus N(0, 2^2) noise on every
 * entry. Classes are balanced (they differ by at most one sample) and shuffled. A
 * nearest-class-mean classifier scores about 0.98 with 10 classes.
 *
 * @param seed the same seed gives the same task, prototypes and samples alike
 * @param trainSize training samples (at least 1)
 * @param testSize test samples (at least 1)
 * @param numClasses classes (at least 2)
 * @return the task "synthetic"
 * @throws std::invalid_argument on a size below its minimum
 */
TaskData MakeSynthetic(uint64_t seed, int64_t trainSize, int64_t testSize, uint32_t numClasses);

/**
 * @param data a data set
 * @return its labels, in sample order (the input of Partition())
 */
std::vector<int64_t> LabelsOf(const Dataset& data);

} // namespace tadlora

#endif // TADLORA_DATASET_H
