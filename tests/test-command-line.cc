// SPDX-License-Identifier: GPL-2.0-only
// build/tadlora-sim as users run it: bad input exits with status 2 and one line, writes nothing;
// a run's config.toml reproduces the run.

#include "tadlora-client-helper.h"
#include "tadlora-client.h"
#include "tadlora-connectivity.h"
#include "tadlora-test-task.h"
#include "tadlora-topology.h"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>
#include <sys/wait.h>

namespace fs = std::filesystem;

namespace
{

struct Result
{
    int status;
    std::string stderrText;
};

Result
RunSim(const std::string& args)
{
    const fs::path err = fs::path(tadlora::test::TempDir()) / "stderr.txt";
    const std::string command =
        std::string(TADLORA_SIM) + " " + args + " 2>" + err.string() + " >/dev/null";
    const int raw = std::system(command.c_str());
    std::ifstream in(err);
    std::ostringstream text;
    text << in.rdbuf();
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, text.str()};
}

std::string
TinyRunArgs()
{
    return "--task synthetic --clients 4 --rounds 3 --local-steps 2 --test-samples 200 "
           "--pretrain-steps " +
           std::to_string(tadlora::test::kPretrainSteps) + " --cache-dir " +
           tadlora::test::CacheDir() + " --quiet";
}

/**
 * Each (arguments, mention) case exits with status 2 and one line that holds the mention, and
 * writes nothing to `out` (given as --out unless the arguments name one).
 */
void
ExpectRefused(const std::vector<std::pair<std::string, std::string>>& cases, const fs::path& out)
{
    for (const auto& [args, mention] : cases)
    {
        const bool namesOut = args.find("--out") != std::string::npos;
        const Result r = RunSim(args + (namesOut ? "" : " --out " + out.string()));
        EXPECT_EQ(r.status, 2) << args << ": " << r.stderrText;
        EXPECT_NE(r.stderrText.find(mention), std::string::npos) << args << ": " << r.stderrText;
        EXPECT_EQ(std::count(r.stderrText.begin(), r.stderrText.end(), '\n'), 1)
            << args << ": " << r.stderrText;
        EXPECT_FALSE(fs::exists(out)) << args;
    }
}

} // namespace

