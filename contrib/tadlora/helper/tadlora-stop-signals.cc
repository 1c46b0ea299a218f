// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-stop-signals.h"

namespace ns3
{

namespace
{

/** The first SIGINT or SIGTERM received; 0 if none. */
volatile std::sig_atomic_t g_stopSignal = 0;

extern "C" void
OnStopSignal(int signal)
{
    if (g_stopSignal != 0)
    {
        std::signal(signal, SIG_DFL); // a second one stops the process at once
        std::raise(signal);
        return;
    }
    g_stopSignal = signal;
}

/** @return the signal's handling before; an ignored signal stays ignored */
struct sigaction
Install(int signal)
{
    struct sigaction before
    {
    };
    sigaction(signal, nullptr, &before);
    if (before.sa_handler != SIG_IGN)
    {
        struct sigaction handler
        {
        };
        handler.sa_handler = OnStopSignal;
        sigemptyset(&handler.sa_mask);
        handler.sa_flags = SA_RESTART | SA_ONSTACK;
        sigaction(signal, &handler, nullptr);
    }
    return before;
}

} // namespace

StopSignals::StopSignals()
{
    g_stopSignal = 0;
    m_int = Install(SIGINT);
    m_term = Install(SIGTERM);
}

StopSignals::~StopSignals()
{
    sigaction(SIGINT, &m_int, nullptr);
    sigaction(SIGTERM, &m_term, nullptr);
}

int
StopSignals::Received() const
{
    return g_stopSignal;
}

} // namespace ns3
