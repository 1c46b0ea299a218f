// SPDX-License-Identifier: GPL-2.0-only
// Whole runs through ns-3: clients on nodes, factors as fragmented UDP over point-to-point links.

#include "tadlora-device-profile.h"
#include "tadlora-experiment.h"
#include "tadlora-mixing.h"
#include "tadlora-p2p-network-helper.h"
#include "tadlora-test-task.h"
#include "tadlora-topology.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace fs = std::filesystem;
using namespace tadlora;
using tadlora::test::ReadCsv;
using tadlora::test::RealizedMixing;

namespace
{

ns3::TadLoraConfig
ShortRun(const std::string& name)
{
    ns3::TadLoraConfig c;
    c.learning.task = ns3::TadLoraTask::Synthetic;
    c.run.clients = 6;
    c.run.rounds = 8;
    c.learning.localSteps = 5;
    c.learning.lr = 1e-2;
    c.exchange.linkProb = 0.5;
    c.learning.switchInterval = 2;
    c.run.evalEvery = 4;
    c.learning.testSamples = 500;
    c.learning.pretrain =
        "masked"; // a random frozen head: the base scores near chance, so learning shows
    c.learning.pretrainSteps = test::kPretrainSteps;
    c.learning.cacheDir = test::CacheDir();
    c.run.quiet = true;
    c.run.out = (fs::path(test::TempDir()) / name).string();
    return c;
}

} // namespace

TEST(Simulation, ShortRunThroughNs3Learns)
{
    ns3::TadLoraConfig c = ShortRun("learns");
    c.run.rounds = 12;
    c.learning.localSteps = 10;
    c.learning.partition = "iid";
    ns3::TadLoraExperiment(c).Run();
    const auto summary = nlohmann::json::parse(test::Slurp(fs::path(c.run.out) / "summary.json"));
    const double base = summary["base_acc"];
    const double final = summary["final"]["mean_acc"];
    EXPECT_GT(final, base + 0.25) << "base " << base << " final " << final;
    EXPECT_EQ(summary["final"]["round"], 11);
    EXPECT_EQ(summary["network"]["delivery_ratio"], 1.0);
    const auto rounds = ReadCsv(fs::path(c.run.out) / "rounds.csv");
    ASSERT_EQ(rounds.size(), 4u); // rounds 0, 4, 8 and the last, 11
    EXPECT_EQ(rounds.back().at("round"), "11");
    EXPECT_GT(std::stod(rounds.back().at("sim_time_s")),
              std::stod(rounds.front().at("sim_time_s")));
}

TEST(Simulation, SameSeedGivesByteIdenticalTraces)
{
    test::ExpectSameSeedSameTraces(ShortRun("seed"));
}

TEST(Simulation, LosslessLinksRealizeTheMetropolisHastingsMatrixOfTheRound)
{
    const ns3::TadLoraConfig c = ShortRun("lossless");
    ns3::TadLoraExperiment(c).Run();
    const auto base = MakeBaseGraph(c.exchange.topology, c.run.clients, c.run.seed);
    const auto realized = RealizedMixing(c.run.out, c.run.clients);
    ASSERT_EQ(realized.size(), 2u * c.run.rounds); // tad-lora mixes A and B every round
    for (const auto& [key, w] : realized)
    {
        const MixingMatrix expected = MetropolisHastings(
            c.run.clients, DrawActiveEdges(base, c.exchange.linkProb, c.run.seed, key.first));
        for (uint32_t i = 0; i < c.run.clients; ++i)
        {
            for (uint32_t j = 0; j < c.run.clients; ++j)
            {
                ASSERT_NEAR(w(i, j), expected(i, j), 1e-15)
                    << "round " << key.first << " " << key.second << " (" << i << "," << j << ")";
            }
        }
    }
    for (const auto& row : ReadCsv(fs::path(c.run.out) / "rounds.csv"))
    {
        EXPECT_LT(std::stod(row.at("w_colsum_dev")), 1e-12);
        EXPECT_EQ(row.at("msgs_sent"), row.at("msgs_delivered"));
    }
}

