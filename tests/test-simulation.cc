// SPDX-License-Identifier: GPL-2.0-only
// Whole runs through ns-3: clients on nodes, factors as fragmented UDP over point-to-point links.

#include "tadlora-experiment.h"
#include "tadlora-mixing.h"
#include "tadlora-test-task.h"
#include "tadlora-topology.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

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
