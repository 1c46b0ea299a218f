// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_EXPERIMENT_H
#define TADLORA_EXPERIMENT_H

#include "tadlora-network-helper.h"
#include "tadlora-options.h"

#include <functional>
#include <memory>
#include <string>

namespace ns3
{

class TadLoraScenario;

/**
 * @ingroup tadlora
 * @brief One run end to end: data, pretrained base, federation, ns-3 network and clients,
 * simulation, and the output files of DESIGN.md section 4.
 *
 * Outputs are written to a staging directory beside `--out` and moved into place only when
 * the run succeeds, so a failed run leaves nothing half-written.
 */
/**
 * @param config a run's configuration
 * @return one line: rho of the configuration's base graph and p (tadlora::MixingConnectivity),
 *         how it was computed, and the switching interval `--switch-interval auto` picks
 * @throws std::invalid_argument if the topology is not valid
 */
std::string TadLoraDescribeConnectivity(const TadLoraConfig& config);

/**
 * @brief Check a configuration whole, before anything runs or is written: every combination
 * of options, the model's shape, the output and cache directories (created if missing).
 * @param config a run's configuration, each option already in its own range
 * @throws std::invalid_argument one line naming the option and what is allowed
 */
void TadLoraCheckConfig(const TadLoraConfig& config);

class TadLoraExperiment
{
public:
    /** @param config the run's configuration */
    explicit TadLoraExperiment(const TadLoraConfig& config);

    /**
     * @brief Run the simulation and write the outputs.
     * @throws std::invalid_argument for bad input, with one line naming the option
     * @throws std::runtime_error for anything else that stops the run
     */
    void Run();

    /**
     * @return the signal (SIGINT or SIGTERM) that stopped the last Run early, or 0. A signal
     * ends the run with the round in progress: its outputs are written, and summary.json says
     * "complete": false. One that comes before the first round leaves nothing.
     */
    int StoppedBy() const;

    /**
     * @brief Run over this network instead of the one the options choose: a topology of one's
     * own (see examples/tadlora-custom-network.cc).
     * @param network the network's helper
     */
    void SetNetwork(std::unique_ptr<TadLoraNetworkHelper> network);

    /**
     * @brief Call back once the network and the clients are built, before they start: to
     * connect trace sinks (through Config paths or the scenario's applications), or to add
     * anything else to the simulation.
     * @param ready takes the scenario
     */
    void SetReadyCallback(std::function<void(TadLoraScenario&)> ready);

private:
    TadLoraConfig m_config;                          //!< the run's configuration
    std::unique_ptr<TadLoraNetworkHelper> m_network; //!< the network, if not the options'
    std::function<void(TadLoraScenario&)> m_ready;   //!< called before the clients start
    int m_stoppedBy = 0;                             //!< see StoppedBy
};

} // namespace ns3

#endif // TADLORA_EXPERIMENT_H