TEST(Simulation, DroppedMessagesShowInTheTraceAndInTheRealizedMatrix)
{
    ns3::TadLoraConfig c = ShortRun("lossy");
    c.p2p.linkLoss = 0.1;
    ns3::TadLoraExperiment(c).Run();
    const auto realized = RealizedMixing(c.run.out, c.run.clients);
    uint32_t dropped = 0;
    uint32_t mixed = 0;
    for (const auto& m : ReadCsv(fs::path(c.run.out) / "messages.csv"))
    {
        const MixingMatrix& w = realized.at({std::stoull(m.at("round")), m.at("factor")});
        const uint32_t sender = std::stoul(m.at("sender"));
        const uint32_t receiver = std::stoul(m.at("receiver"));
        if (m.at("delivered") == "0")
        {
            ++dropped;
            EXPECT_EQ(w(receiver, sender), 0.0); // its weight stayed with the receiver
        }
        else if (w(receiver, sender) > 0)
        {
            ++mixed; // delivered, acknowledged and confirmed both ways
        }
    }
    EXPECT_GT(dropped, 0u);
    EXPECT_GT(mixed, 0u);
    double worst = 0;
    for (const auto& [key, w] : realized)
    {
        for (uint32_t i = 0; i < c.run.clients; ++i)
        {
            EXPECT_NEAR(w.RowSum(i), 1.0, 1e-12);
        }
        worst = std::max(worst, w.MaxColumnSumDeviation());
    }
    EXPECT_GT(worst, 0.0);
    const auto summary = nlohmann::json::parse(test::Slurp(fs::path(c.run.out) / "summary.json"));
    EXPECT_LT(summary["network"]["delivery_ratio"].get<double>(), 1.0);
}

TEST(Simulation, OptionalPcapAndFlowMonitorOutputsAreWrittenAndTheRunEnds)
{
    ns3::TadLoraConfig c = ShortRun("captures");
    c.run.rounds = 2;
    c.run.pcap = true;
    c.run.flowMonitor = true;
    ns3::TadLoraExperiment(c).Run();
    EXPECT_NE(test::Slurp(fs::path(c.run.out) / "flowmon.xml").find("<FlowMonitor>"),
              std::string::npos);
    uint32_t pcaps = 0;
    uint32_t withPackets = 0; // a link never active in the run has only the 24-byte header
    for (const auto& entry : fs::directory_iterator(c.run.out))
    {
        if (entry.path().extension() == ".pcap")
        {
            ++pcaps;
            withPackets += fs::file_size(entry.path()) > 24;
        }
    }
    EXPECT_EQ(pcaps, 2 * MakeBaseGraph(c.exchange.topology, c.run.clients, c.run.seed).size());
    EXPECT_GT(withPackets, 0u);
}

