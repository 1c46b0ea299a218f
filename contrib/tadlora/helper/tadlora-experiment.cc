// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-experiment.h"

#include "tadlora-client-helper.h"
#include "tadlora-client.h"
#include "tadlora-dataset.h"
#include "tadlora-federation.h"
#include "tadlora-gossip-graph.h"
#include "tadlora-mixing.h"
#include "tadlora-partition.h"
#include "tadlora-pretrain.h"
#include "tadlora-topology.h"
#include "tadlora-transformer.h"

#include "ns3/core-module.h"
#include "ns3/error-model.h"
#include "ns3/flow-monitor-helper.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>
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

/**
 * Listens to every client's traces; when all clients have finished a round, evaluates it (if
 * due) and writes its row. Message counters are cumulative from round 0.
 */
class Recorder
{
public:
    Recorder(const TadLoraConfig& config, tadlora::Federation& federation,
             tadlora::GossipGraph& graph, std::ostream& rounds)
        : m_config(config)
        , m_federation(federation)
        , m_graph(graph)
        , m_rounds(rounds)
        , m_start(Clock::now())
    {
        m_rounds << kRoundsHeader << "\n";
    }

    void Connect(Ptr<Application> app)
    {
        app->TraceConnectWithoutContext("FactorSent", MakeCallback(&Recorder::OnSent, this));
        app->TraceConnectWithoutContext("FactorReceived",
                                        MakeCallback(&Recorder::OnReceived, this));
        app->TraceConnectWithoutContext("FactorRejected",
                                        MakeCallback(&Recorder::OnRejected, this));
        app->TraceConnectWithoutContext("FactorMixed", MakeCallback(&Recorder::OnMixed, this));
        app->TraceConnectWithoutContext("RoundCompleted", MakeCallback(&Recorder::OnRound, this));
    }

