// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-experiment.h"

#include "tadlora-client.h"
#include "tadlora-compute.h"
#include "tadlora-connectivity.h"
#include "tadlora-dataset.h"
#include "tadlora-federation.h"
#include "tadlora-gossip-graph.h"
#include "tadlora-mixing.h"
#include "tadlora-network-helper.h"
#include "tadlora-partition.h"
#include "tadlora-pretrain.h"
#include "tadlora-scenario.h"
#include "tadlora-spam-assassin.h"
#include "tadlora-topology.h"
#include "tadlora-transformer.h"

#include "ns3/core-module.h"
#include "ns3/flow-monitor-helper.h"
#include "ns3/internet-module.h"
#include "ns3/netanim-module.h"
#include "ns3/network-module.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>
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

/** Metrics of one evaluated round, as a rounds.csv row. */
struct RoundRow
{
    uint64_t round;
    double simTime;
    std::string phase;
    tadlora::Accuracy accuracy;
    double meanLoss;
    tadlora::Disagreement disagreement;
    size_t activeEdges;
    double columnSumDeviation;
    uint64_t msgsSent;
    uint64_t msgsDelivered;
    uint64_t msgsRejected;
    uint64_t bytesSent;
};

constexpr char kRoundsHeader[] =
    "round,sim_time_s,phase,mean_acc,std_acc,avg_model_acc,mean_loss,consensus_A,consensus_B,"
    "cross_term,active_edges,w_colsum_dev,msgs_sent,msgs_delivered,msgs_rejected,bytes_sent";

constexpr char kNetworkHeader[] =
    "round,sim_time_s,round_time_s,active_edges,attempted_edges,confirmed_edges,one_sided_edges,"
    "msgs_sent,"
    "msgs_delivered,fragments_sent,fragments_lost,w_colsum_dev,bytes_on_air,airtime_s,"
    "mean_latency_s";

/**
 * Listens to every client's traces. When all clients have finished a round it writes the
 * round's network.csv row and, if the round is evaluated, its rounds.csv row. Rounds are
 * synchronous (TadLoraRoundBarrier: a client fires its round trace before it waits for the
 * others), so then no client has begun the next round, and the federation's factors are the
 * round's.
 * rounds.csv's message counters are cumulative from round 0; network.csv's are the round's.
 */
class Recorder
{
public:
    Recorder(const TadLoraConfig& config, tadlora::Federation& federation,
             tadlora::GossipGraph& graph, const TadLoraNetworkHelper& network, Time start,
             std::ostream& rounds, std::ostream& networkTrace)
        : m_config(config)
        , m_federation(federation)
        , m_graph(graph)
        , m_network(network)
        , m_rounds(rounds)
        , m_networkTrace(networkTrace)
        , m_wallStart(Clock::now())
        , m_previousRoundEnd(start)
    {
        m_rounds << kRoundsHeader << "\n";
        m_networkTrace << kNetworkHeader << "\n";
    }

    void Connect(Ptr<Application> app)
    {
        app->TraceConnectWithoutContext("FactorSent", MakeCallback(&Recorder::OnSent, this));
        app->TraceConnectWithoutContext("FragmentReceived",
                                        MakeCallback(&Recorder::OnFragment, this));
        app->TraceConnectWithoutContext("FactorReceived",
                                        MakeCallback(&Recorder::OnReceived, this));
        app->TraceConnectWithoutContext("FactorRejected",
                                        MakeCallback(&Recorder::OnRejected, this));
        app->TraceConnectWithoutContext("FactorMixed", MakeCallback(&Recorder::OnMixed, this));
        app->TraceConnectWithoutContext("RoundCompleted", MakeCallback(&Recorder::OnRound, this));
    }