TEST(CommandLine, BadInputExitsWithStatus2AndOneLineNamingTheOption)
{
    const fs::path dir = fs::path(tadlora::test::TempDir()) / "bad-input";
    fs::create_directories(dir);
    const fs::path unknownKey = dir / "unknown-key.toml";
    std::ofstream(unknownKey) << "clients = 4\nwarp-speed = 9\n";
    const fs::path badValue = dir / "bad-value.toml";
    std::ofstream(badValue) << "clients = 0\n";
    const fs::path otherTable = dir / "other-table.toml";
    std::ofstream(otherTable) << "clients = 4\n[other]\nmethod = [\"lora\"]\n";
    const auto trace = [&dir](const std::string& name, const std::string& body)
    {
        std::ofstream(dir / name) << "$node_(0) set X_ 0\n$node_(0) set Y_ 0\n$node_(1) set X_ "
                                     "5\n$node_(1) set Y_ 0\n"
                                  << body;
        return "--network wifi-adhoc --mobility ns2:" + (dir / name).string() + " --clients ";
    };
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"--clients 1", "--clients"},
        {"--method fedavg", "--method"},
        {"--link-prob 1.5", "--link-prob"},
        {"--rounds -3", "--rounds"},
        {"--topology moebius", "--topology"},
        {"--topology edges:/nonexistent/graph.txt", "--topology"},
        {"--partition zipf", "--partition"},
        {"--data-rate fast", "--data-rate"},
        {"--network lte", "--network"},
        {"--transport quic", "--transport"},
        {"--send-rate quickly", "--send-rate"},
        {"--network wifi-adhoc --wifi-standard 80211ax", "--wifi-standard"},
        {"--network wifi-adhoc --wifi-mode OfdmRate7Mbps", "--wifi-mode"},
        {"--network wifi-adhoc --transport broadcast --routing olsr", "--transport"},
        {"--network wifi-adhoc --mobility teleport", "--mobility"},
        {"--network wifi-adhoc --mobility ns2", "--mobility: ns2 is not static, random-waypoint"},
        {"--network wifi-adhoc --mobility ns2:", "--mobility: ns2: needs a trace file"},
        {"--network wifi-adhoc --mobility ns2:/nonexistent/cars.ns2", "cars.ns2: cannot be read"},
        {trace("word.ns2", "$node_(1) set W_ 3\n") + "2", "line 5: not an ns-2 movement command"},
        {trace("early.ns2", "$ns_ at -1 \"$node_(1) setdest 9 9 1\"\n") + "2",
         "line 5: a time must not be negative"},
        {trace("huge.ns2", "$ns_ at 2 \"$node_(1) set X_ 1e999\"\n") + "2", "1e999 is too large"},
        {trace("two.ns2", "") + "3", "$node_(2) has no initial X_ and Y_"},
        {trace("area.ns2", "") + "2 --area-m 50", "--area-m 50 means nothing in this run"},
        {"--compress zip", "--compress: 'zip' is not none, fp16, int8 or topk:F"},
        {"--device-profile phone", "--device-profile: no device profile 'phone' (profiles: "
                                   "rpi-zero2w, rpi4, jetson-nano, laptop)"},
        {"--device-profile mix:rpi4=0.5", "--device-profile: the shares of a mix must sum to 1"},
        {"--device-profile mix:rpi4=0.5,rpi4=0.5", "--device-profile: 'rpi4' is in the mix twice"},
        {"--device-profile mix:rpi4=half,laptop=0.5",
         "--device-profile: the share of 'rpi4' must be a number in (0, 1]"},
        {"--device-profile mix:rpi4", "--device-profile: 'rpi4' is not NAME=SHARE"},
        {"--device-profile laptop --step-time-s 0.1", "--step-time-s"},
        {"--compress topk:0", "--compress: topk:F needs a fraction 0 < F <= 1, not '0'"},
        {"--compress int8 --virtual-payload-bytes 1000",
         "--virtual-payload-bytes 1000 means nothing in this run"},
        {"--network wifi-adhoc --fading rician", "--fading"},
        {"--network wifi-adhoc --area-m 0", "--area-m"},
        {"--hop-limit 300", "--hop-limit"},
        {"--task imagenet", "--task"},
        {"--data-dir /nonexistent", "--data-dir"},
        {"--task spam-assassin --data-dir /nonexistent", "scripts/setup.sh"},
        {"--config /nonexistent/scenario.toml", "scenario.toml"},
        {"--config " + unknownKey.string(), "warp-speed"},
        {"--config " + badValue.string(), "--clients"},
        {"--no-such-option 3", "unknown option 'no-such-option'"},
        {"--switch-interval 0", "--switch-interval"},
        {"--switch-interval sometimes", "--switch-interval"},
        {"--phase-jitter -1", "--phase-jitter"},
        {"--config " + otherTable.string(), "other"},
        {"--pretrain contrastive", "--pretrain"},
        {"--task synthetic --pretrain supervised --pretrain-samples 5000", "--pretrain-samples"},
        {"--pretrain-samples -1", "--pretrain-samples"},
        {"--model-width 0", "--model-width"},
        {"--model-layers 0", "--model-layers"},
        {"--model-heads 3", "--model-heads"}, // does not divide 64
        {"--patch-size 5", "--patch-size"},
        {"--task synthetic --patch-size 4", "--patch-size"},
        {"--lora-targets q,x", "--lora-targets"},
        {"--lora-targets ''", "--lora-targets"},
    };
    ExpectRefused(cases, dir / "out");
    for (const auto& entry : fs::directory_iterator(dir))
    {
        EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << entry.path();
    }
}

