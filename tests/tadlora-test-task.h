// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_TEST_TASK_H
#define TADLORA_TEST_TASK_H

// The small task and pretrained base the learning and simulation tests share.

#include "tadlora-dataset.h"
#include "tadlora-mixing.h"
#include "tadlora-options.h"
#include "tadlora-transformer.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tadlora::test
{

/** @return where the tests' pretrained bases are cached, shared by all test processes */
const std::string& CacheDir();
/** @return a temporary directory of this test process, removed when it ends */
const std::string& TempDir();
/** @return the synthetic task, generated once per process */
std::shared_ptr<const TaskData> SyntheticTask();
/** @return a fresh copy of a base pretrained (briefly) on the synthetic task */
TransformerClassifier PretrainedSyntheticModel();

/** @param path a file @return its whole content, or "" if it cannot be read */
std::string Slurp(const std::string& path);

/**
 * @brief Run a configuration twice and once with another seed: the first two must write the
 * same traces byte for byte, the third different ones.
 * @param config the run; its out directory is used, and two beside it
 */
void ExpectSameSeedSameTraces(const ns3::TadLoraConfig& config);

/** @param path a CSV file with a header line @return its rows as column -> text maps */
std::vector<std::map<std::string, std::string>> ReadCsv(const std::filesystem::path& path);

/**
 * @param dir a run's output directory
 * @param clients m
 * @return the realized W_t from its mixing.csv, by (round, factor)
 */
std::map<std::pair<uint64_t, std::string>, MixingMatrix> RealizedMixing(
    const std::filesystem::path& dir, uint32_t clients);

/** Pretraining steps of the tests' base: enough to pass through the cache code. */
constexpr int64_t kPretrainSteps = 100;

} // namespace tadlora::test

#endif // TADLORA_TEST_TASK_H
