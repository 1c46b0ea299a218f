// SPDX-License-Identifier: GPL-2.0-only
// SIGINT and SIGTERM while LibTorch computes: the run's handler must not touch the heap.

#include "tadlora-compute.h"
#include "tadlora-product.h"
#include "tadlora-stop-signals.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <random>
#include <thread>

#include <unistd.h>

namespace
{

// A signal arriving while oneDNN's sgemm kernels run with the stack pointer in the heap (Debian's
// oneDNN 2.6, for inner dimensions over 84 at AVX-512: see ConfigureCompute) is handled on the
// thread's alternate stack. Each trial sends one SIGTERM at a random moment of products of inner
// dimension 512 on every compute thread. Without the alternate stacks, six runs of this test
// all aborted in the first or second trial ("corrupted size vs. prev_size while consolidating",
// as a CI run of tadlora-sim once did); with them, 30 runs of 40 trials passed.
TEST(StopSignals, ASignalInTheMiddleOfOneDnnProductsLeavesTheHeapIntact)
{
    tadlora::ConfigureCompute(0);
    const auto x = torch::rand({384, 512});
    const auto w = torch::rand({256, 512});
    std::mt19937 random(7);
    std::uniform_int_distribution<int> delayMicroseconds(0, 3000);
    for (int trial = 0; trial < 40; ++trial)
    {
        const ns3::StopSignals signals;
        const auto delay = std::chrono::microseconds(delayMicroseconds(random));
        std::thread sender(
            [delay]
            {
                std::this_thread::sleep_for(delay);
                kill(getpid(), SIGTERM);
            });
        int products = 0;
        while (signals.Received() == 0 || products < 2)
        {
            auto y = torch::zeros({384, 256});
            tadlora::AddProduct(x, w, y);
            ++products;
        }
        sender.join();
        EXPECT_EQ(signals.Received(), SIGTERM);
    }
}

} // namespace