TEST(Simulation, TransportsAndVirtualPayloadsChangeTheTrafficNotTheLearning)
{
    const ns3::TadLoraConfig udp = ShortRun("udp");
    ns3::TadLoraConfig tcp = ShortRun("tcp");
    tcp.exchange.transport = ns3::TadLoraTransportKind::Tcp;
    ns3::TadLoraConfig padded = ShortRun("padded");
    padded.exchange.virtualPayloadBytes = 100000;
    for (const auto& c : {udp, tcp, padded})
    {
        ns3::TadLoraExperiment(c).Run();
    }
    // Lossless links deliver every factor whatever carries it: the same mixing, the same model.
    const std::string mixing = test::Slurp(fs::path(udp.run.out) / "mixing.csv");
    EXPECT_EQ(mixing, test::Slurp(fs::path(tcp.run.out) / "mixing.csv"));
    EXPECT_EQ(mixing, test::Slurp(fs::path(padded.run.out) / "mixing.csv"));
    const auto reference = ReadCsv(fs::path(udp.run.out) / "rounds.csv");
    for (const auto& c : {tcp, padded})
    {
        const auto rows = ReadCsv(fs::path(c.run.out) / "rounds.csv");
        ASSERT_EQ(rows.size(), reference.size());
        for (size_t r = 0; r < rows.size(); ++r)
        {
            EXPECT_EQ(rows[r].at("mean_acc"), reference[r].at("mean_acc")) << c.run.out;
            EXPECT_EQ(rows[r].at("consensus_B"), reference[r].at("consensus_B")) << c.run.out;
        }
    }
    // A padded message is as long on the wire as asked, and takes as many fragments.
    const uint32_t chunk = padded.exchange.fragmentSize - 31;
    for (const auto& m : ReadCsv(fs::path(padded.run.out) / "messages.csv"))
    {
        EXPECT_EQ(m.at("bytes"), "100000");
        EXPECT_EQ(std::stoul(m.at("fragments")), (100000 + chunk - 1) / chunk);
    }
    const auto summary = [](const ns3::TadLoraConfig& c)
    { return nlohmann::json::parse(test::Slurp(fs::path(c.run.out) / "summary.json")); };
    EXPECT_GT(summary(padded)["network"]["bytes_on_air"].get<double>(),
              10 * summary(udp)["network"]["bytes_on_air"].get<double>());
    // Timing follows the network: bigger messages make longer rounds.
    EXPECT_GT(summary(padded)["sim_time_s"].get<double>(),
              summary(udp)["sim_time_s"].get<double>());
}

namespace
{

/** A run that learns clearly (as ShortRunThroughNs3Learns), with its faults set by `faults`. */
ns3::TadLoraConfig
FaultyRun(const std::string& name, const ns3::TadLoraFaultOptions& faults)
{
    ns3::TadLoraConfig c = ShortRun(name);
    c.run.rounds = 12;
    c.learning.localSteps = 10;
    c.learning.partition = "iid";
    c.faults = faults;
    return c;
}

/** Every round's mean accuracy and disagreement are finite; @return the run's summary */
nlohmann::json
ExpectFinite(const ns3::TadLoraConfig& c)
{
    for (const auto& row : ReadCsv(fs::path(c.run.out) / "rounds.csv"))
    {
        for (const char* column : {"mean_acc", "avg_model_acc", "consensus_A", "consensus_B"})
        {
            EXPECT_TRUE(std::isfinite(std::stod(row.at(column))))
                << column << " in round " << row.at("round");
        }
    }
    return nlohmann::json::parse(test::Slurp(fs::path(c.run.out) / "summary.json"));
}

/** @return messages.csv's refused rows; each one's weight stayed with its receiver */
std::vector<std::map<std::string, std::string>>
ExpectRefusedNeverMixed(const ns3::TadLoraConfig& c)
{
    const auto realized = RealizedMixing(c.run.out, c.run.clients);
    std::vector<std::map<std::string, std::string>> refused;
    for (const auto& m : ReadCsv(fs::path(c.run.out) / "messages.csv"))
    {
        if (m.at("rejected").empty())
        {
            continue;
        }
        EXPECT_EQ(m.at("delivered"), "0");
        const auto& w = realized.at({std::stoull(m.at("round")), m.at("factor")});
        EXPECT_EQ(w(std::stoul(m.at("receiver")), std::stoul(m.at("sender"))), 0.0);
        refused.push_back(m);
    }
    return refused;
}

} // namespace

