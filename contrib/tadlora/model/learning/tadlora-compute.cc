// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-compute.h"

#include "tadlora-parallel.h"
#include "tadlora-product.h"

#include <torch/torch.h>

#include <algorithm>
#include <csignal>
#include <thread>
#include <vector>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace tadlora
{

namespace
{

/** A thread's alternate signal stack, left when the thread ends. */
class SignalStack
{
public:
    /** Give the calling thread this stack, unless it has one already. */
    SignalStack()
    {
        stack_t current{};
        sigaltstack(nullptr, &current);
        if ((current.ss_flags & SS_DISABLE) == 0)
        {
            return;
        }
        // SIGSTKSZ is glibc's sysconf(_SC_SIGSTKSZ): enough for this CPU's register state.
        m_memory.resize(std::max<size_t>(SIGSTKSZ, 64 << 10));
        stack_t stack{};
        stack.ss_sp = m_memory.data();
        stack.ss_size = m_memory.size();
        sigaltstack(&stack, nullptr);
    }

    ~SignalStack()
    {
        if (!m_memory.empty())
        {
            stack_t off{};
            off.ss_flags = SS_DISABLE;
            sigaltstack(&off, nullptr);
        }
    }

    SignalStack(const SignalStack&) = delete;
    SignalStack& operator=(const SignalStack&) = delete;

private:
    std::vector<char> m_memory; //!< the stack; empty if the thread had one of its own
};

} // namespace

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
    const int64_t count = threads != 0 ? threads : Cores();
    torch::set_num_threads(static_cast<int>(count));
    // LibTorch sets each thread's count again at the thread's first parallel_for, and each
    // setting re-creates its pthreadpool (XNNPACK's; nothing here uses it), whose new worker
    // spins ~45 ms on a core: the first evaluation's worker did it in the middle of evaluating.
    // Every thread's first parallel_for now, so the pool is re-created here only; and each
    // thread's alternate signal stack (see the header).
    at::parallel_for(0, count, 1,
                     [](int64_t, int64_t)
                     {
                         thread_local const SignalStack stack;
                         at::parallel_for(0, 1, 1, [](int64_t, int64_t) {});
                     });
    // oneDNN's first product of some size generates its kernels (50-75 ms here; 1 x 1 or 8 x 8
    // products do not, 64 x 64 ones do): now, not inside whichever phase multiplies first.
    auto y = torch::zeros({64, 64});
    AddProduct(torch::zeros({64, 64}), torch::zeros({64, 64}), y);
}

} // namespace tadlora
