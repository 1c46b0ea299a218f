// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_SEED_H
#define TADLORA_SEED_H

#include <cstdint>

namespace tadlora
{

/**
 * @brief Seeds for independent streams derived from the run's seed (SplitMix64).
 * @param seed the run's seed
 * @param stream the stream's index
 * @return the stream's seed
 */
constexpr uint64_t
DeriveSeed(uint64_t seed, uint64_t stream)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

} // namespace tadlora

#endif // TADLORA_SEED_H