TEST(Faults, CorruptedFragmentsAreRefusedByTheirChecksumNeverMixedAndHonestClientsKeepLearning)
{
    ns3::TadLoraFaultOptions faults;
    faults.corruptProb = 0.1;
    const ns3::TadLoraConfig c = FaultyRun("corrupt", faults);
    ns3::TadLoraExperiment(c).Run();
    const auto summary = ExpectFinite(c);
    const auto refused = ExpectRefusedNeverMixed(c);
    // A message is refused if any of its f fragments was corrupted: 1 - 0.9^f (lossless
    // links, so every message came whole; CRC-32 catches every one-byte error).
    double expected = 0;
    double variance = 0;
    for (const auto& m : ReadCsv(fs::path(c.run.out) / "messages.csv"))
    {
        ASSERT_EQ(m.at("fragments_received"), m.at("fragments"));
        const double p = 1 - std::pow(1 - faults.corruptProb, std::stod(m.at("fragments")));
        expected += p;
        variance += p * (1 - p);
    }
    EXPECT_NEAR(double(refused.size()), expected, 4 * std::sqrt(variance));
    EXPECT_GT(expected, 50.0);
    EXPECT_EQ(summary["network"]["msgs_rejected"], refused.size());
    EXPECT_EQ(summary["network"]["msgs_rejected_by_reason"]["checksum"], refused.size());
    for (const auto& m : refused)
    {
        EXPECT_EQ(m.at("rejected"), "checksum");
    }
    const double base = summary["base_acc"];
    EXPECT_GT(summary["final"]["mean_acc"].get<double>(), base + 0.2);
}

TEST(Faults, AByzantineClientsNanMessagesAreAllRefusedAndTheHonestClientsKeepLearning)
{
    ns3::TadLoraFaultOptions faults;
    faults.byzantine = 1;
    faults.byzantineMode = tadlora::ByzantineMode::Nan;
    const ns3::TadLoraConfig c = FaultyRun("byzantine-nan", faults);
    ns3::TadLoraExperiment(c).Run();
    const auto summary = ExpectFinite(c);
    ASSERT_EQ(summary["byzantine_clients"].size(), 1u);
    const std::string liar = std::to_string(summary["byzantine_clients"][0].get<uint32_t>());
    const auto refused = ExpectRefusedNeverMixed(c);
    size_t liarsWhole = 0;
    for (const auto& m : ReadCsv(fs::path(c.run.out) / "messages.csv"))
    {
        if (m.at("sender") == liar && m.at("fragments_received") == m.at("fragments"))
        {
            ++liarsWhole;
            EXPECT_EQ(m.at("rejected"), "non-finite");
        }
        else
        {
            EXPECT_EQ(m.at("rejected"), ""); // lossless links: every honest message is kept
        }
    }
    EXPECT_GT(liarsWhole, 0u);
    EXPECT_EQ(refused.size(), liarsWhole);
    EXPECT_EQ(summary["network"]["msgs_rejected_by_reason"]["non-finite"], liarsWhole);
    const double base = summary["base_acc"];
    EXPECT_GT(summary["final"]["mean_acc"].get<double>(), base + 0.2);
}

TEST(Faults, TheSameSeedGivesByteIdenticalTracesUnderFaults)
{
    ns3::TadLoraFaultOptions faults;
    faults.corruptProb = 0.1;
    faults.byzantine = 2;
    test::ExpectSameSeedSameTraces(FaultyRun("faults-seed", faults));
}

TEST(Faults, UnderRandomOrScaledByzantineValuesTheHonestClientsStayFinite)
{
    for (tadlora::ByzantineMode mode :
         {tadlora::ByzantineMode::Random, tadlora::ByzantineMode::Scaled})
    {
        ns3::TadLoraFaultOptions faults;
        faults.byzantine = 1;
        faults.byzantineMode = mode;
        const ns3::TadLoraConfig c = FaultyRun("byzantine-" + ns3::TadLoraChoiceName(mode), faults);
        ns3::TadLoraExperiment(c).Run();
        const auto summary = ExpectFinite(c);
        ExpectRefusedNeverMixed(c);
        const double base = summary["base_acc"];
        const double final = summary["final"]["mean_acc"];
        std::cout << ns3::TadLoraChoiceName(mode) << ": base " << base << ", final " << final
                  << ", refused " << summary["network"]["msgs_rejected_by_reason"] << std::endl;
        if (mode == tadlora::ByzantineMode::Random)
        {
            EXPECT_GT(final, base + 0.2); // noise of the factors' own scale averages out
        }
    }
}