TEST(CommandLine, NonFiniteNegativeAndMeaninglessValuesAreRefusedBeforeAnyWork)
{
    const fs::path dir = fs::path(tadlora::test::TempDir()) / "hostile-input";
    fs::create_directories(dir);
    const fs::path typo = dir / "typo.toml";
    std::ofstream(typo) << "clients = 4\nlink_prb = 0.3\n";
    const fs::path file = dir / "a-file";
    std::ofstream(file) << "not a directory\n";
    const std::string wifi = "--network wifi-adhoc ";
    const std::vector<std::pair<std::string, std::string>> cases = {
        // NaN and infinities: every comparison with NaN is false, so ranges let it through.
        {"--lr nan", "--lr: must be a finite number, not nan"},
        {"--weight-decay nan", "--weight-decay: must be a finite number"},
        {"--alpha inf", "--alpha"},
        {"--link-prob nan", "--link-prob: must be a finite number"},
        {"--step-time-s nan", "--step-time-s: must be a finite number"},
        {"--round-deadline-s nan", "--round-deadline-s: must be a finite number"},
        {"--confirm-timeout-s nan", "--confirm-timeout-s: must be a finite number"},
        {"--exchange-jitter-s nan", "--exchange-jitter-s: must be a finite number"},
        {"--link-delay-ms nan", "--link-delay-ms: must be a finite number"},
        {"--link-loss nan", "--link-loss: must be a finite number"},
        {wifi + "--area-m nan", "--area-m: must be a finite number"},
        {wifi + "--tx-power-dbm nan", "--tx-power-dbm: must be a finite number"},
        {wifi + "--tx-power-dbm -inf", "--tx-power-dbm"},
        {wifi + "--path-loss-exponent nan", "--path-loss-exponent: must be a finite number"},
        {wifi + "--fading nakagami --nakagami-m nan", "--nakagami-m: must be a finite number"},
        {wifi + "--mobility random-waypoint --speed-mps nan", "--speed-mps: must be a finite"},
        {wifi + "--pause-s nan", "--pause-s: must be a finite number"},
        {wifi + "--warmup-s nan", "--warmup-s: must be a finite number"},
        {wifi + "--beacon-interval-s nan", "--beacon-interval-s: must be a finite number"},
        // Rates that ns-3 would divide by.
        {"--data-rate 0bps", "--data-rate: '0bps' is not a data rate of at least 1bps"},
        {"--data-rate 0.1bps", "--data-rate: '0.1bps' is not a data rate of at least 1bps"},
        {"--send-rate 0.1bps", "--send-rate: '0.1bps' is not 0bps (unpaced) or a data rate"},
        // Negative values for unsigned options wrapped to 2^64 - 1.
        {"--seed -1", "--seed: must not be negative"},
        {"--threads -2", "--threads"},
        // Options that mean nothing in the chosen network or model.
        {"--routing olsr", "--routing: an option of the Wi-Fi ad hoc network"},
        {"--tx-power-dbm 10", "--tx-power-dbm: an option of the Wi-Fi ad hoc network"},
        {"--transport broadcast", "--transport: broadcast is one hop"},
        {wifi + "--data-rate 5Mbps", "--data-rate: an option of the Point-to-point network"},
        {wifi + "--link-loss 0.1", "--link-loss: an option of the Point-to-point network"},
        {"--rank 65", "--rank: 65 exceeds --model-width 64"},
        // Layouts and trace levels.
        {"--p2p-layout star", "--p2p-layout"},
        {wifi + "--p2p-layout core", "--p2p-layout: an option of the Point-to-point network"},
        {"--trace-level verbose", "--trace-level"},
        // Fault injection.
        {"--fault-corrupt-prob 1.5", "--fault-corrupt-prob"},
        {"--fault-corrupt-prob nan", "--fault-corrupt-prob: must be a finite number"},
        {"--fault-byzantine 10", "--fault-byzantine: 10 of 10 clients leaves none honest"},
        {"--fault-byzantine-mode nan", "--fault-byzantine-mode nan means nothing in this run"},
        {"--fault-byzantine 1 --fault-byzantine-mode liar", "--fault-byzantine-mode"},
        {"--fault-byzantine 1 --fault-byzantine-scale 3",
         "--fault-byzantine-scale 3 means nothing in this run: it sets the factor of"},
        // Options of a method, transport or model that the run does not have.
        {"--method lora --switch-interval 10", "--switch-interval 10 means nothing in this run"},
        {"--method rolora --switch-interval 10", "--switch-interval 10 means nothing"},
        {"--method ffa-lora --phase-jitter 2", "--phase-jitter 2 means nothing in this run"},
        {"--transport tcp --send-rate 5Mbps", "--send-rate 5Mbps means nothing in this run"},
        {wifi + "--transport broadcast --hop-limit 3", "--hop-limit 3 means nothing"},
        {wifi + "--nakagami-m 2", "--nakagami-m 2 means nothing in this run"},
        {wifi + "--speed-mps 5", "--speed-mps 5 means nothing in this run"},
        {wifi + "--mobility gauss-markov --pause-s 5", "--pause-s 5 means nothing in this run"},
        {wifi + "--routing olsr --beacon-interval-s 2", "--beacon-interval-s 2 means nothing"},
        {wifi + "--rate-control minstrel --wifi-mode OfdmRate24Mbps", "--wifi-mode"},
        {wifi + "--propagation friis --path-loss-exponent 2", "--path-loss-exponent 2 means"},
        {"--fault-byzantine 1 --fault-byzantine-mode scaled --fault-byzantine-scale inf",
         "--fault-byzantine-scale: must be a finite number"},
        {"--max-factor-value 0", "--max-factor-value"},
        // Outputs and caches checked up front, not after the simulation.
        {"--out ''", "--out: an output directory must be named"},
        {"--cache-dir " + file.string() + "/cache", "--cache-dir: cannot write in"},
        // Unknown names, with the nearest known ones.
        {"--lrr 0.1", "unknown option 'lrr' (nearest: --lr,"},
        {"--config " + typo.string(), "unknown option 'link_prb' (nearest: --link-prob"},
    };
    ExpectRefused(cases, dir / "out");
    EXPECT_GE(cases.size(), 55u);
}

