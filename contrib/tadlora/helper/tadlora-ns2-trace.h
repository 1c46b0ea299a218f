// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_NS2_TRACE_H
#define TADLORA_NS2_TRACE_H

#include <cstdint>
#include <string>

namespace ns3
{

/** @brief What an ns-2 movement trace holds, once checked. */
struct TadLoraNs2Trace
{
    uint32_t nodes = 0;  //!< nodes it names: $node_(0) .. $node_(nodes - 1)
    double lastMove = 0; //!< time of its last scheduled movement, seconds
};

/**
 * @brief Read and check an ns-2 movement trace, the format of ns-2's setdest and of SUMO's
 * `traceExporter.py --ns2mobility-output`, as ns3::Ns2MobilityHelper takes it. Every line is
 * blank, a comment (#), an initial position (`$node_(I) set X_ V`), a scheduled one
 * (`$ns_ at T "$node_(I) set X_ V"`) or a movement (`$ns_ at T "$node_(I) setdest X Y SPEED"`),
 * with finite numbers, T and SPEED not negative. Ns2MobilityHelper skips a line it cannot read
 * and aborts on a file it cannot open; a run refuses both first.
 * @param path the file
 * @param clients nodes $node_(0) .. $node_(clients - 1) must each have an initial X_ and Y_;
 *        nodes beyond them are left out of the run
 * @return what the trace holds
 * @throws std::invalid_argument naming the file, the line and what is wrong
 */
TadLoraNs2Trace TadLoraReadNs2Trace(const std::string& path, uint32_t clients);

} // namespace ns3

#endif // TADLORA_NS2_TRACE_H