namespace
{

/** @return the sum of a column over a CSV file's rows */
double
ColumnSum(const fs::path& csv, const std::string& column)
{
    double sum = 0;
    for (const auto& row : ReadCsv(csv))
    {
        sum += std::stod(row.at(column));
    }
    return sum;
}

} // namespace

TEST(Layouts, AutoTakesTheCoreForDenseBaseGraphsOnly)
{
    using ns3::TadLoraP2pLayout;
    using ns3::TadLoraP2pNetworkHelper;
    const auto resolve = [](const std::string& topology, uint32_t m)
    {
        return TadLoraP2pNetworkHelper::Resolve(TadLoraP2pLayout::Auto,
                                                MakeBaseGraph(topology, m, 1), m);
    };
    EXPECT_EQ(resolve("complete", 10), TadLoraP2pLayout::Edges); // mean degree 9
    EXPECT_EQ(resolve("complete", 17), TadLoraP2pLayout::Edges); // 16
    EXPECT_EQ(resolve("complete", 18), TadLoraP2pLayout::Core);  // 17
    EXPECT_EQ(resolve("ring", 500), TadLoraP2pLayout::Edges);
    EXPECT_EQ(resolve("complete", 500), TadLoraP2pLayout::Core);
    EXPECT_EQ(TadLoraP2pNetworkHelper::Resolve(TadLoraP2pLayout::Edges,
                                               MakeBaseGraph("complete", 500, 1), 500),
              TadLoraP2pLayout::Edges);
}

TEST(Layouts, OnALosslessNetworkTheCoreLearnsExactlyAsALinkPerEdgeAndContentionDelaysIt)
{
    ns3::TadLoraConfig edges = ShortRun("layout-edges");
    edges.p2p.layout = ns3::TadLoraP2pLayout::Edges;
    edges.exchange.virtualPayloadBytes = 100000; // about 8 ms on a 100 Mbps link
    ns3::TadLoraConfig core = edges;
    core.p2p.layout = ns3::TadLoraP2pLayout::Core;
    core.run.out = (fs::path(test::TempDir()) / "layout-core").string();
    for (const auto& c : {edges, core})
    {
        ns3::TadLoraExperiment(c).Run();
    }
    EXPECT_EQ(test::Slurp(fs::path(edges.run.out) / "mixing.csv"),
              test::Slurp(fs::path(core.run.out) / "mixing.csv"));
    const auto a = ReadCsv(fs::path(edges.run.out) / "rounds.csv");
    const auto b = ReadCsv(fs::path(core.run.out) / "rounds.csv");
    ASSERT_EQ(a.size(), b.size());
    for (size_t r = 0; r < a.size(); ++r)
    {
        for (const char* column :
             {"mean_acc", "std_acc", "avg_model_acc", "mean_loss", "consensus_A", "consensus_B",
              "cross_term", "msgs_sent", "msgs_delivered", "bytes_sent"})
        {
            EXPECT_EQ(a[r].at(column), b[r].at(column)) << column << ", row " << r;
        }
    }
    // The same messages, but through the core each crosses two links (its last fragment
    // is sent twice: 0.112 ms more at 1400 bytes and 100 Mbps), and a client's messages to
    // all its neighbours share its access link: the mean grows by more than a message's
    // transmission time (8 ms) from queueing.
    const auto latencies = [](const ns3::TadLoraConfig& c)
    {
        std::map<std::tuple<std::string, std::string, std::string, std::string>, double> out;
        for (const auto& m : ReadCsv(fs::path(c.run.out) / "messages.csv"))
        {
            out[{m.at("round"), m.at("factor"), m.at("sender"), m.at("receiver")}] =
                std::stod(m.at("latency_s"));
        }
        return out;
    };
    const auto viaEdges = latencies(edges);
    const auto viaCore = latencies(core);
    ASSERT_EQ(viaEdges.size(), viaCore.size());
    double edgesSum = 0;
    double coreSum = 0;
    for (const auto& [key, latency] : viaEdges)
    {
        EXPECT_GT(viaCore.at(key), latency + 0.000112 * 0.99);
        edgesSum += latency;
        coreSum += viaCore.at(key);
    }
    EXPECT_GT(coreSum / viaCore.size(), edgesSum / viaEdges.size() + 0.008);
}