    void WriteMessages(std::ostream& out) const
    {
        std::vector<std::pair<std::tuple<uint64_t, tadlora::Factor, uint32_t, uint32_t, uint32_t>,
                              const MessageRecord*>>
            sorted;
        for (const auto& [key, m] : m_messages)
        {
            const auto& [sender, id, receiver] = key;
            sorted.push_back({{m.round, m.factor, sender, receiver, id}, &m});
        }
        std::sort(sorted.begin(), sorted.end());
        out << "round,factor,sender,receiver,message_id,bytes,fragments,fragments_received,"
               "sent_time_s,delivered,latency_s\n";
        for (const auto& [key, m] : sorted)
        {
            const auto& [round, factor, sender, receiver, id] = key;
            out << round << "," << (factor == tadlora::Factor::A ? "A" : "B") << "," << sender
                << "," << receiver << "," << id << "," << m->bytes << "," << m->fragments << ","
                << m->fragmentsReceived << "," << m->sent.GetSeconds() << ","
                << (m->delivered ? 1 : 0) << ","
                << (m->delivered ? (m->arrived - m->sent).GetSeconds() : 0.0) << "\n";
        }
    }

    void WriteMixing(std::ostream& out) const
    {
        out << "round,factor,client,peer,weight\n";
        for (const auto& [key, weight] : m_weights)
        {
            const auto& [round, factor, client, peer] = key;
            out << round << "," << (factor == tadlora::Factor::A ? "A" : "B") << "," << client
                << "," << peer << "," << weight << "\n";
        }
    }

    const RoundRow& Last() const
    {
        return m_last;
    }

    double EvaluateSeconds() const
    {
        return m_evaluateSeconds;
    }

    /** Totals over the run, for summary.json. */
    nlohmann::json NetworkTotals() const
    {
        const TadLoraNetworkHelper::Usage usage = m_network.GetUsage();
        return {{"msgs_sent", m_last.msgsSent},
                {"msgs_delivered", m_last.msgsDelivered},
                {"msgs_rejected", m_last.msgsRejected},
                {"delivery_ratio",
                 m_last.msgsSent == 0 ? 1.0 : double(m_last.msgsDelivered) / m_last.msgsSent},
                {"bytes_sent", m_last.bytesSent},
                {"active_edges", m_activeEdges},
                {"confirmed_edges", m_confirmedEdges},
                {"one_sided_edges", m_oneSidedEdges},
                {"bytes_on_air", usage.bytes},
                {"airtime_s", usage.airtime},
                {"mean_round_time_s", m_roundTimeSum / m_config.rounds}};
    }

private:
    /** (sender, message id, receiver) */
    using MessageKey = std::tuple<uint32_t, uint32_t, uint32_t>;
    /** (round, factor, client, peer) */
    using WeightKey = std::tuple<uint64_t, tadlora::Factor, uint32_t, uint32_t>;

    struct MessageRecord
    {
        uint64_t round;
        tadlora::Factor factor;
        uint32_t bytes;
        uint32_t fragments;
        Time sent;
        uint32_t fragmentsReceived = 0;
        bool delivered = false;
        Time arrived;
    };

    /** What the clients reported of one round so far. */
    struct RoundProgress
    {
        uint32_t completed = 0;
        double lossSum = 0;
        uint64_t msgsSent = 0;
        uint64_t msgsDelivered = 0;
        uint64_t fragmentsSent = 0;
        uint64_t fragmentsReceived = 0;
        double latencySum = 0;
        std::set<tadlora::Edge> attempted; //!< links with a message sent either way
    };

    void OnSent(const TadLoraMessageEvent& e)
    {
        m_messages[{e.sender, e.messageId, e.receiver}] = MessageRecord{
            e.round, e.factor, e.bytes, e.fragments, Simulator::Now(), 0, false, Time()};
        RoundProgress& p = m_progress[e.round];
        p.attempted.insert({std::min(e.sender, e.receiver), std::max(e.sender, e.receiver)});
        ++p.msgsSent;
        p.fragmentsSent += e.fragments;
        ++m_msgsSent;
        m_bytesSent += e.bytes;
    }

