// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-compute.h"

#include <torch/torch.h>

#include <algorithm>
#include <thread>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace tadlora
{

uint32_t
Cores()
{
    return std::max(1u, std::thread::hardware_concurrency());
}

void
ConfigureCompute(uint32_t threads)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
    torch::set_num_threads(static_cast<int>(threads != 0 ? threads : Cores()));
}

} // namespace tadlora