TEST(Layouts, TheCoreLosesPacketsOfAnEdgeAtTheEdgesRate)
{
    // --link-loss 0.2: each fragment is lost with probability 0.2 under both layouts (the core
    // splits it over the two access links a fragment crosses).
    for (const auto layout : {ns3::TadLoraP2pLayout::Edges, ns3::TadLoraP2pLayout::Core})
    {
        ns3::TadLoraConfig c = ShortRun("layout-loss");
        c.p2p.layout = layout;
        c.p2p.linkLoss = 0.2;
        c.exchange.virtualPayloadBytes = 20000; // 15 fragments a message
        ns3::TadLoraExperiment(c).Run();
        const fs::path network = fs::path(c.run.out) / "network.csv";
        const double sent = ColumnSum(network, "fragments_sent");
        const double rate = ColumnSum(network, "fragments_lost") / sent;
        EXPECT_GT(sent, 2000);
        // 4 standard errors of a rate of 0.2 over the fragments sent
        EXPECT_NEAR(rate, 0.2, 4 * std::sqrt(0.2 * 0.8 / sent)) << ns3::TadLoraChoiceName(layout);
    }
}

TEST(TraceLevels, LinksHoldTheFullTracesTotalsAndSummaryNeither)
{
    std::map<ns3::TadLoraTraceLevel, ns3::TadLoraConfig> runs;
    for (const auto level : {ns3::TadLoraTraceLevel::Summary, ns3::TadLoraTraceLevel::Links,
                             ns3::TadLoraTraceLevel::Full})
    {
        ns3::TadLoraConfig c = ShortRun("trace-" + ns3::TadLoraChoiceName(level));
        c.run.traceLevel = level;
        ns3::TadLoraExperiment(c).Run();
        runs[level] = c;
    }
    const auto dir = [&runs](ns3::TadLoraTraceLevel level)
    { return fs::path(runs.at(level).run.out); };
    // The level changes what is written, never what ran.
    for (const char* file : {"rounds.csv", "network.csv"})
    {
        const std::string full = test::Slurp(dir(ns3::TadLoraTraceLevel::Full) / file);
        EXPECT_EQ(test::Slurp(dir(ns3::TadLoraTraceLevel::Summary) / file), full);
        EXPECT_EQ(test::Slurp(dir(ns3::TadLoraTraceLevel::Links) / file), full);
    }
    for (const char* file : {"links.csv", "messages.csv", "mixing.csv"})
    {
        EXPECT_FALSE(fs::exists(dir(ns3::TadLoraTraceLevel::Summary) / file)) << file;
    }
    EXPECT_FALSE(fs::exists(dir(ns3::TadLoraTraceLevel::Links) / "messages.csv"));
    EXPECT_FALSE(fs::exists(dir(ns3::TadLoraTraceLevel::Links) / "mixing.csv"));
    EXPECT_EQ(test::Slurp(dir(ns3::TadLoraTraceLevel::Links) / "links.csv"),
              test::Slurp(dir(ns3::TadLoraTraceLevel::Full) / "links.csv"));

    // links.csv: each directed link's totals of messages.csv, and the rounds mixing.csv
    // shows the receiver weighting the sender.
    std::map<std::pair<std::string, std::string>, std::array<double, 4>> expected;
    for (const auto& m : ReadCsv(dir(ns3::TadLoraTraceLevel::Full) / "messages.csv"))
    {
        auto& e = expected[{m.at("sender"), m.at("receiver")}];
        e[0] += 1;
        e[1] += std::stod(m.at("delivered"));
        e[2] += std::stod(m.at("bytes"));
    }
    std::set<std::tuple<std::string, std::string, std::string>> mixedIn;
    for (const auto& w : ReadCsv(dir(ns3::TadLoraTraceLevel::Full) / "mixing.csv"))
    {
        if (w.at("client") != w.at("peer") && std::stod(w.at("weight")) > 0)
        {
            mixedIn.insert({w.at("round"), w.at("peer"), w.at("client")});
        }
    }
    for (const auto& [round, sender, receiver] : mixedIn)
    {
        expected[{sender, receiver}][3] += 1;
    }
    const auto links = ReadCsv(dir(ns3::TadLoraTraceLevel::Links) / "links.csv");
    ASSERT_EQ(links.size(), expected.size());
    for (const auto& l : links)
    {
        const auto& e = expected.at({l.at("sender"), l.at("receiver")});
        EXPECT_EQ(std::stod(l.at("msgs_sent")), e[0]);
        EXPECT_EQ(std::stod(l.at("msgs_delivered")), e[1]);
        EXPECT_EQ(std::stod(l.at("bytes_sent")), e[2]);
        EXPECT_EQ(std::stod(l.at("mixed_rounds")), e[3]);
        EXPECT_GT(e[3], 0);
    }
}