    void OnFragment(uint32_t sender, uint32_t receiver, uint32_t messageId)
    {
        auto it = m_messages.find({sender, messageId, receiver});
        if (it != m_messages.end() && it->second.fragmentsReceived < it->second.fragments)
        {
            ++it->second.fragmentsReceived;
            ++m_progress[it->second.round].fragmentsReceived;
        }
    }

    void OnReceived(const TadLoraMessageEvent& e)
    {
        MessageRecord& m = m_messages.at({e.sender, e.messageId, e.receiver});
        m.delivered = true;
        m.arrived = Simulator::Now();
        RoundProgress& p = m_progress[e.round];
        ++p.msgsDelivered;
        p.latencySum += (m.arrived - m.sent).GetSeconds();
        ++m_msgsDelivered;
    }

    void OnRejected(const TadLoraMessageEvent&)
    {
        ++m_msgsRejected;
    }

    void OnMixed(const TadLoraMixEvent& e)
    {
        m_weights[{e.round, e.factor, e.client, e.client}] = e.selfWeight;
        for (const auto& [j, weight] : e.weights)
        {
            m_weights[{e.round, e.factor, e.client, j}] = weight;
        }
    }

    void OnRound(uint32_t /* client */, uint64_t round, double trainLoss)
    {
        const bool last = round + 1 == m_config.rounds;
        const bool evaluated = round % m_config.evalEvery == 0 || last;
        RoundProgress& p = m_progress[round];
        p.lossSum += trainLoss;
        if (++p.completed < m_federation.Clients())
        {
            return;
        }
        const auto mixing = RealizedMixing(round);
        double deviation = 0;
        for (const auto& [factor, matrix] : mixing)
        {
            deviation = std::max(deviation, matrix.MaxColumnSumDeviation());
        }
        WriteNetworkRow(round, p, mixing, deviation);
        if (evaluated)
        {
            WriteRow(round, p, deviation);
        }
        m_progress.erase(round);
        if (last)
        {
            // Periodic helpers such as FlowMonitor's loss check would keep the event list alive.
            Simulator::Stop();
        }
    }

    /** The realized W_t of each factor mixed in the round. */
    std::map<tadlora::Factor, tadlora::MixingMatrix> RealizedMixing(uint64_t round) const
    {
        std::map<tadlora::Factor, tadlora::MixingMatrix> w;
        const auto begin = m_weights.lower_bound({round, tadlora::Factor::A, 0, 0});
        const auto end = m_weights.lower_bound({round + 1, tadlora::Factor::A, 0, 0});
        for (auto it = begin; it != end; ++it)
        {
            const auto& [r, factor, client, peer] = it->first;
            w.try_emplace(factor, m_federation.Clients()).first->second(client, peer) = it->second;
        }
        return w;
    }

    /** @param deviation max |column sum - 1| over the round's realized W_t */
    void WriteNetworkRow(uint64_t round, const RoundProgress& p,
                         const std::map<tadlora::Factor, tadlora::MixingMatrix>& mixing,
                         double deviation)
    {
        // An edge is confirmed if both ends mixed it, one-sided if only one did.
        uint64_t confirmed = 0;
        uint64_t oneSided = 0;
        const uint32_t m = m_federation.Clients();
        for (uint32_t i = 0; i < m; ++i)
        {
            for (uint32_t j = i + 1; j < m; ++j)
            {
                bool ij = false;
                bool ji = false;
                for (const auto& [factor, w] : mixing)
                {
                    ij = ij || w(i, j) > 0;
                    ji = ji || w(j, i) > 0;
                }
                confirmed += ij && ji ? 1 : 0;
                oneSided += ij != ji ? 1 : 0;
            }
        }
        const size_t active = m_graph.Active(round).size();
        m_activeEdges += active;
        m_confirmedEdges += confirmed;
        m_oneSidedEdges += oneSided;
        const double roundTime = (Simulator::Now() - m_previousRoundEnd).GetSeconds();
        m_previousRoundEnd = Simulator::Now();
        m_roundTimeSum += roundTime;
        const TadLoraNetworkHelper::Usage usage = m_network.GetUsage();
        m_networkTrace << round << "," << Simulator::Now().GetSeconds() << "," << roundTime << ","
                       << active << "," << p.attempted.size() << "," << confirmed << "," << oneSided
                       << "," << p.msgsSent << "," << p.msgsDelivered << "," << p.fragmentsSent
                       << "," << p.fragmentsSent - p.fragmentsReceived << "," << deviation << ","
                       << usage.bytes - m_usage.bytes << "," << usage.airtime - m_usage.airtime
                       << "," << (p.msgsDelivered == 0 ? 0.0 : p.latencySum / p.msgsDelivered)
                       << "\n";
        m_usage = usage;
    }