TEST(CommandLine, ScenarioFilesAreStrictTomlAndTheirSweepTableIsCheckedAsSweepPyChecksIt)
{
    const fs::path dir = fs::path(tadlora::test::TempDir()) / "strict-toml";
    fs::create_directories(dir);
    std::vector<std::pair<std::string, std::string>> cases;
    const auto file = [&dir, &cases](const std::string& body, const std::string& mention)
    {
        const fs::path path = dir / ("case-" + std::to_string(cases.size()) + ".toml");
        std::ofstream(path) << body << "\n";
        cases.emplace_back("--config " + path.string(), mention);
    };
    // Types: a string is no number, a float no count, an integer no flag, a number no text.
    file("lr = \"0.01\"", "line 1: lr: --lr takes a number, not a string");
    file("clients = 4.5", "--clients takes an integer, not a float");
    file("quiet = 1", "--quiet takes a boolean (true or false), not an integer");
    file("topology = 3", "--topology takes a string, not an integer");
    file("lr = [0.1]", "--lr takes a number, not an array");
    file("switch-interval = \"sometimes\"", "--switch-interval takes an integer or \"auto\"");
    file("seed = 1979-05-27", "--seed takes an integer, not a date or time");
    // TOML's own errors, with their line.
    file("clients = 4\nlr = 0.01\nlr = 0.02", "line 3");
    file("x = = 2", "line 1");
    file("method = \"lora", "line 1");
    // Names: options are spelled as on the command line; one table only.
    file("link_prob = 0.3", "unknown option 'link_prob': options are spelled with dashes");
    file("[network]\nlink-prob = 0.3", "[network]: unknown table; [sweep] is the only one");
    // The [sweep] table, as scripts/sweep.py's grid() checks it, and typed.
    file("sweep = 3", "sweep: must be a table [sweep] of option = [values]");
    file("[sweep]\nseed = 3", "[sweep] seed: a list of values is needed, not an integer");
    file("[sweep]\nseed = []", "[sweep] seed: the list of values is empty");
    file("[sweep]\nthreads = [1, 2]", "[sweep] threads: set by the sweep for every run");
    file("[sweep]\nout = [\"a\"]", "[sweep] out: set by the sweep for every run");
    file("[sweep]\nlr = [0.1, \"a\"]", "line 2: [sweep] lr: --lr takes a number, not a string");
    file("[sweep]\nmethod = [[\"lora\"]]", "--method takes a string, not an array");
    file("[sweep]\nlrr = [0.1]", "unknown option 'lrr' (nearest: --lr");
    // An axis of tables sets options together: the same options in every table.
    file("[sweep]\nsize = [{clients = 2}, 3]", "[sweep] size: either every value is a table");
    file("[sweep]\nsize = [{clients = 2}, {area-m = 3}]", "size: every table must set the same");
    file("[sweep]\nsize = [{}]", "[sweep] size: a table of options is empty");
    file("[sweep]\nsize = [{clients = 2.5}]", "[sweep] size.clients: --clients takes an integer");
    file("[sweep]\nsize = [{threads = 1}]", "[sweep] size.threads: set by the sweep for every");
    file("[sweep]\nseed = [1]\nsize = [{clients = 2, seed = 3}]",
         "line 3: [sweep] size: seed is swept by another axis too");
    file("[sweep]\nsize = [{clientz = 2}]", "unknown option 'clientz' (nearest: --clients");
    ExpectRefused(cases, dir / "out");

    // TOML's syntax for numbers is TOML's: digit separators, exponents, hexadecimal; a
    // [sweep] table that sweep.py takes is taken, and the run is its base point.
    const fs::path good = dir / "good.toml";
    std::ofstream(good) << "rounds = 1_000 # comment\nlr = 1e-3\nalpha = 16\nhop-limit = "
                           "0x10\nswitch-interval = 'auto'\nquiet = true\n[sweep]\nseed = "
                           "[1, 2]\nmethod = [\"lora\", \"tad-lora\"]\nsize = [{clients = 4, "
                           "area-m = 50}, {clients = 8, area-m = 70.5}]\n";
    ns3::TadLoraConfig config;
    CLI::App app;
    ns3::AddTadLoraOptions(app, config);
    app.parse(std::vector<std::string>{good.string(), "--config"}); // reversed: CLI11's order
    EXPECT_EQ(config.run.rounds, 1000u);
    EXPECT_EQ(config.learning.lr, 1e-3);
    EXPECT_EQ(config.learning.alpha, 16.0);
    EXPECT_EQ(config.exchange.hopLimit, 16u);
    EXPECT_EQ(config.learning.switchInterval, ns3::kAutoSwitchInterval);
    EXPECT_TRUE(config.run.quiet);
    EXPECT_EQ(config.run.seed, 1u);
    EXPECT_EQ(config.learning.method, "tad-lora");
    EXPECT_GE(cases.size(), 20u);
}