TEST(TraceLevels, AutoWritesFullTracesUpToAHundredClientsAndLinksAbove)
{
    for (uint32_t clients : {100u, 101u})
    {
        ns3::TadLoraConfig c = ShortRun("trace-auto-" + std::to_string(clients));
        c.run.clients = clients;
        c.run.rounds = 1;
        c.learning.localSteps = 1;
        c.exchange.linkProb = 0.05;
        ns3::TadLoraExperiment(c).Run();
        const bool full = clients <= ns3::kFullTraceMaxClients;
        EXPECT_EQ(fs::exists(fs::path(c.run.out) / "messages.csv"), full);
        EXPECT_TRUE(fs::exists(fs::path(c.run.out) / "links.csv"));
        const std::string config = test::Slurp(fs::path(c.run.out) / "config.toml");
        EXPECT_NE(config.find(std::string("trace-level = \"") + (full ? "full" : "links") + "\""),
                  std::string::npos);
        EXPECT_NE(config.find("p2p-layout = \"core\""), std::string::npos); // mean degree 99
    }
}

TEST(Devices, AMixGivesEachProfileItsShareInAnOrderDrawnFromTheSeed)
{
    EXPECT_TRUE(ns3::TadLoraAssignDevices("none", 10, 1).empty());
    const auto names = [](const std::string& spec, uint32_t clients, uint64_t seed)
    {
        std::vector<std::string> out;
        for (const ns3::TadLoraDeviceProfile& p : ns3::TadLoraAssignDevices(spec, clients, seed))
        {
            out.push_back(p.name);
        }
        return out;
    };
    const auto count = [](const std::vector<std::string>& v, const std::string& name)
    { return std::count(v.begin(), v.end(), name); };
    EXPECT_EQ(names("rpi4", 3, 1), (std::vector<std::string>{"rpi4", "rpi4", "rpi4"}));
    // 5, 2.5, 2.5: the client left over goes to the first of the tied remainders.
    const auto mix = names("mix:rpi4=0.5,jetson-nano=0.25,laptop=0.25", 10, 1);
    EXPECT_EQ(count(mix, "rpi4"), 5);
    EXPECT_EQ(count(mix, "jetson-nano"), 3);
    EXPECT_EQ(count(mix, "laptop"), 2);
    const auto thirds = names("mix:laptop=0.7,rpi-zero2w=0.3", 10, 1);
    EXPECT_EQ(count(thirds, "laptop"), 7);
    EXPECT_EQ(count(thirds, "rpi-zero2w"), 3);
    EXPECT_EQ(names("mix:laptop=0.7,rpi-zero2w=0.3", 10, 1), thirds);
    std::set<std::vector<std::string>> orders;
    for (uint64_t seed = 1; seed <= 6; ++seed)
    {
        orders.insert(names("mix:laptop=0.7,rpi-zero2w=0.3", 10, seed));
    }
    EXPECT_GE(orders.size(), 4u) << "the order should follow the seed";
}

