// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_OPTIONS_H
#define TADLORA_OPTIONS_H

#include "tadlora-federation.h"

#include <cstdint>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
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

/** @brief --task: what the clients learn */
enum class TadLoraTask
{
    FashionMnist, //!< fashion-mnist: images
    Synthetic,    //!< synthetic: a fixed synthetic classification set
    SpamAssassin, //!< spam-assassin: text
};

/** @brief --network: paper mode's point-to-point links, or a Wi-Fi ad hoc network. */
enum class TadLoraNetwork
{
    P2p,       //!< p2p
    WifiAdhoc, //!< wifi-adhoc
};

/** @brief --p2p-layout: how paper mode's links carry the base graph's edges. */
enum class TadLoraP2pLayout
{
    Auto,  //!< auto: core when the base graph is dense (TadLoraP2pNetworkHelper::Resolve)
    Edges, //!< edges: one point-to-point link per base edge
    Core,  //!< core: one access link per client into a shared core switch
};

/** @brief --trace-level: how much of the network each run writes. */
enum class TadLoraTraceLevel
{
    Auto,    //!< auto: full up to kFullTraceMaxClients clients, links above
    Summary, //!< summary: rounds.csv, network.csv, summary.json, config.toml
    Links,   //!< links: and links.csv, one row per link used
    Full,    //!< full: and messages.csv and mixing.csv, a row per message and per weight
};

/** --trace-level auto writes full traces up to this many clients (they grow with m^2). */
inline constexpr uint32_t kFullTraceMaxClients = 100;

/** @brief --transport: how factor messages travel. */
enum class TadLoraTransportKind
{
    Udp,       //!< udp: unicast datagrams
    Broadcast, //!< broadcast: one-hop datagrams
    Tcp,       //!< tcp: a stream per neighbour
};

/** @brief --wifi-standard */
enum class TadLoraWifiStandard
{
    A, //!< 80211a
    G, //!< 80211g
    N, //!< 80211n
};

/** @brief --rate-control */
enum class TadLoraRateControl
{
    Constant, //!< constant
    Minstrel, //!< minstrel
    Ideal,    //!< ideal
};

/** @brief --propagation: the path loss model */
enum class TadLoraPropagation
{
    LogDistance, //!< log-distance
    Friis,       //!< friis
};

/** @brief --fading, on top of the path loss */
enum class TadLoraFading
{
    None,     //!< none
    Rayleigh, //!< rayleigh
    Nakagami, //!< nakagami
};

/** @brief --placement: where the nodes start */
enum class TadLoraPlacement
{
    RandomRect, //!< random-rect
    RandomDisc, //!< random-disc
    Grid,       //!< grid
};

/** @brief --mobility */
enum class TadLoraMobility
{
    Static,         //!< static
    RandomWaypoint, //!< random-waypoint
    GaussMarkov,    //!< gauss-markov
    Ns2,            //!< ns2:FILE, an ns-2 movement trace (TadLoraWifiOptions::mobilityTrace)
};

/** @brief --routing */
enum class TadLoraRouting
{
    None, //!< none: one hop
    Olsr, //!< olsr
    Aodv, //!< aodv
};

/**
 * @brief The option values a choice enum's values are spelled as, in the enum's order: the
 * one table per choice, for the command line, scenario files, config.toml and descriptions.
 * Defined for the enums above.
 */
template<typename E>
const std::vector<std::string>& TadLoraChoiceNames();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraTask>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraNetwork>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraP2pLayout>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraTraceLevel>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraTransportKind>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraWifiStandard>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraRateControl>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraPropagation>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraFading>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraPlacement>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraMobility>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<TadLoraRouting>();
template<>
const std::vector<std::string>& TadLoraChoiceNames<tadlora::ByzantineMode>();

/** @return the spelling of a choice's value */
template<typename E>
const std::string&
TadLoraChoiceName(E value)
{
    return TadLoraChoiceNames<E>().at(static_cast<size_t>(value));
}

/**
 * @param name an option value
 * @return the choice's value it spells
 * @throws std::invalid_argument naming the allowed values, when it spells none
 */
template<typename E>
E TadLoraParseChoice(const std::string& name);

