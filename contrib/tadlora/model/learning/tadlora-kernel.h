// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_KERNEL_H
#define TADLORA_KERNEL_H

/**
 * @file
 * What the hand-written CPU kernels (attention, GELU, layer norm) share. Their innermost loops run
 * over one token's contiguous features; with the width known at compile time they become a few
 * vector instructions, and the reductions are OpenMP SIMD reductions (the compiler may reorder
 * their sums). On x86-64 the clones pick AVX2 with FMA or AVX-512 where the CPU has them.
 */

#if defined(__x86_64__) && defined(__GNUC__)
#define TADLORA_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TADLORA_KERNEL
#endif

#include <cstdint>

namespace tadlora
{

/** @return special, the kernel compiled for kWidth features, at that width, else generic */
template<int64_t kWidth, typename Kernel>
Kernel
ForWidth(int64_t width, Kernel special, Kernel generic)
{
    return width == kWidth ? special : generic;
}

} // namespace tadlora

#endif // TADLORA_KERNEL_H