TEST(CommandLine, ARunReplacesItsOutputDirectoryWholeAndNeverAForeignOne)
{
    const fs::path dir = fs::path(tadlora::test::TempDir()) / "replace-out";
    fs::remove_all(dir);
    const fs::path out = dir / "run";
    ASSERT_EQ(RunSim(TinyRunArgs() + " --pcap --out " + out.string()).status, 0);
    auto pcaps = [&out]
    {
        return std::count_if(fs::directory_iterator(out), fs::directory_iterator(),
                             [](const fs::directory_entry& e)
                             { return e.path().extension() == ".pcap"; });
    };
    ASSERT_GT(pcaps(), 0);
    // Again without PCAP, into the same directory ("run/" names it too): the first run's PCAP
    // files do not stay beside a config.toml that says pcap = false.
    ASSERT_EQ(RunSim(TinyRunArgs() + " --out " + out.string() + "/").status, 0);
    EXPECT_EQ(pcaps(), 0);
    EXPECT_NE(tadlora::test::Slurp((out / "config.toml").string()).find("pcap = false"),
              std::string::npos);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1)
        << "no staging or earlier directory is left beside it";

    const fs::path foreign = dir / "notes";
    fs::create_directories(foreign);
    std::ofstream(foreign / "thesis.tex") << "\\chapter{}\n";
    ExpectRefused({{TinyRunArgs() + " --out " + foreign.string(), "holds files that are not"},
                   {TinyRunArgs() + " --out .", "name the run's own directory"}},
                  dir / "never");
    EXPECT_TRUE(fs::exists(foreign / "thesis.tex"));
}

