// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-experiment.h"

#include "tadlora-checked-file.h"
#include "tadlora-client.h"
#include "tadlora-compute.h"
#include "tadlora-connectivity.h"
#include "tadlora-csv.h"
#include "tadlora-dataset.h"
#include "tadlora-federation.h"
#include "tadlora-network-helper.h"
#include "tadlora-p2p-network-helper.h"
#include "tadlora-partition.h"
#include "tadlora-pretrain.h"
#include "tadlora-recorder.h"
#include "tadlora-scenario.h"
#include "tadlora-spam-assassin.h"
#include "tadlora-stop-signals.h"
#include "tadlora-topology.h"
#include "tadlora-transformer.h"

#include "ns3/core-module.h"
#include "ns3/flow-monitor-helper.h"
#include "ns3/internet-module.h"
#include "ns3/netanim-module.h"
#include "ns3/network-module.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("TadLoraExperiment");

namespace
{

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double
SecondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/**
 * @brief Create a directory if need be and check that files can be written in it.
 * @throws std::invalid_argument naming the option, if not
 */
void
CheckWritableDirectory(const std::string& option, const fs::path& dir)
{
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path probe = dir / (".tadlora-probe-" + std::to_string(getpid()));
    if (ec || !std::ofstream(probe))
    {
        throw std::invalid_argument(option + ": cannot write in '" + dir.string() + "'" +
                                    (ec ? ": " + ec.message() : std::string()));
    }
    fs::remove(probe, ec);
}

/** A rounds.csv row: one evaluated round. */
struct RoundRow
{
    TadLoraRoundReport report;
    double simTime;
    std::string phase;
    tadlora::Accuracy accuracy;
    tadlora::Disagreement disagreement;
};

const TadLoraColumns<RoundRow> kRoundColumns{
    {"round", [](std::ostream& o, const RoundRow& r) { o << r.report.round; }},
    {"sim_time_s", [](std::ostream& o, const RoundRow& r) { o << r.simTime; }},
    {"phase", [](std::ostream& o, const RoundRow& r) { o << r.phase; }},
    {"mean_acc", [](std::ostream& o, const RoundRow& r) { o << r.accuracy.mean; }},
    {"std_acc", [](std::ostream& o, const RoundRow& r) { o << r.accuracy.std; }},
    {"avg_model_acc", [](std::ostream& o, const RoundRow& r) { o << r.accuracy.averagedModel; }},
    {"mean_loss", [](std::ostream& o, const RoundRow& r) { o << r.report.meanLoss; }},
    {"consensus_A", [](std::ostream& o, const RoundRow& r) { o << r.disagreement.consensusA; }},
    {"consensus_B", [](std::ostream& o, const RoundRow& r) { o << r.disagreement.consensusB; }},
    {"cross_term", [](std::ostream& o, const RoundRow& r) { o << r.disagreement.crossTerm; }},
    {"active_edges", [](std::ostream& o, const RoundRow& r) { o << r.report.activeEdges; }},
    {"w_colsum_dev", [](std::ostream& o, const RoundRow& r) { o << r.report.columnSumDeviation; }},
    {"msgs_sent", [](std::ostream& o, const RoundRow& r) { o << r.report.msgsSent; }},
    {"msgs_delivered", [](std::ostream& o, const RoundRow& r) { o << r.report.msgsDelivered; }},
    {"msgs_rejected", [](std::ostream& o, const RoundRow& r) { o << r.report.msgsRejected; }},
    {"bytes_sent", [](std::ostream& o, const RoundRow& r) { o << r.report.bytesSent; }},
};

/** @return an output directory's path without a trailing separator ("out/" is "out") */
fs::path
OutputPath(const std::string& out)
{
    const fs::path path = fs::path(out).lexically_normal();
    return path.has_filename() ? path : path.parent_path();
}

/**
 * A run's files are written in a staging directory beside --out, which replaces --out whole
 * when the run succeeds (an earlier run's files never mix with this one's), and is removed if
 * it does not.
 */
class StagingDir
{
public:
    /**
     * @param out the output directory
     * @param tag what is staged ("partial": a run; "checkpoint": a checkpoint's outputs)
     */
    StagingDir(const std::string& out, const std::string& tag)
        : m_out(OutputPath(out))
        , m_path(m_out.string() + "." + tag + "-" + std::to_string(getpid()))
    {
        std::error_code ec;
        RemoveAbandoned(m_out.string() + "." + tag + "-");
        fs::remove_all(m_path, ec);
        fs::create_directories(m_path, ec);
        if (ec)
        {
            throw std::invalid_argument("--out: cannot create '" + m_path.string() +
                                        "': " + ec.message());
        }
    }

    ~StagingDir()
    {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }

    const fs::path& Path() const
    {
        return m_path;
    }

    fs::path File(const std::string& name) const
    {
        return m_path / name;
    }