    void WriteRow(uint64_t round, const RoundProgress& p, double deviation)
    {
        const Clock::time_point start = Clock::now();
        RoundRow row{};
        row.round = round;
        row.simTime = Simulator::Now().GetSeconds();
        row.phase = m_federation.GetMethod().Plan(round).TrainedLabel();
        row.accuracy = m_federation.Evaluate();
        row.meanLoss = p.lossSum / m_federation.Clients();
        row.disagreement = m_federation.Diagnose();
        row.activeEdges = m_graph.Active(round).size();
        row.columnSumDeviation = deviation;
        row.msgsSent = m_msgsSent;
        row.msgsDelivered = m_msgsDelivered;
        row.msgsRejected = m_msgsRejected;
        row.bytesSent = m_bytesSent;
        m_evaluateSeconds += SecondsSince(start);
        m_last = row;

        m_rounds << row.round << "," << row.simTime << "," << row.phase << "," << row.accuracy.mean
                 << "," << row.accuracy.std << "," << row.accuracy.averagedModel << ","
                 << row.meanLoss << "," << row.disagreement.consensusA << ","
                 << row.disagreement.consensusB << "," << row.disagreement.crossTerm << ","
                 << row.activeEdges << "," << row.columnSumDeviation << "," << row.msgsSent << ","
                 << row.msgsDelivered << "," << row.msgsRejected << "," << row.bytesSent << "\n";
        if (!m_config.quiet)
        {
            std::cerr << std::fixed << std::setprecision(3) << "[tadlora] round " << round + 1
                      << "/" << m_config.rounds << "  acc " << row.accuracy.mean << " ± "
                      << row.accuracy.std << "  loss " << row.meanLoss << "  delivered "
                      << row.msgsDelivered << "/" << row.msgsSent << "  sim "
                      << std::setprecision(1) << row.simTime << " s  wall "
                      << SecondsSince(m_wallStart) << " s" << std::defaultfloat << std::endl;
        }
    }

    const TadLoraConfig& m_config;
    tadlora::Federation& m_federation;
    tadlora::GossipGraph& m_graph;
    const TadLoraNetworkHelper& m_network;
    std::ostream& m_rounds;
    std::ostream& m_networkTrace;
    Clock::time_point m_wallStart;
    Time m_previousRoundEnd; //!< when the last client finished the previous round
    std::map<MessageKey, MessageRecord> m_messages;
    std::map<WeightKey, double> m_weights; //!< realized W_t[client, peer] by round and factor
    std::map<uint64_t, RoundProgress> m_progress;
    TadLoraNetworkHelper::Usage m_usage; //!< at the end of the previous round
    uint64_t m_msgsSent = 0;
    uint64_t m_msgsDelivered = 0;
    uint64_t m_msgsRejected = 0;
    uint64_t m_bytesSent = 0;
    uint64_t m_activeEdges = 0;
    uint64_t m_confirmedEdges = 0;
    uint64_t m_oneSidedEdges = 0;
    double m_roundTimeSum = 0;
    double m_evaluateSeconds = 0;
    RoundRow m_last{};
};