/** @brief Whether E is one of the choice enums above (their stream operators). */
template<typename E>
constexpr bool kIsTadLoraChoice =
    std::is_same_v<E, TadLoraTask> || std::is_same_v<E, TadLoraNetwork> ||
    std::is_same_v<E, TadLoraP2pLayout> || std::is_same_v<E, TadLoraTraceLevel> ||
    std::is_same_v<E, TadLoraTransportKind> || std::is_same_v<E, TadLoraWifiStandard> ||
    std::is_same_v<E, TadLoraRateControl> || std::is_same_v<E, TadLoraPropagation> ||
    std::is_same_v<E, TadLoraFading> || std::is_same_v<E, TadLoraPlacement> ||
    std::is_same_v<E, TadLoraMobility> || std::is_same_v<E, TadLoraRouting> ||
    std::is_same_v<E, tadlora::ByzantineMode>;

/** @brief Writes a choice's spelling (descriptions, ns3::CommandLine's defaults). */
template<typename E, typename = std::enable_if_t<kIsTadLoraChoice<E>>>
std::ostream&
operator<<(std::ostream& os, E value)
{
    return os << TadLoraChoiceName(value);
}

/** @brief Reads a choice from its spelling (ns3::CommandLine::AddValue); fails the stream
 * on any other word. */
template<typename E, typename = std::enable_if_t<kIsTadLoraChoice<E>>>
std::istream&
operator>>(std::istream& is, E& value)
{
    std::string name;
    if (is >> name)
    {
        try
        {
            value = TadLoraParseChoice<E>(name);
        }
        catch (const std::invalid_argument&)
        {
            is.setstate(std::ios::failbit);
        }
    }
    return is;
}

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
    uint32_t checkpointEvery = 0;        //!< --checkpoint-every (0: no checkpoints)
    bool resume = false;                 //!< --resume
    TadLoraTraceLevel traceLevel = TadLoraTraceLevel::Auto; //!< --trace-level
};

/** @brief Learning: the method, the optimizer, the data and the model (tadlora::Federation). */
struct TadLoraLearningOptions
{
    std::string method = "tad-lora";              //!< --method
    uint32_t localSteps = 20;                     //!< --local-steps
    uint32_t batchSize = 32;                      //!< --batch-size
    double lr = 1e-3;                             //!< --lr
    double weightDecay = 0.01;                    //!< --weight-decay
    bool keepOptimizerState = false;              //!< --keep-optimizer-state
    uint32_t rank = 8;                            //!< --rank
    double alpha = 16;                            //!< --alpha
    uint32_t switchInterval = 5;                  //!< --switch-interval (kAutoSwitchInterval: auto)
    uint32_t phaseJitter = 0;                     //!< --phase-jitter
    TadLoraTask task = TadLoraTask::FashionMnist; //!< --task
    std::string partition = "label-skew";         //!< --partition
    std::string dataDir;                          //!< --data-dir (default: per task, see setup.sh)
    uint32_t testSamples = 1000;                  //!< --test-samples
    uint32_t modelWidth = 64;                     //!< --model-width
    uint32_t modelLayers = 2;                     //!< --model-layers
    uint32_t modelHeads = 4;                      //!< --model-heads
    uint32_t patchSize = 7;                       //!< --patch-size (image tasks)
    std::string loraTargets = "q,v";              //!< --lora-targets
    std::string pretrain = "supervised";          //!< --pretrain
    uint32_t pretrainSamples = 0; //!< --pretrain-samples (0: DefaultPretrainSamples())
    uint32_t pretrainSteps = 600; //!< --pretrain-steps
    std::string cacheDir;         //!< --cache-dir (default: tadlora::DefaultCacheDir())
};

