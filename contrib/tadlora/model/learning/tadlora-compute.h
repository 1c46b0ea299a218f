// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_COMPUTE_H
#define TADLORA_COMPUTE_H

#include <cstdint>

/**
 * @file
 * How the process computes: LibTorch's threads and the memory its tensors come from.
 */

namespace tadlora
{

/** @return the machine's cores: the default thread count */
uint32_t Cores();

/**
 * @brief Set LibTorch's intra-op threads (on every thread: each thread's first parallel_for
 * would set them again, re-creating LibTorch's pthreadpool, whose new worker spins ~45 ms), give
 * each of them an alternate signal stack, keep freed tensor memory in the process, and start
 * oneDNN (its first product generates its kernels).
 *
 * LibTorch's CPU tensors come straight from malloc, and glibc by default returns every freed
 * block over 128 KiB to the kernel, so each training step page-faulted its activations anew
 * (measured with build/bench/tadlora-bench: 1.4 times slower at one thread). Blocks up to
 * 32 MiB now stay in the heap, and up to 256 MiB of free heap is kept.
 *
 * Signal handlers must run on the alternate stack (SA_ONSTACK): Debian's oneDNN (2.6; fixed
 * upstream in March 2026, commit d090db10) runs its sgemm kernels with the stack pointer in a
 * heap buffer when the inner dimension exceeds what their stack buffer holds (84 floats at
 * AVX-512's 48-row blocks), so a handler run on the thread's own stack writes its frame over the
 * heap, and glibc aborts at a later free ("corrupted size vs. prev_size"). A thread that has an
 * alternate stack keeps it.
 *
 * @param threads LibTorch's threads; 0: Cores()
 */
void ConfigureCompute(uint32_t threads);

} // namespace tadlora

#endif // TADLORA_COMPUTE_H