    /**
     * Put the staged directory in the output directory's place: in one step (the two swap
     * atomically), so that a run killed at any moment leaves either of them whole.
     */
    void Commit()
    {
        if (!fs::exists(m_out))
        {
            fs::rename(m_path, m_out);
            return;
        }
        if (renameat2(AT_FDCWD, m_path.c_str(), AT_FDCWD, m_out.c_str(), RENAME_EXCHANGE) != 0)
        {
            throw std::runtime_error("--out: cannot replace '" + m_out.string() +
                                     "': " + std::strerror(errno));
        }
        std::error_code ec;
        fs::remove_all(m_path, ec); // the earlier outputs
    }

private:
    /** Remove what runs that were killed staged: "<prefix><pid>" of a process that is gone. */
    static void RemoveAbandoned(const std::string& prefix)
    {
        std::error_code ec;
        const fs::path parent = fs::path(prefix).parent_path();
        for (const auto& entry : fs::directory_iterator(parent.empty() ? "." : parent, ec))
        {
            const std::string name = entry.path().string();
            if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size() ||
                name.size() > prefix.size() + 9 ||
                name.find_first_not_of("0123456789", prefix.size()) != std::string::npos)
            {
                continue;
            }
            const auto pid = static_cast<pid_t>(std::stoll(name.substr(prefix.size())));
            if (kill(pid, 0) != 0 && errno == ESRCH)
            {
                fs::remove_all(entry.path(), ec);
            }
        }
    }

    fs::path m_out;
    fs::path m_path;
};

/** A run's checkpoint, in its output directory. */
const std::string kCheckpointFile = "checkpoint.tadlora";
/** First line of a checkpoint file; the version changes with the layout. */
const std::string kCheckpointMagic = "tadlora-checkpoint 1";

/** @return the configuration as the outputs record it: --resume is how a run started, not
 * what it is, so a resumed run records the configuration it would have had */
TadLoraConfig
Recorded(TadLoraConfig config)
{
    config.run.resume = false;
    return config;
}

/** @return config.toml's text of the configuration */
std::string
ConfigText(const TadLoraConfig& config)
{
    return TadLoraConfigToToml(Recorded(config));
}

/**
 * @return what must not change between a run and its resumption: its configuration, less
 * --out (a stopped run's directory may be moved before it is resumed)
 */
std::string
ResumeIdentity(const std::string& configText)
{
    std::istringstream lines(configText);
    std::string kept;
    for (std::string line; std::getline(lines, line);)
    {
        kept += line.rfind("out = ", 0) == 0 ? "" : line + "\n";
    }
    return kept;
}

/** @return a checkpoint's key: the FNV-1a hash of the configuration that made it, less --out */
std::string
CheckpointKey(const TadLoraConfig& c)
{
    uint64_t hash = 1469598103934665603ull;
    for (unsigned char ch : ResumeIdentity(ConfigText(c)))
    {
        hash = (hash ^ ch) * 1099511628211ull;
    }
    std::ostringstream key;
    key << "config-" << std::hex << hash;
    return key.str();
}