    void WriteMessages(std::ostream& out) const
    {
        out << "round,factor,sender,receiver,bytes,fragments,sent_time_s,delivered,latency_s\n";
        for (const auto& [key, m] : m_messages)
        {
            const auto& [round, factor, sender, receiver] = key;
            out << round << "," << (factor == tadlora::Factor::A ? "A" : "B") << "," << sender
                << "," << receiver << "," << m.bytes << "," << m.fragments << ","
                << m.sent.GetSeconds() << "," << (m.delivered ? 1 : 0) << ","
                << (m.delivered ? (m.arrived - m.sent).GetSeconds() : 0.0) << "\n";
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

private:
    using MessageKey = std::tuple<uint64_t, tadlora::Factor, uint32_t, uint32_t>;

    struct MessageRecord
    {
        uint32_t bytes;
        uint32_t fragments;
        Time sent;
        bool delivered = false;
        Time arrived;
    };

    void OnSent(const TadLoraMessageEvent& e)
    {
        m_messages[{e.round, e.factor, e.sender, e.receiver}] =
            MessageRecord{e.bytes, e.fragments, Simulator::Now(), false, Time()};
        ++m_msgsSent;
        m_bytesSent += e.bytes;
    }

    void OnReceived(const TadLoraMessageEvent& e)
    {
        MessageRecord& m = m_messages.at({e.round, e.factor, e.sender, e.receiver});
        m.delivered = true;
        m.arrived = Simulator::Now();
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

    void OnRound(uint32_t, uint64_t round, double trainLoss)
    {
        m_lossSum += trainLoss;
        if (++m_completed < m_federation.Clients())
        {
            return;
        }
        const bool last = round + 1 == m_config.rounds;
        if (round % m_config.evalEvery == 0 || last)
        {
            WriteRow(round);
        }
        if (last)
        {
            // Periodic helpers such as FlowMonitor's loss check would keep the event list alive.
            Simulator::Stop();
        }
        m_completed = 0;
        m_lossSum = 0;
    }

    /** max |column sum - 1| over the realized W_t of each factor mixed in the round. */
    double ColumnSumDeviation(uint64_t round) const
    {
        std::map<tadlora::Factor, tadlora::MixingMatrix> w;
        const auto begin = m_weights.lower_bound({round, tadlora::Factor::A, 0, 0});
        const auto end = m_weights.lower_bound({round + 1, tadlora::Factor::A, 0, 0});
        for (auto it = begin; it != end; ++it)
        {
            const auto& [r, factor, client, peer] = it->first;
            w.try_emplace(factor, m_federation.Clients()).first->second(client, peer) = it->second;
        }
        double deviation = 0;
        for (const auto& [factor, matrix] : w)
        {
            deviation = std::max(deviation, matrix.MaxColumnSumDeviation());
        }
        return deviation;
    }

    void WriteRow(uint64_t round)
    {
        const Clock::time_point start = Clock::now();
        RoundRow row{};
        row.round = round;
        row.simTime = Simulator::Now().GetSeconds();
        row.phase = m_federation.GetMethod().Plan(round).TrainedLabel();
        row.accuracy = m_federation.Evaluate();
        row.meanLoss = m_lossSum / m_federation.Clients();
        row.disagreement = m_federation.Diagnose();
        row.activeEdges = m_graph.Active(round).size();
        row.columnSumDeviation = ColumnSumDeviation(round);
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
                      << std::setprecision(1) << row.simTime << " s  wall " << SecondsSince(m_start)
                      << " s" << std::defaultfloat << std::endl;
        }
    }

    const TadLoraConfig& m_config;
    tadlora::Federation& m_federation;
    tadlora::GossipGraph& m_graph;
    std::ostream& m_rounds;
    Clock::time_point m_start;
    std::map<MessageKey, MessageRecord> m_messages;
    std::map<MessageKey, double> m_weights; //!< realized W_t[client, peer] by round and factor
    uint32_t m_completed = 0;
    double m_lossSum = 0;
    uint64_t m_msgsSent = 0;
    uint64_t m_msgsDelivered = 0;
    uint64_t m_msgsRejected = 0;
    uint64_t m_bytesSent = 0;
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
    const std::string dir = c.dataDir.empty() ? tadlora::kFashionMnistDir : c.dataDir;
    try
    {
        return tadlora::LoadFashionMnist(dir, 0, c.testSamples);
    }
    catch (const std::runtime_error& e)
    {
        throw std::invalid_argument(std::string("--data-dir: ") + e.what());
    }
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

TadLoraExperiment::TadLoraExperiment(const TadLoraConfig& config)
    : m_config(config)
{
}

void
TadLoraExperiment::Run()
{
    const TadLoraConfig& c = m_config;
    const Clock::time_point start = Clock::now();
    auto progress = [&c](const std::string& line)
    {
        if (!c.quiet)
        {
            std::cerr << "[tadlora] " << line << std::endl;
        }
    };

    // Everything that can be checked is checked before anything runs or is written.
    const tadlora::Method method(c.method, c.switchInterval);
    const std::vector<tadlora::Edge> baseEdges =
        tadlora::MakeBaseGraph(c.topology, c.clients, c.seed);
    if (DataRateValue rate; !rate.DeserializeFromString(c.dataRate, MakeDataRateChecker()))
    {
        throw std::invalid_argument("--data-rate: '" + c.dataRate +
                                    "' is not a data rate (e.g. 100Mbps, 54Mb/s, 1Gbps)");
    }
    StagingDir staging(c.out);

    torch::set_num_threads(c.threads != 0 ? c.threads
                                          : std::max(1u, std::thread::hardware_concurrency()));
    const Clock::time_point dataStart = Clock::now();
    auto task = std::make_shared<tadlora::TaskData>(LoadTask(c));
    const std::vector<std::vector<uint32_t>> shards = tadlora::Partition(
        tadlora::LabelsOf(task->train), task->train.numClasses, c.clients, c.partition, c.seed);
    const double dataSeconds = SecondsSince(dataStart);

    const Clock::time_point pretrainStart = Clock::now();
    tadlora::ModelConfig modelConfig;
    modelConfig.tokens = task->tokens;
    modelConfig.tokenDim = task->tokenDim;
    modelConfig.classes = task->train.numClasses;
    modelConfig.rank = c.rank;
    modelConfig.alpha = c.alpha;
    tadlora::PretrainConfig recipe;
    recipe.steps = c.pretrainSteps;
    tadlora::TransformerClassifier model = tadlora::PretrainedModel(
        modelConfig, task->train, task->name, recipe,
        c.cacheDir.empty() ? tadlora::DefaultCacheDir() : c.cacheDir,
        [&progress](int64_t step, int64_t steps, double loss)
        {
            progress("pretraining the base: step " + std::to_string(step) + "/" +
                     std::to_string(steps) + ", reconstruction loss " + std::to_string(loss));
        });
    const double pretrainSeconds = SecondsSince(pretrainStart);

    tadlora::FederationConfig fc;
    fc.method = c.method;
    fc.switchInterval = c.switchInterval;
    fc.localSteps = c.localSteps;
    fc.batchSize = c.batchSize;
    fc.lr = c.lr;
    fc.weightDecay = c.weightDecay;
    fc.keepOptimizerState = c.keepOptimizerState;
    fc.seed = c.seed;
    tadlora::Federation federation(fc, model.ptr(), task, shards);
    const double baseAccuracy = federation.BaseAccuracy();
    progress("frozen base accuracy " + std::to_string(baseAccuracy) + "; " +
             std::to_string(c.clients) + " clients, " + method.Name() + ", " +
             std::to_string(c.rounds) + " rounds");
    auto graph = std::make_shared<tadlora::GossipGraph>(c.clients, baseEdges, c.linkProb, c.seed);

    // The network: one point-to-point link per base edge, each a /30 of its own.
    Ipv4AddressGenerator::Reset(); // a process may run several experiments
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(c.seed);
    NodeContainer nodes;
    nodes.Create(c.clients);
    InternetStackHelper internet;
    internet.Install(nodes);
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue(c.dataRate));
    p2p.SetChannelAttribute("Delay", TimeValue(Seconds(c.linkDelayMs / 1000)));
    Ipv4AddressHelper addresses("10.0.0.0", "255.255.255.252");
    TadLoraClientHelper clientHelper(&federation, graph);
    clientHelper.SetAttribute("Rounds", UintegerValue(c.rounds));
    clientHelper.SetAttribute("StepTime", TimeValue(Seconds(c.stepTimeS)));
    clientHelper.SetAttribute("RoundDeadline", TimeValue(Seconds(c.roundDeadlineS)));
    clientHelper.SetAttribute("MaxPayloadSize", UintegerValue(c.fragmentSize));
    ApplicationContainer apps = clientHelper.Install(nodes);
    UintegerValue port;
    apps.Get(0)->GetAttribute("Port", port);
    int64_t stream = 0;
    for (const tadlora::Edge& e : baseEdges)
    {
        NetDeviceContainer devices = p2p.Install(nodes.Get(e.u), nodes.Get(e.v));
        if (c.linkLoss > 0)
        {
            for (uint32_t d = 0; d < devices.GetN(); ++d)
            {
                Ptr<RateErrorModel> loss = CreateObject<RateErrorModel>();
                loss->SetAttribute("ErrorRate", DoubleValue(c.linkLoss));
                loss->SetAttribute("ErrorUnit", StringValue("ERROR_UNIT_PACKET"));
                stream += loss->AssignStreams(stream);
                devices.Get(d)->SetAttribute("ReceiveErrorModel", PointerValue(loss));
            }
        }
        Ipv4InterfaceContainer interfaces = addresses.Assign(devices);
        addresses.NewNetwork();
        DynamicCast<TadLoraClient>(apps.Get(e.u))
            ->AddPeer(e.v, InetSocketAddress(interfaces.GetAddress(1), port.Get()));
        DynamicCast<TadLoraClient>(apps.Get(e.v))
            ->AddPeer(e.u, InetSocketAddress(interfaces.GetAddress(0), port.Get()));
    }
    if (c.pcap)
    {
        p2p.EnablePcapAll(staging.File("tadlora").string());
    }
    FlowMonitorHelper flowHelper;
    if (c.flowMonitor)
    {
        flowHelper.InstallAll();
    }

    std::ofstream rounds(staging.File("rounds.csv"));
    rounds << std::setprecision(9);
    Recorder recorder(c, federation, *graph, rounds);
    for (uint32_t i = 0; i < apps.GetN(); ++i)
    {
        recorder.Connect(apps.Get(i));
    }
    apps.Start(Seconds(0));
    const double setupSeconds = SecondsSince(start) - dataSeconds - pretrainSeconds;

    const Clock::time_point simStart = Clock::now();
    Simulator::Run();
    const double simSeconds = SecondsSince(simStart);
    const double simTime = Simulator::Now().GetSeconds();
    if (c.flowMonitor)
    {
        flowHelper.SerializeToXmlFile(staging.File("flowmon.xml").string(), false, false);
    }
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
    nlohmann::json summary;
    summary["config"] = ConfigJson(c);
    summary["base_acc"] = baseAccuracy;
    summary["final"] = {{"round", last.round},
                        {"mean_acc", last.accuracy.mean},
                        {"std_acc", last.accuracy.std},
                        {"avg_model_acc", last.accuracy.averagedModel},
                        {"mean_loss", last.meanLoss},
                        {"consensus_A", last.disagreement.consensusA},
                        {"consensus_B", last.disagreement.consensusB},
                        {"cross_term", last.disagreement.crossTerm}};
    summary["network"] = {
        {"msgs_sent", last.msgsSent},
        {"msgs_delivered", last.msgsDelivered},
        {"msgs_rejected", last.msgsRejected},
        {"delivery_ratio", last.msgsSent == 0 ? 1.0 : double(last.msgsDelivered) / last.msgsSent},
        {"bytes_sent", last.bytesSent}};
    summary["sim_time_s"] = simTime;
    summary["wall_time_s"] = SecondsSince(start);
    summary["wall_breakdown_s"] = {
        {"data", dataSeconds},
        {"pretrain", pretrainSeconds},
        {"setup", setupSeconds},
        {"train", trainSeconds},
        {"evaluate", recorder.EvaluateSeconds()},
        {"network_and_mixing", simSeconds - trainSeconds - recorder.EvaluateSeconds()}};
    std::ofstream(staging.File("summary.json")) << summary.dump(2) << "\n";
    rounds.close();
    messages.close();
    mixing.close();
    if (!rounds || !messages || !mixing)
    {
        throw std::runtime_error("--out: could not write the traces");
    }
    staging.Commit();
    progress("done: mean accuracy " + std::to_string(last.accuracy.mean) + " (base " +
             std::to_string(baseAccuracy) + "), outputs in " + c.out);
}

} // namespace ns3
