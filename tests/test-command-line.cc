// SPDX-License-Identifier: GPL-2.0-only
// build/tadlora-sim as users run it: bad input exits with status 2 and one line, writes nothing;
// a run's config.toml reproduces the run.

#include "tadlora-test-task.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
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

} // namespace

TEST(CommandLine, BadInputExitsWithStatus2AndOneLineNamingTheOption)
{
    const fs::path dir = fs::path(tadlora::test::TempDir()) / "bad-input";
    fs::create_directories(dir);
    const fs::path unknownKey = dir / "unknown-key.toml";
    std::ofstream(unknownKey) << "clients = 4\nwarp-speed = 9\n";
    const fs::path badValue = dir / "bad-value.toml";
    std::ofstream(badValue) << "clients = 0\n";
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
        {"--network wifi-adhoc --fading rician", "--fading"},
        {"--network wifi-adhoc --area-m 0", "--area-m"},
        {"--hop-limit 300", "--hop-limit"},
        {"--task imagenet", "--task"},
        {"--data-dir /nonexistent", "--data-dir"},
        {"--task spam-assassin --data-dir /nonexistent", "scripts/setup.sh"},
        {"--config /nonexistent/scenario.toml", "scenario.toml"},
        {"--config " + unknownKey.string(), "warp-speed"},
        {"--config " + badValue.string(), "--clients"},
        {"--no-such-option 3", "--no-such-option"},
    };
    for (const auto& [args, mention] : cases)
    {
        const fs::path out = dir / "out";
        const Result r = RunSim(args + " --out " + out.string());
        EXPECT_EQ(r.status, 2) << args << ": " << r.stderrText;
        EXPECT_NE(r.stderrText.find(mention), std::string::npos) << args << ": " << r.stderrText;
        EXPECT_EQ(std::count(r.stderrText.begin(), r.stderrText.end(), '\n'), 1)
            << args << ": " << r.stderrText;
        EXPECT_FALSE(fs::exists(out)) << args;
    }
    for (const auto& entry : fs::directory_iterator(dir))
    {
        EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << entry.path();
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
    ASSERT_EQ(
        RunSim("--config " + (first / "config.toml").string() + " --out " + second.string()).status,
        0);
    EXPECT_EQ(tadlora::test::Slurp(first / "rounds.csv"),
              tadlora::test::Slurp(second / "rounds.csv"));
}
