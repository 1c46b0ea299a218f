// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-partition.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>

/**
 * @file
 * The iid, Dirichlet and label-skew partitions; see Partition() for their definitions.
 */

namespace tadlora
{

namespace
{

using Indices = std::vector<uint32_t>;
using Mix = std::vector<double>; //!< class proportions of one client

/** @return the sample indices of every class, each list shuffled */
std::vector<Indices>
ShuffledClassPools(const std::vector<int64_t>& labels, uint32_t numClasses, std::mt19937_64& rng)
{
    std::vector<Indices> pools(numClasses);
    for (uint32_t i = 0; i < labels.size(); ++i)
    {
        pools[labels[i]].push_back(i);
    }
    for (auto& pool : pools)
    {
        std::shuffle(pool.begin(), pool.end(), rng);
    }
    return pools;
}

std::vector<Indices>
SplitIid(size_t numSamples, uint32_t clients, std::mt19937_64& rng)
{
    Indices all(numSamples);
    std::iota(all.begin(), all.end(), 0U);
    std::shuffle(all.begin(), all.end(), rng);
    const size_t n = numSamples / clients;
    std::vector<Indices> parts(clients);
    for (uint32_t i = 0; i < clients; ++i)
    {
        parts[i].assign(all.begin() + i * n, all.begin() + (i + 1) * n);
    }
    return parts;
}

std::vector<Indices>
SplitDirichlet(const std::vector<int64_t>& labels, uint32_t numClasses, uint32_t clients,
               double alpha, std::mt19937_64& rng)
{
    const std::vector<Indices> pools = ShuffledClassPools(labels, numClasses, rng);
    std::gamma_distribution<double> gamma(alpha, 1.0);
    std::vector<Indices> parts(clients);
    std::vector<double> shares(clients);
    for (const Indices& pool : pools)
    {
        double total = 0;
        for (double& share : shares)
        {
            share = gamma(rng);
            total += share;
        }
        if (total == 0)
        {
            // Every draw underflowed (ALPHA far below 1): take the Dir(ALPHA -> 0) limit, which
            // gives the whole class to one client.
            shares[std::uniform_int_distribution<uint32_t>(0, clients - 1)(rng)] = total = 1;
        }
        double cumulative = 0;
        size_t begin = 0;
        for (uint32_t i = 0; i < clients; ++i)
        {
            cumulative += shares[i];
            const size_t end =
                i + 1 == clients
                    ? pool.size()
                    : std::min(pool.size(), size_t(std::llround(cumulative / total * pool.size())));
            parts[i].insert(parts[i].end(), pool.begin() + begin, pool.begin() + end);
            begin = end;
        }
    }
    return parts;
}

/** @return the class mix of every client under the label-skew recipe (see Partition()) */
std::vector<Mix>
LabelSkewMixes(uint32_t numClasses, uint32_t clients)
{
    std::vector<Mix> mixes(clients, Mix(numClasses, 1.0 / numClasses));
    if (numClasses == 2)
    {
        const uint32_t lean = (3 * clients + 5) / 10; // round(0.3 m)
        for (uint32_t i = 0; i < 2 * lean; ++i)
        {
            mixes[i] = i < lean ? Mix{0.9, 0.1} : Mix{0.1, 0.9};
        }
    }
    else if (numClasses > 2)
    {
        const uint32_t base = clients / numClasses;
        const uint32_t extra = clients % numClasses;
        uint32_t client = 0;
        for (uint32_t group = 0; group < numClasses; ++group)
        {
            for (uint32_t k = 0; k < base + (group < extra ? 1 : 0); ++k, ++client)
            {
                mixes[client].assign(numClasses, 0.1 / (numClasses - 1));
                mixes[client][group] = 0.9;
            }
        }
    }
    return mixes;
}

/** @return whole per-class counts summing to n, proportional to mix (largest remainder) */
std::vector<size_t>
WholeCounts(const Mix& mix, size_t n)
{
    std::vector<size_t> counts(mix.size());
    std::vector<std::pair<double, size_t>> remainders;
    size_t assigned = 0;
    for (size_t c = 0; c < mix.size(); ++c)
    {
        const double exact = mix[c] * n;
        counts[c] = size_t(std::floor(exact));
        assigned += counts[c];
        remainders.emplace_back(exact - counts[c], c);
    }
    std::stable_sort(remainders.begin(), remainders.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t k = 0; assigned < n; ++k, ++assigned)
    {
        ++counts[remainders[k].second];
    }
    return counts;
}

std::vector<Indices>
SplitLabelSkew(const std::vector<int64_t>& labels, uint32_t numClasses, uint32_t clients,
               std::mt19937_64& rng)
{
    std::vector<Indices> pools = ShuffledClassPools(labels, numClasses, rng);
    const std::vector<Mix> mixes = LabelSkewMixes(numClasses, clients);

    // Start from the largest n the class sizes allow in exact arithmetic, then step down past
    // the few samples that rounding each client's share can add.
    size_t n = labels.size() / clients;
    for (uint32_t c = 0; c < numClasses; ++c)
    {
        double demand = 0; // in units of n
        for (const Mix& mix : mixes)
        {
            demand += mix[c];
        }
        n = std::min(n, size_t(pools[c].size() / demand));
    }
    std::vector<std::vector<size_t>> counts;
    auto fits = [&]()
    {
        counts.clear();
        std::vector<size_t> taken(numClasses, 0);
        for (const Mix& mix : mixes)
        {
            counts.push_back(WholeCounts(mix, n));
            for (uint32_t c = 0; c < numClasses; ++c)
            {
                taken[c] += counts.back()[c];
            }
        }
        for (uint32_t c = 0; c < numClasses; ++c)
        {
            if (taken[c] > pools[c].size())
            {
                return false;
            }
        }
        return true;
    };
    while (n > 0 && !fits())
    {
        --n;
    }

    std::vector<Indices> parts(clients);
    std::vector<size_t> next(numClasses, 0);
    for (uint32_t i = 0; i < clients && n > 0; ++i)
    {
        for (uint32_t c = 0; c < numClasses; ++c)
        {
            auto from = pools[c].begin() + next[c];
            parts[i].insert(parts[i].end(), from, from + counts[i][c]);
            next[c] += counts[i][c];
        }
    }
    return parts;
}

/** @return ALPHA of a `dirichlet:ALPHA` spec, or a negative value if it is not a valid one */
double
ParseDirichletAlpha(const std::string& spec)
{
    const std::string prefix = "dirichlet:";
    if (spec.compare(0, prefix.size(), prefix) != 0)
    {
        return -1;
    }
    const std::string text = spec.substr(prefix.size());
    try
    {
        size_t used = 0;
        const double alpha = std::stod(text, &used);
        return used == text.size() && std::isfinite(alpha) && alpha > 0 ? alpha : 0;
    }
    catch (const std::logic_error&)
    {
        return 0;
    }
}

} // namespace

std::vector<std::vector<uint32_t>>
Partition(const std::vector<int64_t>& labels, uint32_t numClasses, uint32_t clients,
          const std::string& spec, uint64_t seed)
{
    if (clients == 0)
    {
        throw std::invalid_argument("a partition needs at least one client");
    }
    for (size_t i = 0; i < labels.size(); ++i)
    {
        if (labels[i] < 0 || labels[i] >= int64_t(numClasses))
        {
            throw std::invalid_argument("partition: label " + std::to_string(labels[i]) +
                                        " of sample " + std::to_string(i) + " is outside [0, " +
                                        std::to_string(numClasses) + ")");
        }
    }

    std::mt19937_64 rng(seed);
    std::vector<Indices> parts;
    const double alpha = ParseDirichletAlpha(spec);
    if (spec == "iid")
    {
        parts = SplitIid(labels.size(), clients, rng);
    }
    else if (spec == "label-skew")
    {
        parts = SplitLabelSkew(labels, numClasses, clients, rng);
    }
    else if (alpha > 0)
    {
        parts = SplitDirichlet(labels, numClasses, clients, alpha, rng);
    }
    else if (alpha == 0)
    {
        throw std::invalid_argument("partition '" + spec +
                                    "' needs a number ALPHA > 0 (e.g. dirichlet:0.5)");
    }
    else
    {
        throw std::invalid_argument("unknown partition '" + spec +
                                    "' (allowed: iid, dirichlet:ALPHA, label-skew)");
    }

    for (uint32_t i = 0; i < clients; ++i)
    {
        if (parts[i].empty())
        {
            throw std::invalid_argument("partition '" + spec + "' leaves client " +
                                        std::to_string(i) + " of " + std::to_string(clients) +
                                        " without samples (" + std::to_string(labels.size()) +
                                        " samples in " + std::to_string(numClasses) + " classes)");
        }
        std::sort(parts[i].begin(), parts[i].end());
    }
    return parts;
}

std::vector<std::vector<uint32_t>>
PartitionRows(const std::vector<int64_t>& labels, const std::vector<uint32_t>& rows,
              uint32_t numClasses, uint32_t clients, const std::string& spec, uint64_t seed)
{
    std::vector<int64_t> held(rows.size());
    for (size_t i = 0; i < rows.size(); ++i)
    {
        held[i] = labels.at(rows[i]);
    }
    auto parts = Partition(held, numClasses, clients, spec, seed);
    for (auto& part : parts)
    {
        for (uint32_t& sample : part)
        {
            sample = rows[sample];
        }
    }
    return parts;
}

} // namespace tadlora
