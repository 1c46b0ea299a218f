// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_PARALLEL_H
#define TADLORA_PARALLEL_H

/**
 * @file
 * at::parallel_for, only where it runs in parallel. LibTorch's OpenMP backend defines it inline
 * in ATen's headers: a file compiled without OpenMP gets a parallel_for that runs the whole
 * range on the calling thread, silently (the batched trainer's groups of clients once ran one
 * after the other so, at 0.8 times the speed of two threads: doc/performance-history.md). Include
 * this header instead of ATen/Parallel.h; CMakeLists.txt gives such files OpenMP's flags.
 */

#include <ATen/Parallel.h>

#ifndef _OPENMP
#error "at::parallel_for is serial without OpenMP: compile this file with OpenMP's flags"
#endif

#endif // TADLORA_PARALLEL_H