/** @return a file's content, or "" if it cannot be read */
std::string
ReadText(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/** @return where the run's pretrained base is cached */
std::string
CacheDirOf(const TadLoraConfig& c)
{
    return c.learning.cacheDir.empty() ? tadlora::DefaultCacheDir() : c.learning.cacheDir;
}

/** What --resume takes up from a stopped run's output directory. */
struct Resumption
{
    std::string state;     //!< the learning state (tadlora::Federation::Checkpoint)
    std::string roundsCsv; //!< rounds.csv up to the checkpoint
};

/**
 * @param c the effective configuration, --resume set
 * @return the checkpoint in --out, checked: made by this configuration, whole and intact
 * @throws std::invalid_argument if there is none, or it cannot be used
 */
Resumption
ReadCheckpoint(const TadLoraConfig& c)
{
    const fs::path out = OutputPath(c.run.out);
    const std::string now = ResumeIdentity(ConfigText(c));
    const std::string then = ResumeIdentity(ReadText(out / "config.toml"));
    if (then != now)
    {
        std::istringstream a(then);
        std::istringstream b(now);
        std::string x;
        std::string y;
        while (std::getline(a, x) && std::getline(b, y) && x == y)
        {
        }
        throw std::invalid_argument("--resume: the run in '" + out.string() + "' had '" + x +
                                    "', this one '" + y +
                                    "': a run resumes with the options it started with");
    }
    Resumption r;
    const fs::path file = out / kCheckpointFile;
    const std::string problem =
        tadlora::ReadCheckedFile(file.string(), kCheckpointMagic, CheckpointKey(c), r.state);
    if (!problem.empty())
    {
        throw std::invalid_argument("--resume: the checkpoint " + file.string() + " " + problem);
    }
    r.roundsCsv = ReadText(out / "rounds.csv");
    return r;
}

tadlora::TaskData
LoadTask(const TadLoraConfig& c)
{
    if (c.learning.task == TadLoraTask::Synthetic)
    {
        // A fixed data set, like Fashion-MNIST: the run's seed varies the partition and the
        // clients' batches, not the task, so one pretrained base serves every seed.
        return tadlora::MakeSynthetic(
            7, 6000, c.learning.testSamples == 0 ? 2000 : c.learning.testSamples, 10);
    }
    try
    {
        if (c.learning.task == TadLoraTask::SpamAssassin)
        {
            return tadlora::LoadSpamAssassin(
                c.learning.dataDir.empty() ? tadlora::DefaultSpamAssassinDir() : c.learning.dataDir,
                c.learning.testSamples);
        }
        return ForOption("--patch-size",
                         [&c]
                         {
                             return tadlora::LoadFashionMnist(
                                 c.learning.dataDir.empty() ? tadlora::kFashionMnistDir
                                                            : c.learning.dataDir,
                                 0, c.learning.testSamples, c.learning.patchSize, CacheDirOf(c),
                                 [](const std::string& notice)
                                 { std::cerr << "[tadlora] " << notice << std::endl; });
                         });
    }
    catch (const std::runtime_error& e)
    {
        throw std::invalid_argument(std::string("--data-dir: ") + e.what());
    }
}

std::vector<tadlora::Edge>
BaseGraphOf(const TadLoraConfig& c)
{
    return ForOption(
        "--topology",
        [&c] { return tadlora::MakeBaseGraph(c.exchange.topology, c.run.clients, c.run.seed); });
}

tadlora::Connectivity
ConnectivityOf(const TadLoraConfig& c, const std::vector<tadlora::Edge>& baseEdges)
{
    return ForOption(
        "--link-prob",
        [&] { return tadlora::MixingConnectivity(baseEdges, c.run.clients, c.exchange.linkProb); });
}

std::string
DescribeConnectivity(const TadLoraConfig& c, const tadlora::Connectivity& connectivity)
{
    std::ostringstream text;
    text << "rho = " << std::setprecision(6) << connectivity.rho;
    if (connectivity.exact)
    {
        text << " (exact, " << connectivity.samples << " edge sets";
    }
    else
    {
        text << " ± " << std::setprecision(2) << connectivity.standardError << std::setprecision(6)
             << " (Monte Carlo, " << connectivity.samples << " edge sets drawn";
    }
    text << "; Metropolis-Hastings, p = " << c.exchange.linkProb << ", " << c.exchange.topology
         << " graph of " << c.run.clients
         << "); --switch-interval auto picks T = " << tadlora::AutoSwitchInterval(connectivity.rho)
         << " (" << tadlora::kAutoSwitchConstant << " / sqrt(1 - rho))";
    return text.str();
}

nlohmann::json
ConfigJson(const TadLoraConfig& config)
{
    nlohmann::json json = nlohmann::json::object();
    for (const TadLoraSetting& s : TadLoraSettings(config))
    {
        switch (s.kind)
        {
            case TadLoraSetting::Kind::Flag:
                json[s.name] = s.value == "true";
                break;
            case TadLoraSetting::Kind::Integer:
            case TadLoraSetting::Kind::Number:
                json[s.name] = nlohmann::json::parse(s.value);
                break;
            case TadLoraSetting::Kind::Text:
                json[s.name] = s.value;
                break;
        }
    }
    return json;
}

/** The messages refused, by reason (every reason, zeros too). */
nlohmann::json
RejectionsJson(const TadLoraRoundReport& totals)
{
    nlohmann::json json = nlohmann::json::object();
    for (const auto& [reason, count] : totals.rejectedBy)
    {
        json[tadlora::RejectionName(reason)] = count;
    }
    return json;
}

/** @return summary.json's energy: joules over every client and round, null where unknown */
nlohmann::json
EnergyJson(const std::vector<TadLoraEnergyMeter::Row>& rows)
{
    std::optional<double> compute;
    std::optional<std::array<double, 3>> radio;
    std::set<uint32_t> clients;
    for (const TadLoraEnergyMeter::Row& row : rows)
    {
        clients.insert(row.client);
        if (row.compute)
        {
            compute = compute.value_or(0) + *row.compute;
        }
        if (row.radio)
        {
            radio = radio.value_or(std::array<double, 3>{});
            for (size_t s = 0; s < 3; ++s)
            {
                (*radio)[s] += (*row.radio)[s];
            }
        }
    }
    const double total =
        compute.value_or(0) + (radio ? (*radio)[0] + (*radio)[1] + (*radio)[2] : 0);
    nlohmann::json json{
        {"compute_j", nullptr},  {"radio_tx_j", nullptr},
        {"radio_rx_j", nullptr}, {"radio_idle_j", nullptr},
        {"total_j", total},      {"per_client_j", clients.empty() ? 0.0 : total / clients.size()}};
    if (compute)
    {
        json["compute_j"] = *compute;
    }
    if (radio)
    {
        json["radio_tx_j"] = (*radio)[0];
        json["radio_rx_j"] = (*radio)[1];
        json["radio_idle_j"] = (*radio)[2];
    }
    return json;
}

} // namespace