TEST(Devices, ASlowDeviceStretchesEveryRoundAndUnderTheDeadlineMissesTheExchange)
{
    ns3::TadLoraConfig c = ShortRun("devices");
    c.run.clients = 4;
    c.run.rounds = 4;
    c.run.evalEvery = 1;
    c.exchange.linkProb = 1;
    c.exchange.deviceProfile = "mix:laptop=0.75,rpi-zero2w=0.25";
    // The synthetic task's step: 1,582,976 FLOPs a sample (ModelShape test) x 32 samples.
    const double flops = 1582976.0 * 32;
    const double slowTrain = 5 * flops / 0.37e9; // 0.68 s at the zero's 0.37 GFLOP/s
    const double fastTrain = 5 * flops / 100e9;  // 2.5 ms at the laptop's 100
    const auto run = [&c](const std::string& name, double deadline)
    {
        c.exchange.roundDeadlineS = deadline;
        c.run.out = (fs::path(test::TempDir()) / name).string();
        ns3::TadLoraExperiment(c).Run();
        return std::make_tuple(ReadCsv(fs::path(c.run.out) / "energy.csv"),
                               ReadCsv(fs::path(c.run.out) / "network.csv"),
                               RealizedMixing(c.run.out, c.run.clients));
    };
    // Within the deadline (1 s > 0.68 s late): the slow client exchanges with everyone.
    {
        const auto [energy, network, mixing] = run("devices-in-time", 1);
        ASSERT_EQ(energy.size(), 16u); // 4 rounds x 4 clients
        for (const auto& row : energy)
        {
            const bool slow = row.at("device") == "rpi-zero2w";
            // ns-3 keeps a step's time to the nanosecond.
            EXPECT_NEAR(std::stod(row.at("train_s")), slow ? slowTrain : fastTrain, 3e-9);
            EXPECT_NEAR(std::stod(row.at("compute_j")),
                        (slow ? 2.1 : 28.0) * (slow ? slowTrain : fastTrain), 1e-7);
            EXPECT_EQ(row.at("radio_tx_j"), ""); // point-to-point links: no radio model
        }
        for (const auto& row : network)
        {
            EXPECT_EQ(row.at("missed_exchanges"), "0");
            EXPECT_EQ(row.at("confirmed_edges"), "6");
            EXPECT_GT(std::stod(row.at("round_time_s")), slowTrain); // the barrier waits for it
        }
    }
    // A 0.3 s deadline: the slow client trains 0.68 s after the others are ready; it sends
    // and mixes nothing, in every round, and the others mix among themselves.
    const auto [energy, network, mixing] = run("devices-late", 0.3);
    uint32_t slow = 0;
    for (const auto& row : energy)
    {
        slow = row.at("device") == "rpi-zero2w" ? std::stoul(row.at("client")) : slow;
    }
    for (const auto& row : network)
    {
        EXPECT_EQ(row.at("missed_exchanges"), "1");
        EXPECT_EQ(row.at("confirmed_edges"), "3");
        EXPECT_GT(std::stod(row.at("round_time_s")), slowTrain);
    }
    ASSERT_EQ(mixing.size(), 8u); // 4 rounds x 2 factors
    for (const auto& [key, w] : mixing)
    {
        for (uint32_t j = 0; j < c.run.clients; ++j)
        {
            EXPECT_EQ(w(slow, j), j == slow ? 1.0 : 0.0) << "round " << key.first;
            if (j != slow)
            {
                EXPECT_EQ(w(j, slow), 0.0) << "round " << key.first;
                EXPECT_GT(w(j, j), 0.0);
            }
        }
    }
    const auto summary = nlohmann::json::parse(test::Slurp(fs::path(c.run.out) / "summary.json"));
    EXPECT_EQ(summary["network"]["missed_exchanges"], 4);
    EXPECT_EQ(summary["energy"]["radio_tx_j"], nullptr);
    EXPECT_NEAR(summary["energy"]["compute_j"].get<double>(),
                4 * (2.1 * slowTrain + 3 * 28.0 * fastTrain), 1e-6);
}
