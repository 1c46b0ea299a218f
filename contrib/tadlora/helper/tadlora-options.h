// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_OPTIONS_H
#define TADLORA_OPTIONS_H

#include "tadlora-federation.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI
{
class App;
} // namespace CLI

/**
 * @file
 * Every knob of a simulation run, and the one place that names them for the command line and
 * the scenario files (TOML, read by CLI11's --config).
 */

namespace ns3
{

/** TadLoraLearningOptions::switchInterval of `--switch-interval auto`, until a run resolves it. */
inline constexpr uint32_t kAutoSwitchInterval = 0;

/** @brief The run: its size, seed, evaluation and outputs. */
struct TadLoraRunOptions
{
    uint32_t clients = 10;               //!< --clients
    uint32_t rounds = 30;                //!< --rounds
    uint64_t seed = 1;                   //!< --seed
    uint32_t evalEvery = 5;              //!< --eval-every
    uint32_t threads = 0;                //!< --threads (0: one per core)
    std::string out = "results/default"; //!< --out
    bool pcap = false;                   //!< --pcap
    bool flowMonitor = false;            //!< --flow-monitor
    bool netanim = false;                //!< --netanim
    bool quiet = false;                  //!< --quiet
    bool printRho = false;               //!< --print-rho
};

/** @brief Learning: the method, the optimizer, the data and the model (tadlora::Federation). */
struct TadLoraLearningOptions
{
    std::string method = "tad-lora";      //!< --method
    uint32_t localSteps = 20;             //!< --local-steps
    uint32_t batchSize = 32;              //!< --batch-size
    double lr = 1e-3;                     //!< --lr
    double weightDecay = 0.01;            //!< --weight-decay
    bool keepOptimizerState = false;      //!< --keep-optimizer-state
    uint32_t rank = 8;                    //!< --rank
    double alpha = 16;                    //!< --alpha
    uint32_t switchInterval = 5;          //!< --switch-interval (kAutoSwitchInterval: auto)
    uint32_t phaseJitter = 0;             //!< --phase-jitter
    std::string task = "fashion-mnist";   //!< --task
    std::string partition = "label-skew"; //!< --partition
    std::string dataDir;                  //!< --data-dir (default: per task, see setup.sh)
    uint32_t testSamples = 1000;          //!< --test-samples
    uint32_t modelWidth = 64;             //!< --model-width
    uint32_t modelLayers = 2;             //!< --model-layers
    uint32_t modelHeads = 4;              //!< --model-heads
    uint32_t patchSize = 7;               //!< --patch-size (image tasks)
    std::string loraTargets = "q,v";      //!< --lora-targets
    std::string pretrain = "supervised";  //!< --pretrain
    uint32_t pretrainSamples = 0;         //!< --pretrain-samples (0: DefaultPretrainSamples())
    uint32_t pretrainSteps = 600;         //!< --pretrain-steps
    std::string cacheDir;                 //!< --cache-dir (default: tadlora::DefaultCacheDir())
};

/** @brief The exchange: who gossips when, over which network, and how messages travel. */
struct TadLoraExchangeOptions
{
    double linkProb = 0.1;             //!< --link-prob
    std::string topology = "complete"; //!< --topology
    std::string network = "p2p";       //!< --network
    std::string transport = "udp";     //!< --transport
    double stepTimeS = 0.05;           //!< --step-time-s
    double roundDeadlineS = 1;         //!< --round-deadline-s
    double confirmTimeoutS = 0.2;      //!< --confirm-timeout-s
    double exchangeJitterS = 0.01;     //!< --exchange-jitter-s
    uint32_t fragmentSize = 1400;      //!< --fragment-size
    uint32_t virtualPayloadBytes = 0;  //!< --virtual-payload-bytes
    std::string sendRate = "0bps";     //!< --send-rate (UDP pacing; 0: unpaced)
    uint32_t hopLimit = 0;             //!< --hop-limit (0: the IP default)
};

/** @brief Paper mode's point-to-point links (TadLoraP2pNetworkHelper). */
struct TadLoraP2pOptions
{
    std::string dataRate = "100Mbps"; //!< --data-rate
    double linkDelayMs = 2;           //!< --link-delay-ms
    double linkLoss = 0;              //!< --link-loss (packet error rate)
};

/** @brief The Wi-Fi ad hoc network (TadLoraWifiNetworkHelper) and its warm-up and beacons. */
struct TadLoraWifiOptions
{
    std::string wifiStandard = "80211a";      //!< --wifi-standard
    std::string rateControl = "constant";     //!< --rate-control
    std::string wifiMode;                     //!< --wifi-mode (default: the standard's lowest)
    bool rtsCts = false;                      //!< --rts-cts
    double txPowerDbm = 16;                   //!< --tx-power-dbm
    std::string propagation = "log-distance"; //!< --propagation
    double pathLossExponent = 3;              //!< --path-loss-exponent
    std::string fading = "none";              //!< --fading
    double nakagamiM = 1.5;                   //!< --nakagami-m
    double areaM = 100;                       //!< --area-m
    std::string placement = "random-rect";    //!< --placement
    std::string mobility = "static";          //!< --mobility
    double speedMps = 2;                      //!< --speed-mps
    double pauseS = 2;                        //!< --pause-s
    std::string routing = "none";             //!< --routing
    double warmupS = 10;                      //!< --warmup-s
    double beaconIntervalS = 1;               //!< --beacon-interval-s
};

/**
 * @brief The whole configuration of one run, in one group per part that owns it; option names
 * are given beside each field.
 */
struct TadLoraConfig
{
    TadLoraRunOptions run;           //!< size, seed, evaluation, outputs
    TadLoraLearningOptions learning; //!< method, optimizer, data, model
    TadLoraExchangeOptions exchange; //!< graph, network choice, protocol
    TadLoraP2pOptions p2p;           //!< point-to-point links
    TadLoraWifiOptions wifi;         //!< Wi-Fi ad hoc
};

/**
 * @brief Declare every option of TadLoraConfig on a CLI11 app, with its checks, and
 * `--config FILE` for scenario files.
 * @param app the app
 * @param config where parsed values land; its current values are the defaults
 */
void AddTadLoraOptions(CLI::App& app, TadLoraConfig& config);

/** @brief One option's effective value, typed as a scenario file writes it. */
struct TadLoraSetting
{
    std::string name;  //!< option name without dashes, as in scenario files
    std::string value; //!< the value as text
    enum class Kind
    {
        Text,
        Number,
        Flag,
    } kind; //!< how to write it
};

/**
 * @param config a configuration
 * @return every option's value, in declaration order
 */
std::vector<TadLoraSetting> TadLoraSettings(const TadLoraConfig& config);

/**
 * @param config a configuration
 * @return the configuration as a scenario file that --config loads again
 */
std::string TadLoraConfigToToml(const TadLoraConfig& config);

/**
 * @param config a configuration
 * @return its learning knobs, for tadlora::Federation
 */
tadlora::FederationConfig TadLoraFederationConfig(const TadLoraConfig& config);

/**
 * @brief Where a learning-side error meets the command line: the learning layer says what is
 * wrong in its own terms, and this puts the option in front of it
 * ("--partition: unknown partition 'zipf' (allowed: ...)").
 *
 * @param option the option whose value f takes
 * @param f the learning-side call
 * @return f()
 * @throws std::invalid_argument f's, naming the option
 */
template<typename F>
auto
ForOption(const std::string& option, F&& f) -> decltype(f())
{
    try
    {
        return f();
    }
    catch (const std::invalid_argument& e)
    {
        throw std::invalid_argument(option + ": " + e.what());
    }
}

} // namespace ns3

#endif // TADLORA_OPTIONS_H