void
TadLoraCheckConfig(const TadLoraConfig& c)
{
    ForOption("--method", [&c]
              { tadlora::Method(c.learning.method, std::max(c.learning.switchInterval, 1u)); });
    TadLoraNetworkHelper::Check(c);
    // A run's p2p links stand for the paper's logical edges, one per pair: a broadcast would
    // copy every message onto every base edge, active or not. (The helpers carry it, for
    // networks built by hand: the ns-3 test suite broadcasts over a p2p ring.)
    if (c.exchange.network == TadLoraNetwork::P2p &&
        c.exchange.transport == TadLoraTransportKind::Broadcast)
    {
        throw std::invalid_argument("--transport: broadcast is one hop of a shared Wi-Fi "
                                    "channel; p2p runs take udp or tcp");
    }
    // An option that means nothing in this run must keep its default (a run's config.toml
    // lists every option, and loads again): those of the other network, and those of a
    // method, transport, model or fault the run does not have.
    const tadlora::Method method(c.learning.method, std::max(c.learning.switchInterval, 1u));
    const bool unicast = c.exchange.transport != TadLoraTransportKind::Broadcast;
    const std::map<std::string, std::pair<bool, std::string>> appliesWhen{
        {"switch-interval",
         {method.TakesSwitchInterval(),
          "T of tad-lora and tad-lora-no-joint (lora and ffa-lora do not switch, rolora "
          "switches every round)"}},
        {"phase-jitter", {method.Alternates(), "the lag of the methods that switch factors"}},
        {"send-rate",
         {c.exchange.transport != TadLoraTransportKind::Tcp, "the pace of udp and broadcast"}},
        {"hop-limit", {unicast, "the TTL of unicast (udp, tcp)"}},
        {"step-time-s",
         {c.exchange.deviceProfile == "none",
          "the single-number compute model; --device-profile gives each client its own"}},
        {"virtual-payload-bytes",
         {c.exchange.compress == "none",
          "the size of uncompressed factors (a compressed message travels at its own size)"}},
        {"wifi-mode",
         {c.wifi.rateControl == TadLoraRateControl::Constant,
          "the mode of --rate-control constant"}},
        {"path-loss-exponent",
         {c.wifi.propagation == TadLoraPropagation::LogDistance,
          "the exponent of --propagation log-distance"}},
        {"nakagami-m",
         {c.wifi.fading == TadLoraFading::Nakagami, "the shape of --fading nakagami"}},
        {"speed-mps",
         {c.wifi.mobility == TadLoraMobility::RandomWaypoint ||
              c.wifi.mobility == TadLoraMobility::GaussMarkov,
          "the speed of a random --mobility"}},
        {"placement",
         {c.wifi.mobility != TadLoraMobility::Ns2,
          "where nodes start; an ns2 trace places them itself"}},
        {"area-m",
         {c.wifi.mobility != TadLoraMobility::Ns2,
          "the area of --placement; an ns2 trace places nodes itself"}},
        {"pause-s",
         {c.wifi.mobility == TadLoraMobility::RandomWaypoint,
          "the pauses of --mobility random-waypoint"}},
        {"beacon-interval-s",
         {c.wifi.routing == TadLoraRouting::None, "one-hop discovery (--routing none)"}},
        {"fault-byzantine-mode",
         {c.faults.byzantine > 0, "what the --fault-byzantine clients send"}},
        {"fault-byzantine-scale",
         {c.faults.byzantineMode == tadlora::ByzantineMode::Scaled,
          "the factor of --fault-byzantine-mode scaled"}},
    };
    const std::vector<TadLoraSetting> defaults = TadLoraSettings(TadLoraConfig());
    const std::vector<TadLoraSetting> settings = TadLoraSettings(c);
    const std::string& unused =
        c.exchange.network == TadLoraNetwork::P2p ? kTadLoraWifiGroup : kTadLoraP2pGroup;
    for (size_t k = 0; k < settings.size(); ++k)
    {
        if (settings[k].value == defaults[k].value)
        {
            continue;
        }
        if (settings[k].group == unused)
        {
            throw std::invalid_argument("--" + settings[k].name + ": an option of the " + unused +
                                        "; this run's --network is " +
                                        TadLoraChoiceName(c.exchange.network));
        }
        const auto rule = appliesWhen.find(settings[k].name);
        if (rule != appliesWhen.end() && !rule->second.first)
        {
            throw std::invalid_argument("--" + settings[k].name + " " + settings[k].value +
                                        " means nothing in this run: it sets " +
                                        rule->second.second);
        }
    }
    if (c.learning.modelWidth % c.learning.modelHeads != 0)
    {
        throw std::invalid_argument("--model-heads: " + std::to_string(c.learning.modelHeads) +
                                    " does not divide --model-width " +
                                    std::to_string(c.learning.modelWidth));
    }
    if (c.learning.rank > c.learning.modelWidth)
    {
        throw std::invalid_argument("--rank: " + std::to_string(c.learning.rank) +
                                    " exceeds --model-width " +
                                    std::to_string(c.learning.modelWidth) +
                                    " (a rank is at most the adapted matrix's smaller side)");
    }
    if (c.learning.task != TadLoraTask::FashionMnist &&
        c.learning.patchSize != tadlora::kDefaultPatchSide)
    {
        throw std::invalid_argument("--patch-size: only image tasks (fashion-mnist) are cut "
                                    "into patches, not " +
                                    TadLoraChoiceName(c.learning.task));
    }
    if (c.faults.byzantine >= c.run.clients)
    {
        throw std::invalid_argument("--fault-byzantine: " + std::to_string(c.faults.byzantine) +
                                    " of " + std::to_string(c.run.clients) +
                                    " clients leaves none honest");
    }
    if (c.run.out.empty())
    {
        throw std::invalid_argument("--out: an output directory must be named");
    }
    // A run replaces its --out whole: only a new or empty directory, or an earlier run's.
    const fs::path out = OutputPath(c.run.out);
    if (out.filename() == "." || out.filename() == ".." || out == out.root_path())
    {
        throw std::invalid_argument("--out: name the run's own directory, not '" + c.run.out + "'");
    }
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    {
        throw std::invalid_argument("--out: '" + out.string() + "' exists and is not a directory");
    }
    if (fs::is_directory(out, ec) && !fs::is_empty(out, ec) && !fs::exists(out / "config.toml", ec))
    {
        throw std::invalid_argument("--out: '" + out.string() +
                                    "' holds files that are not a run's; a run replaces its "
                                    "output directory whole: name a new or empty one, or an "
                                    "earlier run's");
    }
    if (c.run.resume && !fs::exists(out / kCheckpointFile, ec))
    {
        throw std::invalid_argument("--resume: '" + out.string() +
                                    "' holds no checkpoint to resume from (a run writes one "
                                    "with --checkpoint-every, and when a signal stops it)");
    }
    CheckWritableDirectory("--cache-dir", CacheDirOf(c));
}