TEST(CommandLine, SigtermEndsTheRunWithTheRoundInProgressAndKeepsValidPartialOutputs)
{
    const fs::path dir = fs::path(tadlora::test::TempDir()) / "stopped";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path out = dir / "run";
    std::string args = TinyRunArgs();
    args.replace(args.find("--rounds 3"), 10, "--rounds 100000"); // only the signal ends it
    // SIGTERM, as a job scheduler sends it (a shell's background job ignores SIGINT, and the
    // run leaves an ignored signal ignored); SIGINT takes the same path. The watchdog's sleep
    // writes nowhere: left running after its shell is killed, it would hold the test's output
    // open, and ctest would wait out its 90 s.
    const std::string command = std::string(TADLORA_SIM) + " " + args + " --out " + out.string() +
                                " 2>" + (dir / "stderr.txt").string() +
                                " & pid=$!; (sleep 90; kill -9 $pid) >/dev/null 2>&1 & dog=$!; "
                                "sleep 4; kill -TERM $pid; wait $pid; rc=$?; kill $dog; exit $rc";
    const int raw = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(raw));
    EXPECT_EQ(WEXITSTATUS(raw), 128 + SIGTERM);
    const std::string err = tadlora::test::Slurp((dir / "stderr.txt").string());
    EXPECT_NE(err.find("stopped after round"), std::string::npos) << err;

    const auto summary =
        nlohmann::json::parse(tadlora::test::Slurp((out / "summary.json").string()));
    EXPECT_EQ(summary["complete"], false);
    const auto rows = tadlora::test::ReadCsv(out / "rounds.csv");
    ASSERT_FALSE(rows.empty());
    const uint64_t last = std::stoull(rows.back().at("round"));
    EXPECT_EQ(summary["final"]["round"], last); // the round in progress was evaluated
    EXPECT_LT(last + 1, 100000u);
    // rounds.csv prints 9 significant digits, summary.json all of a double's
    EXPECT_NEAR(std::stod(rows.back().at("mean_acc")), summary["final"]["mean_acc"].get<double>(),
                1e-8);
    for (const std::string file : {"config.toml", "network.csv", "messages.csv", "mixing.csv"})
    {
        EXPECT_TRUE(fs::exists(out / file)) << file;
    }
    for (const auto& entry : fs::directory_iterator(dir))
    {
        EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << entry.path();
    }
}

