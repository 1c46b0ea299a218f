// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_STOP_SIGNALS_H
#define TADLORA_STOP_SIGNALS_H

#include <csignal>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief For its lifetime, SIGINT and SIGTERM ask a run to stop at the end of the current round
 * (the event loop is not interrupted in the middle of a handler); a second signal kills. An
 * ignored signal stays ignored (`cmd &`, nohup). One at a time per process.
 *
 * The handler runs on the thread's alternate signal stack where it has one, and every compute
 * thread must have one (tadlora::ConfigureCompute gives them theirs): Debian's oneDNN points a
 * thread's stack pointer into the heap while its sgemm kernels run, and a handler on that stack
 * would write its frame over the heap.
 */
class StopSignals
{
public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    /** @return the first signal received (SIGINT or SIGTERM), or 0 */
    int Received() const;

private:
    struct sigaction m_int;  //!< SIGINT's handling before
    struct sigaction m_term; //!< SIGTERM's handling before
};

} // namespace ns3

#endif // TADLORA_STOP_SIGNALS_H