std::string
TadLoraDescribeConnectivity(const TadLoraConfig& config)
{
    TadLoraCheckConfig(config);
    return DescribeConnectivity(config, ConnectivityOf(config, BaseGraphOf(config)));
}

TadLoraExperiment::TadLoraExperiment(const TadLoraConfig& config)
    : m_config(config)
{
}

int
TadLoraExperiment::StoppedBy() const
{
    return m_stoppedBy;
}

void
TadLoraExperiment::SetNetwork(std::unique_ptr<TadLoraNetworkHelper> network)
{
    m_network = std::move(network);
}

void
TadLoraExperiment::SetReadyCallback(std::function<void(TadLoraScenario&)> ready)
{
    m_ready = std::move(ready);
}

void
TadLoraExperiment::Run()
{
    const Clock::time_point start = Clock::now();
    TadLoraCheckConfig(m_config); // before anything runs or is written
    const std::vector<tadlora::Edge> baseEdges = BaseGraphOf(m_config);
    const tadlora::Connectivity connectivity = ConnectivityOf(m_config, baseEdges);
    const uint32_t autoInterval = tadlora::AutoSwitchInterval(connectivity.rho);
    if (m_config.learning.switchInterval == kAutoSwitchInterval)
    {
        m_config.learning.switchInterval = autoInterval; // the outputs record the T that ran
    }
    // The outputs record the layout and trace level that ran, as they do T.
    if (m_config.exchange.network == TadLoraNetwork::P2p)
    {
        m_config.p2p.layout =
            TadLoraP2pNetworkHelper::Resolve(m_config.p2p.layout, baseEdges, m_config.run.clients);
    }
    if (m_config.run.traceLevel == TadLoraTraceLevel::Auto)
    {
        m_config.run.traceLevel = m_config.run.clients <= kFullTraceMaxClients
                                      ? TadLoraTraceLevel::Full
                                      : TadLoraTraceLevel::Links;
    }
    const TadLoraConfig& c = m_config;
    auto progress = [&c](const std::string& line)
    {
        if (!c.run.quiet)
        {
            std::cerr << "[tadlora] " << line << std::endl;
        }
    };

    const tadlora::Method method(c.learning.method, c.learning.switchInterval);
    tadlora::ConfigureCompute(c.run.threads); // before the signals' handler: see StopSignals
    StagingDir staging(c.run.out, "partial");
    const StopSignals signals;
    m_stoppedBy = 0;

    const Clock::time_point dataStart = Clock::now();
    auto task = std::make_shared<tadlora::TaskData>(LoadTask(c));
    tadlora::PretrainConfig recipe;
    recipe.objective = c.learning.pretrain;
    if (c.learning.pretrainSamples == 0)
    {
        // the outputs record the split's size that ran
        m_config.learning.pretrainSamples =
            tadlora::DefaultPretrainSamples(task->train.inputs.size(0));
    }
    recipe.samples = c.learning.pretrainSamples;
    recipe.steps = c.learning.pretrainSteps;
    // A resumed run checks its checkpoint before the long work (the base, the network).
    const Resumption resumption = c.run.resume ? ReadCheckpoint(c) : Resumption{};
    const tadlora::PretrainingSplit split = ForOption(
        "--pretrain-samples", [&] { return tadlora::SplitForPretraining(task->train, recipe); });
    const std::vector<std::vector<uint32_t>> shards =
        ForOption("--partition",
                  [&]
                  {
                      return tadlora::PartitionRows(
                          tadlora::LabelsOf(task->train), split.clientRows, task->train.numClasses,
                          c.run.clients, c.learning.partition, c.run.seed);
                  });
    const double dataSeconds = SecondsSince(dataStart);

    const Clock::time_point pretrainStart = Clock::now();
    tadlora::ModelConfig modelConfig = tadlora::ModelConfigFor(*task);
    modelConfig.dModel = c.learning.modelWidth;
    modelConfig.heads = c.learning.modelHeads;
    modelConfig.layers = c.learning.modelLayers;
    modelConfig.ffn = 2 * int64_t{c.learning.modelWidth};
    modelConfig.loraTargets = ForOption(
        "--lora-targets", [&c] { return tadlora::ParseLoraTargets(c.learning.loraTargets); });
    modelConfig.rank = c.learning.rank;
    modelConfig.alpha = c.learning.alpha;
    tadlora::TransformerClassifier model = tadlora::PretrainedModel(
        modelConfig, split.data, task->name, recipe, CacheDirOf(c),
        [&progress, &c](int64_t step, int64_t steps, double loss)
        {
            progress("pretraining the base: step " + std::to_string(step) + "/" +
                     std::to_string(steps) + ", " + c.learning.pretrain + " loss " +
                     std::to_string(loss));
        },
        [](const std::string& notice) { std::cerr << "[tadlora] " << notice << std::endl; });
    const double pretrainSeconds = SecondsSince(pretrainStart);

    tadlora::Federation federation(TadLoraFederationConfig(c), model.ptr(), task, shards);
    const Clock::time_point baseStart = Clock::now();
    const double baseAccuracy = federation.BaseAccuracy();
    const double baseSeconds = SecondsSince(baseStart); // an evaluation, counted as one
    uint64_t resumeRound = 0;
    if (c.run.resume)
    {
        try
        {
            resumeRound = federation.Restore(resumption.state);
        }
        catch (const std::exception& e)
        {
            const std::string what = e.what();
            throw std::invalid_argument("--resume: the checkpoint in " + c.run.out +
                                        " does not load: " + what.substr(0, what.find('\n')));
        }
        progress("resuming after round " + std::to_string(resumeRound) + " of " + c.run.out +
                 ": the network of the rounds before it is simulated again, their learning "
                 "is not");
    }
    progress("frozen base accuracy " + std::to_string(baseAccuracy) + "; " +
             std::to_string(c.run.clients) + " clients, " + method.Name() + ", " +
             std::to_string(c.run.rounds) + " rounds; " + DescribeConnectivity(c, connectivity));
    TadLoraScenario scenario(c, federation, baseEdges, std::move(m_network));
    TadLoraNetworkHelper& network = scenario.Network();
    ApplicationContainer& apps = scenario.Clients();
    progress(network.Describe());
    if (c.run.pcap)
    {
        network.EnablePcap(staging.File("tadlora").string());
    }
    FlowMonitorHelper flowHelper;
    if (c.run.flowMonitor)
    {
        flowHelper.InstallAll();
    }
    // NetAnim: where the nodes are, once a second; packets are left out to keep it cheap.
    std::unique_ptr<AnimationInterface> animation;
    if (c.run.netanim)
    {
        animation = std::make_unique<AnimationInterface>(staging.File("netanim.xml").string());
        animation->SkipPacketTracing();
        animation->SetMobilityPollInterval(Seconds(1));
    }
    TimeValue firstRound;
    apps.Get(0)->GetAttribute("Warmup", firstRound);

    std::ofstream rounds(staging.File("rounds.csv"));
    rounds << std::setprecision(9);
    if (c.run.resume)
    {
        // The rows of the rounds before the checkpoint, as a run that never stopped has them
        // (a run stopped by a signal evaluated its last round, whatever --eval-every said).
        std::istringstream lines(resumption.roundsCsv);
        std::string line;
        std::getline(lines, line);
        rounds << line << "\n";
        while (std::getline(lines, line))
        {
            if (std::stoull(line.substr(0, line.find(','))) % c.run.evalEvery == 0)
            {
                rounds << line << "\n";
            }
        }
    }
    else
    {
        WriteCsvHeader(rounds, kRoundColumns);
    }
    std::ofstream networkTrace(staging.File("network.csv"));
    networkTrace << std::setprecision(9);
    // Evaluation is an event of its own, scheduled when the last client has finished a round:
    // it runs before the round barrier's next round starts, on the round's factors.
    const Clock::time_point loopStart = Clock::now();
    RoundRow last{};
    double evaluateSeconds = 0;
    auto measure = [&](const TadLoraRoundReport& report)
    {
        const Clock::time_point evaluateStart = Clock::now();
        const RoundRow row{report, Simulator::Now().GetSeconds(),
                           federation.GetMethod().Plan(report.round).TrainedLabel(),
                           federation.Evaluate(), federation.Diagnose()};
        evaluateSeconds += SecondsSince(evaluateStart);
        return row;
    };
    auto evaluate = [&](const TadLoraRoundReport& report)
    {
        last = measure(report);
        WriteCsvRow(rounds, kRoundColumns, last);
        if (!c.run.quiet)
        {
            std::cerr << std::fixed << std::setprecision(3) << "[tadlora] round "
                      << report.round + 1 << "/" << c.run.rounds << "  acc " << last.accuracy.mean
                      << " ± " << last.accuracy.std << "  loss " << report.meanLoss
                      << "  delivered " << report.msgsDelivered << "/" << report.msgsSent
                      << "  sim " << std::setprecision(1) << last.simTime << " s  wall "
                      << SecondsSince(loopStart) << " s" << std::defaultfloat << std::endl;
        }
    };
    // A checkpoint: the outputs so far and the learning state, put in --out's place at once.
    std::function<void(const TadLoraRoundReport&)> checkpoint;
    TadLoraEnergyMeter& energy = scenario.Energy();
    energy.InstallRadios(scenario.Nodes(), network.Devices());
    TadLoraRecorder recorder(
        c.run.clients, scenario.Graph(), scenario.Usage(), firstRound.Get(), networkTrace,
        [&c, &evaluate, &checkpoint, &signals, &energy,
         resumeRound](const TadLoraRoundReport& report)
        {
            energy.EndRound(report.round);
            if (report.round < resumeRound)
            {
                return; // replayed: learned, evaluated and written before the checkpoint
            }
            // A stop signal ends the run with this round, evaluated, as if it were the last.
            const bool lastRound = report.round + 1 == c.run.rounds || signals.Received() != 0;
            if (report.round % c.run.evalEvery == 0 || lastRound)
            {
                Simulator::ScheduleNow([&evaluate, report]() { evaluate(report); });
            }
            if (!lastRound && c.run.checkpointEvery != 0 &&
                (report.round + 1) % c.run.checkpointEvery == 0)
            {
                Simulator::ScheduleNow([&checkpoint, report]() { checkpoint(report); });
            }
            if (lastRound)
            {
                // Periodic helpers such as FlowMonitor's loss check would
                // keep the event list alive.
                Simulator::ScheduleNow([]() { Simulator::Stop(); });
            }
        },
        c.run.traceLevel);
    for (uint32_t i = 0; i < apps.GetN(); ++i)
    {
        recorder.Connect(apps.Get(i));
    }
    if (m_ready)
    {
        m_ready(scenario);
    }
    apps.Start(Seconds(0));
    const double setupSeconds = SecondsSince(start) - dataSeconds - pretrainSeconds - baseSeconds;
    if (signals.Received() != 0)
    {
        // Not one round ran: there is nothing to keep, and the staging directory goes.
        Simulator::Destroy();
        m_stoppedBy = signals.Received();
        std::cerr << "[tadlora] " << strsignal(m_stoppedBy)
                  << " before the first round: nothing written" << std::endl;
        return;
    }

    const Clock::time_point simStart = Clock::now();

    // Every output, as of the round `final` (summary.json's "final"), into a directory; with
    // a checkpoint of the learning state before round `next` unless it is 0.
    auto writeOutputs = [&](const fs::path& dir, const RoundRow& final, uint64_t next)
    {
        const double simSeconds = SecondsSince(simStart);
        const Clock::time_point outputStart = Clock::now();
        rounds.flush();
        networkTrace.flush();
        if (dir != staging.Path())
        {
            fs::copy_file(staging.File("rounds.csv"), dir / "rounds.csv");
            fs::copy_file(staging.File("network.csv"), dir / "network.csv");
        }
        std::vector<std::ofstream> traces;
        if (c.run.traceLevel != TadLoraTraceLevel::Summary)
        {
            recorder.WriteLinks(traces.emplace_back(dir / "links.csv") << std::setprecision(9));
        }
        if (c.run.traceLevel == TadLoraTraceLevel::Full)
        {
            recorder.WriteMessages(traces.emplace_back(dir / "messages.csv")
                                   << std::setprecision(9));
            recorder.WriteMixing(traces.emplace_back(dir / "mixing.csv") << std::setprecision(17));
        }
        if (energy.Enabled())
        {
            energy.Write(traces.emplace_back(dir / "energy.csv") << std::setprecision(9));
        }
        std::ofstream(dir / "config.toml") << ConfigText(c);
        if (next != 0)
        {
            tadlora::WriteCheckedFile((dir / kCheckpointFile).string(), kCheckpointMagic,
                                      CheckpointKey(c), {federation.Checkpoint(next)});
        }

        const double trainSeconds = federation.TrainSeconds();
        const double exchangeSeconds = federation.ExchangeSeconds();
        nlohmann::json summary;
        summary["complete"] = next == 0 && m_stoppedBy == 0;
        if (next != 0)
        {
            summary["checkpoint_round"] = next;
        }
        summary["config"] = ConfigJson(Recorded(c));
        summary["base_acc"] = baseAccuracy;
        summary["byzantine_clients"] = federation.Byzantine();
        summary["rho"] = {{"value", connectivity.rho},
                          {"method", connectivity.Method()},
                          {"samples", connectivity.samples},
                          {"standard_error", connectivity.standardError},
                          {"auto_switch_interval", autoInterval}};
        summary["final"] = {{"round", final.report.round},
                            {"mean_acc", final.accuracy.mean},
                            {"std_acc", final.accuracy.std},
                            {"avg_model_acc", final.accuracy.averagedModel},
                            {"mean_loss", final.report.meanLoss},
                            {"consensus_A", final.disagreement.consensusA},
                            {"consensus_B", final.disagreement.consensusB},
                            {"cross_term", final.disagreement.crossTerm}};
        const TadLoraRoundReport& totals = final.report;
        const TadLoraUsageProbe::Usage usage = scenario.Usage().Get();
        summary["network"] = {
            {"msgs_sent", totals.msgsSent},
            {"msgs_delivered", totals.msgsDelivered},
            {"msgs_rejected", totals.msgsRejected},
            {"msgs_rejected_by_reason", RejectionsJson(totals)},
            {"delivery_ratio",
             totals.msgsSent == 0 ? 1.0 : double(totals.msgsDelivered) / totals.msgsSent},
            {"bytes_sent", totals.bytesSent},
            {"active_edges", totals.activeEdgesTotal},
            {"confirmed_edges", totals.confirmedEdges},
            {"one_sided_edges", totals.oneSidedEdges},
            {"bytes_on_air", usage.bytes},
            {"airtime_s", usage.airtime},
            {"mean_round_time_s", totals.roundTimeSum / (totals.round + 1)},
            {"missed_exchanges", totals.missedExchanges}};
        summary["network"]["model"] = network.Describe();
        if (energy.Enabled())
        {
            summary["energy"] = EnergyJson(energy.Rows());
        }
        summary["sim_time_s"] = final.simTime;
        // Inside the event loop: training, evaluation, serializing and mixing, and the rest is
        // ns-3's (events, sockets, links or Wi-Fi, the clients' protocol, the traces).
        summary["wall_breakdown_s"] = {
            {"data", dataSeconds},
            {"pretrain", pretrainSeconds},
            {"setup", setupSeconds},
            {"train", trainSeconds},
            {"evaluate", baseSeconds + evaluateSeconds},
            {"exchange", exchangeSeconds},
            {"ns3", simSeconds - trainSeconds - evaluateSeconds - exchangeSeconds},
            {"output", SecondsSince(outputStart)}};
        summary["wall_time_s"] = SecondsSince(start);
        rusage resources{};
        getrusage(RUSAGE_SELF, &resources);
        summary["max_rss_mb"] = static_cast<double>(resources.ru_maxrss) / 1024; // KiB on Linux
        std::ofstream(dir / "summary.json") << summary.dump(2) << "\n";
        if (!rounds || !networkTrace ||
            std::any_of(traces.begin(), traces.end(), [](const std::ofstream& f) { return !f; }))
        {
            throw std::runtime_error("--out: could not write the traces");
        }
    };
    checkpoint = [&](const TadLoraRoundReport& report)
    {
        StagingDir outputs(c.run.out, "checkpoint");
        writeOutputs(outputs.Path(), last.report.round == report.round ? last : measure(report),
                     report.round + 1);
        outputs.Commit();
        progress("checkpoint after round " + std::to_string(report.round + 1) + " in " + c.run.out);
    };

    Simulator::Run();
    if (c.run.flowMonitor)
    {
        flowHelper.SerializeToXmlFile(staging.File("flowmon.xml").string(), false, false);
    }
    animation.reset(); // closes netanim.xml
    Simulator::Destroy();

    // A run stopped by a signal keeps a checkpoint of where it stopped: --resume goes on.
    m_stoppedBy = signals.Received();
    writeOutputs(staging.Path(), last, m_stoppedBy != 0 ? last.report.round + 1 : 0);
    rounds.close();
    networkTrace.close();
    staging.Commit();
    if (m_stoppedBy != 0)
    {
        std::cerr << "[tadlora] " << strsignal(m_stoppedBy) << ": stopped after round "
                  << last.report.round + 1 << "/" << c.run.rounds
                  << "; the partial outputs and a checkpoint are in " << c.run.out
                  << " (--resume goes on)" << std::endl;
        return;
    }
    progress("done: mean accuracy " + std::to_string(last.accuracy.mean) + " (base " +
             std::to_string(baseAccuracy) + "), outputs in " + c.run.out);
}

} // namespace ns3