namespace
{

/** Every trace of two runs is the same, byte for byte. */
void
ExpectSameTraces(const fs::path& a, const fs::path& b)
{
    for (const std::string file : {"rounds.csv", "network.csv", "messages.csv", "mixing.csv"})
    {
        const std::string text = tadlora::test::Slurp((a / file).string());
        EXPECT_FALSE(text.empty()) << file;
        EXPECT_EQ(text, tadlora::test::Slurp((b / file).string())) << file;
    }
    // config.toml too, but for the out line
    const std::string ca = tadlora::test::Slurp((a / "config.toml").string());
    const std::string cb = tadlora::test::Slurp((b / "config.toml").string());
    EXPECT_EQ(ca.substr(0, ca.find("\nout = ")), cb.substr(0, cb.find("\nout = ")));
    EXPECT_EQ(ca.substr(ca.find('\n', ca.find("\nout = ") + 1)),
              cb.substr(cb.find('\n', cb.find("\nout = ") + 1)));
}

/**
 * @brief Start a run, send it a signal once its first checkpoint is in --out, wait for it.
 * @return its exit status as the shell reports it (128 + the signal if it was killed by it)
 */
int
InterruptAfterCheckpoint(const std::string& args, const fs::path& out, const std::string& signal)
{
    const std::string command = std::string(TADLORA_SIM) + " " + args + " --out " + out.string() +
                                " 2>/dev/null & pid=$!; n=0; until [ -f " +
                                (out / "checkpoint.tadlora").string() +
                                " ] || [ $n -ge 9000 ]; do sleep 0.01; n=$((n+1)); done; kill -" +
                                signal + " $pid; wait $pid";
    const int raw = std::system(command.c_str());
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

} // namespace

TEST(CommandLine, AKilledOrStoppedRunResumesFromItsCheckpointAndEndsAsIfItNeverStopped)
{
    const fs::path dir = fs::path(tadlora::test::TempDir()) / "resume";
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string args = TinyRunArgs();
    // Everything a checkpoint must carry: moments kept across rounds, value-based refusals
    // (a Byzantine client's scaled values, a low bound), corrupted fragments, top-k's residuals.
    args.replace(args.find("--rounds 3"), 10,
                 "--rounds 60 --checkpoint-every 3 --eval-every 4 --keep-optimizer-state "
                 "--link-prob 0.5 --fault-byzantine 1 --fault-byzantine-mode scaled "
                 "--max-factor-value 0.3 --fault-corrupt-prob 0.05 --compress topk:0.5");
    const fs::path whole = dir / "whole";
    ASSERT_EQ(RunSim(args + " --out " + whole.string()).status, 0);
    const auto summary =
        nlohmann::json::parse(tadlora::test::Slurp((whole / "summary.json").string()));
    ASSERT_EQ(summary["complete"], true);
    EXPECT_GT(summary["network"]["msgs_rejected_by_reason"]["magnitude"].get<int>(), 0);
    EXPECT_GT(summary["network"]["msgs_rejected_by_reason"]["checksum"].get<int>(), 0);
    EXPECT_FALSE(fs::exists(whole / "checkpoint.tadlora")); // a complete run keeps none

    for (const std::string signal : {"KILL", "TERM"})
    {
        const fs::path out = dir / signal;
        const int status = InterruptAfterCheckpoint(args, out, signal);
        EXPECT_EQ(status, signal == "KILL" ? 128 + SIGKILL : 128 + SIGTERM);
        const auto partial =
            nlohmann::json::parse(tadlora::test::Slurp((out / "summary.json").string()));
        EXPECT_EQ(partial["complete"], false) << signal;
        const uint64_t at = partial["checkpoint_round"];
        EXPECT_GT(at, 0u);
        EXPECT_LT(at, 60u) << signal << ": the run ended before the signal";
        if (signal == "KILL")
        {
            EXPECT_EQ(at % 3, 0u); // the periodic checkpoint; TERM checkpoints where it stops
            // Refused: other options, and a damaged checkpoint, both before any work.
            ExpectRefused({{args + " --seed 2 --resume --out " + out.string(),
                            "a run resumes with the options it started with"}},
                          dir / "none");
            const fs::path damaged = dir / "damaged";
            fs::copy(out, damaged);
            std::fstream file(damaged / "checkpoint.tadlora",
                              std::ios::in | std::ios::out | std::ios::binary);
            file.seekp(-100, std::ios::end);
            file.put('\x5a');
            file.close();
            ExpectRefused({{args + " --resume --out " + damaged.string(), "fails its CRC-32"}},
                          dir / "none");
        }
        ASSERT_EQ(RunSim(args + " --resume --out " + out.string()).status, 0) << signal;
        ExpectSameTraces(whole, out);
        EXPECT_FALSE(fs::exists(out / "checkpoint.tadlora"));
        // Recorded as the run it resumes (reports group it with its seeds' siblings).
        const auto resumed =
            nlohmann::json::parse(tadlora::test::Slurp((out / "summary.json").string()));
        nlohmann::json expected = summary["config"];
        expected["out"] = out.string();
        EXPECT_EQ(resumed["config"], expected);
    }
    ExpectRefused({{args + " --resume --out " + whole.string(), "holds no checkpoint"}},
                  dir / "none");
    for (const auto& entry : fs::directory_iterator(dir))
    {
        EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << entry.path();
        EXPECT_EQ(entry.path().string().find(".checkpoint"), std::string::npos) << entry.path();
    }
}

TEST(CommandLine, ConfigTomlOfARunReproducesIt)
{
    const fs::path first = fs::path(tadlora::test::TempDir()) / "cli-first";
    const fs::path second = fs::path(tadlora::test::TempDir()) / "cli-second";
    ASSERT_EQ(RunSim(TinyRunArgs() + " --method rolora --seed 5 --out " + first.string()).status,
              0);
    for (const std::string file :
         {"rounds.csv", "messages.csv", "mixing.csv", "summary.json", "config.toml"})
    {
        EXPECT_TRUE(fs::exists(first / file)) << file;
    }
    const std::string config = tadlora::test::Slurp(first / "config.toml");
    EXPECT_NE(config.find("method = \"rolora\""), std::string::npos) << config;
    EXPECT_NE(config.find("seed = 5"), std::string::npos) << config;
    // --pretrain-samples 0 (the default) is recorded as the split that ran: a twelfth of the
    // synthetic task's 6000 training samples.
    EXPECT_NE(config.find("pretrain-samples = 500\n"), std::string::npos) << config;
    ASSERT_EQ(
        RunSim("--config " + (first / "config.toml").string() + " --out " + second.string()).status,
        0);
    EXPECT_EQ(tadlora::test::Slurp(first / "rounds.csv"),
              tadlora::test::Slurp(second / "rounds.csv"));
}

TEST(CommandLine, SweepTableIsLeftToTheSweepRunnerAndAutoRecordsTheIntervalThatRan)
{
    // A scenario's [sweep] table lists grid axes for scripts/sweep.py; a single run ignores it.
    const fs::path dir = fs::path(tadlora::test::TempDir()) / "cli-auto";
    fs::create_directories(dir);
    const fs::path scenario = dir / "sweep.toml";
    std::ofstream(scenario) << "method = \"tad-lora\"\nlink-prob = 0.02\n"
                               "[sweep]\nlink-prob = [0.5, 0.1]\nseed = [1, 2]\n";
    const fs::path out = dir / "out";
    ASSERT_EQ(RunSim(TinyRunArgs() + " --config " + scenario.string() +
                     " --switch-interval auto --out " + out.string())
                  .status,
              0);
    const auto summary = nlohmann::json::parse(tadlora::test::Slurp(out / "summary.json"));
    EXPECT_EQ(summary["config"]["link-prob"], 0.02);
    const uint32_t picked = summary["rho"]["auto_switch_interval"];
    EXPECT_EQ(summary["config"]["switch-interval"], picked);
    EXPECT_EQ(picked, tadlora::AutoSwitchInterval(summary["rho"]["value"]));
    EXPECT_EQ(summary["rho"]["method"], "exact"); // 4 clients: 6 edges
    EXPECT_GT(picked, 1u);                        // p = 0.02 mixes slowly
    EXPECT_NE(tadlora::test::Slurp(out / "config.toml")
                  .find("switch-interval = " + std::to_string(picked) + "\n"),
              std::string::npos);
}

TEST(CommandLine, PrintRhoPrintsOneLineAndRunsNothing)
{
    const fs::path out = fs::path(tadlora::test::TempDir()) / "cli-print-rho";
    const fs::path printed = fs::path(tadlora::test::TempDir()) / "print-rho.txt";
    const std::string command = std::string(TADLORA_SIM) +
                                " --clients 10 --link-prob 0.1 --print-rho --out " + out.string() +
                                " >" + printed.string();
    ASSERT_EQ(std::system(command.c_str()), 0);
    const std::string line = tadlora::test::Slurp(printed);
    const tadlora::Connectivity connectivity =
        tadlora::MixingConnectivity(tadlora::MakeBaseGraph("complete", 10, 1), 10, 0.1);
    const double rho = connectivity.rho;
    std::ostringstream expected;
    expected << "rho = " << std::setprecision(6) << rho << " ± " << std::setprecision(2)
             << connectivity.standardError << " (Monte Carlo, 8000 edge sets drawn";
    EXPECT_EQ(line.rfind(expected.str(), 0), 0u) << line;
    EXPECT_NE(line.find("picks T = " + std::to_string(tadlora::AutoSwitchInterval(rho))),
              std::string::npos)
        << line;
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
    EXPECT_FALSE(fs::exists(out));
}

TEST(CommandLine, EveryClientAttributeDefaultsToItsOptionsDefault)
{
    // In a Wi-Fi run every option of the table applies; ClientId and Port are set per node.
    ns3::TadLoraConfig defaults;
    defaults.exchange.network = ns3::TadLoraNetwork::WifiAdhoc;
    CLI::App app;
    ns3::TadLoraConfig parsed;
    ns3::AddTadLoraOptions(app, parsed);
    const ns3::TypeId tid = ns3::TadLoraClient::GetTypeId();
    std::set<std::string> covered{"ClientId", "Port"};
    for (const ns3::TadLoraOptionAttribute& entry : ns3::TadLoraOptionAttributes())
    {
        EXPECT_NO_THROW(app.get_option(entry.option)) << entry.option;
        ns3::TypeId::AttributeInformation info;
        ASSERT_TRUE(tid.LookupAttributeByName(entry.attribute, &info)) << entry.attribute;
        EXPECT_EQ(entry.value(defaults)->SerializeToString(info.checker),
                  info.initialValue->SerializeToString(info.checker))
            << entry.option << " -> " << entry.attribute;
        covered.insert(entry.attribute);
    }
    // Every attribute is either in the table or set per node.
    EXPECT_EQ(covered.size(), tid.GetAttributeN());
    // And in a point-to-point run the Wi-Fi-only ones are off.
    ns3::TadLoraConfig p2p;
    for (const ns3::TadLoraOptionAttribute& entry : ns3::TadLoraOptionAttributes())
    {
        if (std::string(entry.attribute) == "Warmup" ||
            std::string(entry.attribute) == "BeaconInterval")
        {
            const auto time = ns3::DynamicCast<ns3::TimeValue>(entry.value(p2p));
            ASSERT_TRUE(time) << entry.attribute;
            EXPECT_TRUE(time->Get().IsZero()) << entry.attribute;
        }
    }
}