/** Removes a staging directory unless the run got to move its files into place. */
class StagingDir
{
public:
    explicit StagingDir(const fs::path& out)
        : m_out(out)
        , m_path(out.string() + ".partial-" + std::to_string(getpid()))
    {
        std::error_code ec;
        if (fs::exists(out, ec) && !fs::is_directory(out, ec))
        {
            throw std::invalid_argument("--out: '" + out.string() +
                                        "' exists and is not a directory");
        }
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

    fs::path File(const std::string& name) const
    {
        return m_path / name;
    }

    /** Move every staged file into the output directory. */
    void Commit()
    {
        fs::create_directories(m_out);
        for (const auto& entry : fs::directory_iterator(m_path))
        {
            fs::rename(entry.path(), m_out / entry.path().filename());
        }
    }

private:
    fs::path m_out;
    fs::path m_path;
};

tadlora::TaskData
LoadTask(const TadLoraConfig& c)
{
    if (c.task == "synthetic")
    {
        // A fixed data set, like Fashion-MNIST: the run's seed varies the partition and the
        // clients' batches, not the task, so one pretrained base serves every seed.
        return tadlora::MakeSynthetic(7, 6000, c.testSamples == 0 ? 2000 : c.testSamples, 10);
    }
    try
    {
        if (c.task == "spam-assassin")
        {
            return tadlora::LoadSpamAssassin(
                c.dataDir.empty() ? tadlora::DefaultSpamAssassinDir() : c.dataDir, c.testSamples);
        }
        return ForOption("--patch-size",
                         [&c]
                         {
                             return tadlora::LoadFashionMnist(
                                 c.dataDir.empty() ? tadlora::kFashionMnistDir : c.dataDir, 0,
                                 c.testSamples, c.patchSize);
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
    return ForOption("--topology",
                     [&c] { return tadlora::MakeBaseGraph(c.topology, c.clients, c.seed); });
}

tadlora::Connectivity
ConnectivityOf(const TadLoraConfig& c, const std::vector<tadlora::Edge>& baseEdges)
{
    return ForOption("--link-prob",
                     [&] { return tadlora::MixingConnectivity(baseEdges, c.clients, c.linkProb); });
}

std::string
DescribeConnectivity(const TadLoraConfig& c, const tadlora::Connectivity& connectivity)
{
    std::ostringstream text;
    text << "rho = " << std::setprecision(6) << connectivity.rho << " ("
         << (connectivity.exact ? "exact, " : "Monte Carlo, ") << connectivity.samples
         << " edge sets; Metropolis-Hastings, p = " << c.linkProb << ", " << c.topology
         << " graph of " << c.clients
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

} // namespace

std::string
TadLoraDescribeConnectivity(const TadLoraConfig& config)
{
    return DescribeConnectivity(config, ConnectivityOf(config, BaseGraphOf(config)));
}

TadLoraExperiment::TadLoraExperiment(const TadLoraConfig& config)
    : m_config(config)
{
}

void
TadLoraExperiment::Run()
{
    const Clock::time_point start = Clock::now();
    const std::vector<tadlora::Edge> baseEdges = BaseGraphOf(m_config);
    const tadlora::Connectivity connectivity = ConnectivityOf(m_config, baseEdges);
    const uint32_t autoInterval = tadlora::AutoSwitchInterval(connectivity.rho);
    if (m_config.switchInterval == kAutoSwitchInterval)
    {
        m_config.switchInterval = autoInterval; // the outputs record the T that ran
    }
    const TadLoraConfig& c = m_config;
    auto progress = [&c](const std::string& line)
    {
        if (!c.quiet)
        {
            std::cerr << "[tadlora] " << line << std::endl;
        }
    };

    // Everything that can be checked is checked before anything runs or is written.
    const tadlora::Method method =
        ForOption("--method", [&c] { return tadlora::Method(c.method, c.switchInterval); });
    TadLoraNetworkHelper::Check(c);
    if (c.modelWidth % c.modelHeads != 0)
    {
        throw std::invalid_argument("--model-heads: " + std::to_string(c.modelHeads) +
                                    " does not divide --model-width " +
                                    std::to_string(c.modelWidth));
    }
    if (c.task != "fashion-mnist" && c.patchSize != tadlora::kDefaultPatchSide)
    {
        throw std::invalid_argument("--patch-size: only image tasks (fashion-mnist) are cut "
                                    "into patches, not " + c.task);
    }
    StagingDir staging(c.out);

    tadlora::ConfigureCompute(c.threads);
    const Clock::time_point dataStart = Clock::now();
    auto task = std::make_shared<tadlora::TaskData>(LoadTask(c));
    tadlora::PretrainConfig recipe;
    recipe.objective = c.pretrain;
    if (c.pretrainSamples == 0)
    {
        // the outputs record the split's size that ran
        m_config.pretrainSamples = tadlora::DefaultPretrainSamples(task->train.inputs.size(0));
    }
    recipe.samples = c.pretrainSamples;
    recipe.steps = c.pretrainSteps;
    const tadlora::Dataset pretrainData = ForOption(
        "--pretrain-samples", [&] { return tadlora::TakePretrainingData(task->train, recipe); });
    const std::vector<std::vector<uint32_t>> shards = ForOption(
        "--partition",
        [&]
        {
            return tadlora::Partition(tadlora::LabelsOf(task->train), task->train.numClasses,
                                      c.clients, c.partition, c.seed);
        });
    const double dataSeconds = SecondsSince(dataStart);

    const Clock::time_point pretrainStart = Clock::now();
    tadlora::ModelConfig modelConfig = tadlora::ModelConfigFor(*task);
    modelConfig.dModel = c.modelWidth;
    modelConfig.heads = c.modelHeads;
    modelConfig.layers = c.modelLayers;
    modelConfig.ffn = 2 * int64_t{c.modelWidth};
    modelConfig.loraTargets =
        ForOption("--lora-targets", [&c] { return tadlora::ParseLoraTargets(c.loraTargets); });
    modelConfig.rank = c.rank;
    modelConfig.alpha = c.alpha;
    tadlora::TransformerClassifier model = tadlora::PretrainedModel(
        modelConfig, pretrainData, task->name, recipe,
        c.cacheDir.empty() ? tadlora::DefaultCacheDir() : c.cacheDir,
        [&progress, &c](int64_t step, int64_t steps, double loss)
        {
            progress("pretraining the base: step " + std::to_string(step) + "/" +
                     std::to_string(steps) + ", " + c.pretrain + " loss " + std::to_string(loss));
        });
    const double pretrainSeconds = SecondsSince(pretrainStart);

    tadlora::Federation federation(TadLoraFederationConfig(c), model.ptr(), task, shards);
    const Clock::time_point baseStart = Clock::now();
    const double baseAccuracy = federation.BaseAccuracy();
    const double baseSeconds = SecondsSince(baseStart); // an evaluation, counted as one
    progress("frozen base accuracy " + std::to_string(baseAccuracy) + "; " +
             std::to_string(c.clients) + " clients, " + method.Name() + ", " +
             std::to_string(c.rounds) + " rounds; " + DescribeConnectivity(c, connectivity));
    TadLoraScenario scenario(c, federation, baseEdges);
    TadLoraNetworkHelper& network = scenario.Network();
    ApplicationContainer& apps = scenario.Clients();
    progress(network.Describe());
    if (c.pcap)
    {
        network.EnablePcap(staging.File("tadlora").string());
    }
    FlowMonitorHelper flowHelper;
    if (c.flowMonitor)
    {
        flowHelper.InstallAll();
    }
    // NetAnim: where the nodes are, once a second; packets are left out to keep it cheap.
    std::unique_ptr<AnimationInterface> animation;
    if (c.netanim)
    {
        animation = std::make_unique<AnimationInterface>(staging.File("netanim.xml").string());
        animation->SkipPacketTracing();
        animation->SetMobilityPollInterval(Seconds(1));
    }
    TimeValue firstRound;
    apps.Get(0)->GetAttribute("Warmup", firstRound);

    std::ofstream rounds(staging.File("rounds.csv"));
    rounds << std::setprecision(9);
    std::ofstream networkTrace(staging.File("network.csv"));
    networkTrace << std::setprecision(9);
    Recorder recorder(c, federation, scenario.Graph(), network, firstRound.Get(), rounds,
                      networkTrace);
    for (uint32_t i = 0; i < apps.GetN(); ++i)
    {
        recorder.Connect(apps.Get(i));
    }
    apps.Start(Seconds(0));
    const double setupSeconds =
        SecondsSince(start) - dataSeconds - pretrainSeconds - baseSeconds;

    const Clock::time_point simStart = Clock::now();
    Simulator::Run();
    const double simSeconds = SecondsSince(simStart);
    const Clock::time_point simEnd = Clock::now();
    const double simTime = Simulator::Now().GetSeconds();
    if (c.flowMonitor)
    {
        flowHelper.SerializeToXmlFile(staging.File("flowmon.xml").string(), false, false);
    }
    animation.reset(); // closes netanim.xml
    Simulator::Destroy();

    std::ofstream messages(staging.File("messages.csv"));
    messages << std::setprecision(9);
    recorder.WriteMessages(messages);
    std::ofstream mixing(staging.File("mixing.csv"));
    mixing << std::setprecision(17);
    recorder.WriteMixing(mixing);
    std::ofstream(staging.File("config.toml")) << TadLoraConfigToToml(c);

    const RoundRow& last = recorder.Last();
    const double trainSeconds = federation.TrainSeconds();
    const double exchangeSeconds = federation.ExchangeSeconds();
    nlohmann::json summary;
    summary["config"] = ConfigJson(c);
    summary["base_acc"] = baseAccuracy;
    summary["rho"] = {{"value", connectivity.rho},
                      {"method", connectivity.Method()},
                      {"samples", connectivity.samples},
                      {"auto_switch_interval", autoInterval}};
    summary["final"] = {{"round", last.round},
                        {"mean_acc", last.accuracy.mean},
                        {"std_acc", last.accuracy.std},
                        {"avg_model_acc", last.accuracy.averagedModel},
                        {"mean_loss", last.meanLoss},
                        {"consensus_A", last.disagreement.consensusA},
                        {"consensus_B", last.disagreement.consensusB},
                        {"cross_term", last.disagreement.crossTerm}};
    summary["network"] = recorder.NetworkTotals();
    summary["network"]["model"] = network.Describe();
    summary["sim_time_s"] = simTime;
    // Inside the event loop: training, evaluation, serializing and mixing, and the rest is
    // ns-3's (events, sockets, links or Wi-Fi, the clients' protocol, the traces).
    summary["wall_breakdown_s"] = {
        {"data", dataSeconds},
        {"pretrain", pretrainSeconds},
        {"setup", setupSeconds},
        {"train", trainSeconds},
        {"evaluate", baseSeconds + recorder.EvaluateSeconds()},
        {"exchange", exchangeSeconds},
        {"ns3", simSeconds - trainSeconds - recorder.EvaluateSeconds() - exchangeSeconds},
        {"output", SecondsSince(simEnd)}};
    summary["wall_time_s"] = SecondsSince(start);
    std::ofstream(staging.File("summary.json")) << summary.dump(2) << "\n";
    rounds.close();
    networkTrace.close();
    messages.close();
    mixing.close();
    if (!rounds || !networkTrace || !messages || !mixing)
    {
        throw std::runtime_error("--out: could not write the traces");
    }
    staging.Commit();
    progress("done: mean accuracy " + std::to_string(last.accuracy.mean) + " (base " +
             std::to_string(baseAccuracy) + "), outputs in " + c.out);
}

} // namespace ns3
