// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_PARTITION_H
#define TADLORA_PARTITION_H

#include <cstdint>
#include <string>
#include <vector>

/**
 * @file
 * Splitting a labelled data set across federated clients (the `--partition` option).
 */

namespace tadlora
{

/**
 * @brief Splits a labelled data set across clients as a partition spec says.
 *
 * With N samples, m clients and C classes, the specs are:
 * - `iid`: shuffle, then n = floor(N / m) samples per client; the N mod m left over are unused.
 * - `dirichlet:ALPHA`: for each class, client shares ~ Dir(ALPHA, ..., ALPHA) (from Gamma
 *   draws) cut the class's shuffled samples; every sample is used and client sizes vary.
 * - `label-skew`: the paper's recipe. For C = 2: the first round(0.3 m) clients draw
 *   [0.9, 0.1], the next round(0.3 m) [0.1, 0.9], the rest [0.5, 0.5] (m = 10: 3 / 3 / 4).
 *   For C >= 3: clients form C consecutive groups as even as possible, the first groups taking
 *   the extra clients (m = 10, C = 3: 4 / 3 / 3); group g draws 0.9 of class g and
 *   0.1 / (C - 1) of every other class. When C > m, client i leads class i and classes
 *   m..C-1 lead no client. For C = 1 every client is simply a share of the data.
 *   Every client gets the same n samples, drawn without replacement, with its class mix exact
 *   up to rounding: n = floor(N / m), lowered where a class cannot cover every client's share
 *   of it (the paper's three-class mixes ask 3.9 n of class 0, more than N / 3 at n = N / 10).
 *
 * Deterministic for a seed on a given standard library (draws use std::mt19937_64).
 *
 * @param labels class of every sample, each in [0, numClasses)
 * @param numClasses number of classes C
 * @param clients number of clients m
 * @param spec the partition spec, as given to `--partition`
 * @param seed seed of every shuffle and draw
 * @return every client's sample indices, sorted; disjoint across clients
 * @throws std::invalid_argument on a bad spec, on labels outside [0, numClasses), or when a
 *         client would get no sample (one line, naming the partition)
 */
std::vector<std::vector<uint32_t>> Partition(const std::vector<int64_t>& labels,
                                             uint32_t numClasses, uint32_t clients,
                                             const std::string& spec, uint64_t seed);

/**
 * @brief Partition() of some of a data set's samples (those the clients hold, beside a
 * pretraining split: SplitForPretraining).
 *
 * @param labels class of every sample of the data set
 * @param rows the samples to partition: indices into labels, ascending
 * @param numClasses number of classes C
 * @param clients number of clients m
 * @param spec the partition spec, as given to `--partition`
 * @param seed seed of every shuffle and draw
 * @return what Partition() of the rows' labels returns, each index the row it stands for
 */
std::vector<std::vector<uint32_t>> PartitionRows(const std::vector<int64_t>& labels,
                                                 const std::vector<uint32_t>& rows,
                                                 uint32_t numClasses, uint32_t clients,
                                                 const std::string& spec, uint64_t seed);

} // namespace tadlora

#endif // TADLORA_PARTITION_H