/** @brief The exchange: who gossips when, over which network, and how messages travel. */
struct TadLoraExchangeOptions
{
    double linkProb = 0.1;                                      //!< --link-prob
    std::string topology = "complete";                          //!< --topology
    TadLoraNetwork network = TadLoraNetwork::P2p;               //!< --network
    TadLoraTransportKind transport = TadLoraTransportKind::Udp; //!< --transport
    double stepTimeS = 0.05;                                    //!< --step-time-s
    std::string deviceProfile = "none"; //!< --device-profile (TadLoraParseDeviceProfile)
    double roundDeadlineS = 1;          //!< --round-deadline-s
    double confirmTimeoutS = 0.2;       //!< --confirm-timeout-s
    double exchangeJitterS = 0.01;      //!< --exchange-jitter-s
    uint32_t fragmentSize = 1400;       //!< --fragment-size
    uint32_t virtualPayloadBytes = 0;   //!< --virtual-payload-bytes
    std::string compress = "none";      //!< --compress (tadlora::Codec::Parse)
    std::string sendRate = "0bps";      //!< --send-rate (UDP pacing; 0: unpaced)
    uint32_t hopLimit = 0;              //!< --hop-limit (0: the IP default)
    double maxFactorValue = 100;        //!< --max-factor-value
};

/** @brief Fault injection: corrupted fragments and Byzantine clients. */
struct TadLoraFaultOptions
{
    double corruptProb = 0; //!< --fault-corrupt-prob
    uint32_t byzantine = 0; //!< --fault-byzantine
    tadlora::ByzantineMode byzantineMode =
        tadlora::ByzantineMode::Random; //!< --fault-byzantine-mode
    double byzantineScale = 10;         //!< --fault-byzantine-scale
};

/** @brief Paper mode's point-to-point links (TadLoraP2pNetworkHelper). */
struct TadLoraP2pOptions
{
    std::string dataRate = "100Mbps";                 //!< --data-rate
    double linkDelayMs = 2;                           //!< --link-delay-ms
    double linkLoss = 0;                              //!< --link-loss (packet error rate)
    TadLoraP2pLayout layout = TadLoraP2pLayout::Auto; //!< --p2p-layout
};

/** @brief The Wi-Fi ad hoc network (TadLoraWifiNetworkHelper) and its warm-up and beacons. */
struct TadLoraWifiOptions
{
    TadLoraWifiStandard wifiStandard = TadLoraWifiStandard::A;     //!< --wifi-standard
    TadLoraRateControl rateControl = TadLoraRateControl::Constant; //!< --rate-control
    std::string wifiMode;   //!< --wifi-mode (default: the standard's lowest)
    bool rtsCts = false;    //!< --rts-cts
    double txPowerDbm = 16; //!< --tx-power-dbm
    TadLoraPropagation propagation = TadLoraPropagation::LogDistance; //!< --propagation
    double pathLossExponent = 3;                                      //!< --path-loss-exponent
    TadLoraFading fading = TadLoraFading::None;                       //!< --fading
    double nakagamiM = 1.5;                                           //!< --nakagami-m
    double areaM = 100;                                               //!< --area-m
    TadLoraPlacement placement = TadLoraPlacement::RandomRect;        //!< --placement
    TadLoraMobility mobility = TadLoraMobility::Static;               //!< --mobility
    std::string mobilityTrace;                     //!< --mobility ns2:FILE: the trace's path
    double speedMps = 2;                           //!< --speed-mps
    double pauseS = 2;                             //!< --pause-s
    TadLoraRouting routing = TadLoraRouting::None; //!< --routing
    double warmupS = 10;                           //!< --warmup-s
    double beaconIntervalS = 1;                    //!< --beacon-interval-s
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
    TadLoraFaultOptions faults;      //!< fault injection
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
        Text,          //!< a string
        Integer,       //!< an integer
        Number,        //!< a real number (an integer or a float in TOML)
        Flag,          //!< a boolean
    } kind;            //!< its type in scenario files
    std::string group; //!< its --help group: kTadLoraP2pGroup, kTadLoraWifiGroup,
                       //!< kTadLoraFaultGroup or "Options"
};

/** The --help group of the options only point-to-point networks use. */
inline const std::string kTadLoraP2pGroup = "Point-to-point network (--network p2p)";
/** The --help group of the fault injection's options. */
inline const std::string kTadLoraFaultGroup = "Fault injection";
/** The --help group of the options only Wi-Fi ad hoc networks use. */
inline const std::string kTadLoraWifiGroup = "Wi-Fi ad hoc network (--network wifi-adhoc)";

/**
 * @param name an option or scenario key that is not one
 * @return one line: it is unknown, and the three known names nearest to it
 */
std::string TadLoraUnknownOption(const std::string& name);

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
