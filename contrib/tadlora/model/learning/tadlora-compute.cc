// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-compute.h"

#include "tadlora-product.h"

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
    // oneDNN's first product of some size generates its kernels (50-75 ms here; 1 x 1 or 8 x 8
    // products do not, 64 x 64 ones do): now, not inside whichever phase multiplies first.
    auto y = torch::zeros({64, 64});
    AddProduct(torch::zeros({64, 64}), torch::zeros({64, 64}), y);
}

} // namespace tadlora
