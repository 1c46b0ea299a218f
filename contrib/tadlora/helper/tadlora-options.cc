// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-options.h"

#include "tadlora-method.h"

#include <CLI/CLI.hpp>

namespace ns3
{

void
AddTadLoraOptions(CLI::App& app, TadLoraConfig& c)
{
    app.set_config("--config", "", "Scenario file (TOML); the command line overrides it");
    app.allow_config_extras(CLI::config_extras_mode::error);
    app.option_defaults()->always_capture_default();
    // CLI11 captures no default for flags: state it, so that a run's config.toml records it.
    auto flag = [&app](const std::string& name, bool& value, const std::string& help)
    { app.add_flag(name, value, help)->default_str(value ? "true" : "false"); };

    app.add_option("--method", c.method, "Decentralized LoRA method")
        ->check(CLI::IsMember(tadlora::Method::Names()));
    app.add_option("--clients", c.clients, "Number of clients m")->check(CLI::Range(2, 1000));
    app.add_option("--rounds", c.rounds, "Communication rounds")->check(CLI::Range(1, 1000000));
    app.add_option("--local-steps", c.localSteps, "Local optimizer steps K per round")
        ->check(CLI::Range(0, 100000));
    app.add_option("--batch-size", c.batchSize, "Samples per local step")
        ->check(CLI::Range(1, 65536));
    app.add_option("--lr", c.lr, "AdamW learning rate")->check(CLI::Range(0.0, 10.0));
    app.add_option("--weight-decay", c.weightDecay, "AdamW weight decay")
        ->check(CLI::Range(0.0, 1.0));
    flag("--keep-optimizer-state", c.keepOptimizerState,
         "Keep each client's AdamW moments across rounds (default: fresh each round)");
    app.add_option("--rank", c.rank, "LoRA rank r")->check(CLI::Range(1, 1024));
    app.add_option("--alpha", c.alpha, "LoRA alpha (scale alpha / r)")->check(CLI::Range(0.0, 1e6));
    app.add_option("--switch-interval", c.switchInterval,
                   "Switching interval T of alternating methods")
        ->check(CLI::Range(1, 1000000));

    app.add_option("--link-prob", c.linkProb, "Probability p that a base edge is active in a round")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--topology", c.topology,
                   "Base graph: complete, ring, grid, erdos-renyi:P, geometric:R, "
                   "small-world:K:BETA, edges:PATH, dot:PATH");
    app.add_option("--network", c.network, "Network model")->check(CLI::IsMember({"p2p"}));
    app.add_option("--data-rate", c.dataRate, "Point-to-point link data rate (ns-3 DataRate)");
    app.add_option("--link-delay-ms", c.linkDelayMs, "Point-to-point propagation delay")
        ->check(CLI::Range(0.0, 1e6));
    app.add_option("--link-loss", c.linkLoss, "Packet error rate of every link")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--step-time-s", c.stepTimeS, "Simulated seconds per local step")
        ->check(CLI::Range(0.0, 1e6));
    app.add_option("--round-deadline-s", c.roundDeadlineS,
                   "Seconds after the exchange starts until messages stop counting")
        ->check(CLI::Range(1e-6, 1e6));
    app.add_option("--fragment-size", c.fragmentSize, "UDP payload per fragment, bytes")
        ->check(CLI::Range(64, 65507));

    app.add_option("--task", c.task, "Learning task")
        ->check(CLI::IsMember({"fashion-mnist", "synthetic"}));
    app.add_option("--partition", c.partition, "Data partition: label-skew, dirichlet:ALPHA, iid");
    app.add_option("--data-dir", c.dataDir, "Fashion-MNIST directory (gzip IDX files)");
    app.add_option("--test-samples", c.testSamples, "Held-out samples evaluated (0: all)")
        ->check(CLI::Range(0, 10000000));
    app.add_option("--pretrain-steps", c.pretrainSteps, "Steps of the base's pretraining")
        ->check(CLI::Range(0, 10000000));
    app.add_option("--cache-dir", c.cacheDir, "Where pretrained bases are cached");

    app.add_option("--seed", c.seed, "Seed of every random stream of the run");
    app.add_option("--eval-every", c.evalEvery, "Evaluate every N rounds (the last always)")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--threads", c.threads, "LibTorch threads (0: one per core)")
        ->check(CLI::Range(0, 1024));
    app.add_option("--out", c.out, "Output directory");
    flag("--pcap", c.pcap, "Write PCAP traces of every link");
    flag("--flow-monitor", c.flowMonitor, "Write FlowMonitor XML");
    flag("--quiet", c.quiet, "No progress on stderr");
}

std::vector<TadLoraSetting>
TadLoraSettings(const TadLoraConfig& config)
{
    TadLoraConfig copy = config;
    CLI::App app;
    AddTadLoraOptions(app, copy);
    std::vector<TadLoraSetting> settings;
    for (const CLI::Option* option : app.get_options())
    {
        const std::string name = option->get_single_name();
        if (name == "help" || name == "config")
        {
            continue;
        }
        const std::string type = option->get_type_name();
        TadLoraSetting::Kind kind = TadLoraSetting::Kind::Text;
        if (option->get_expected_min() == 0)
        {
            kind = TadLoraSetting::Kind::Flag;
        }
        else if (type.rfind("UINT", 0) == 0 || type.rfind("INT", 0) == 0 ||
                 type.rfind("FLOAT", 0) == 0)
        {
            kind = TadLoraSetting::Kind::Number;
        }
        settings.push_back({name, option->get_default_str(), kind});
    }
    return settings;
}

std::string
TadLoraConfigToToml(const TadLoraConfig& config)
{
    std::string toml = "# tadlora scenario: the effective configuration of a run\n";
    for (const TadLoraSetting& s : TadLoraSettings(config))
    {
        const bool quoted = s.kind == TadLoraSetting::Kind::Text;
        toml += s.name + " = " + (quoted ? "\"" + s.value + "\"" : s.value) + "\n";
    }
    return toml;
}

} // namespace ns3
