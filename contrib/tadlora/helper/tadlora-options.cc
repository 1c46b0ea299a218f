// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-options.h"

#include "tadlora-device-profile.h"
#include "tadlora-method.h"
#include "tadlora-pretrain.h"
#include "tadlora-transformer.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>

namespace ns3
{
namespace
{

/** The word --switch-interval takes besides numbers. */
const std::string kAutoWord = "auto";

/** Options a sweep sets for every run (scripts/sweep.py's RUNNER_OPTIONS): never swept. */
const std::set<std::string> kRunnerOptions{"config", "out", "quiet", "threads"};

/** @return a TOML value's type, as the TOML specification names it */
std::string
TomlTypeName(const toml::node& node)
{
    switch (node.type())
    {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::table:
            return "a table";
        default:
            return "a date or time";
    }
}

/**
 * @brief Scenario files: TOML read by toml++, so TOML's own syntax holds (1_000, 1e-3, 0x10,
 * comments, any quoting), and each value must be of its option's type: an integer for a count,
 * an integer or a float for a real number, a boolean for a flag, a string for text (and
 * "auto" for --switch-interval). CLI11 then takes each value as the option's text, with the
 * option's own checks. The [sweep] table holds the grid axes scripts/sweep.py expands (an axis
 * lists values of its option, or tables of options set together): a single run checks it as
 * sweep.py does, each value typed as its option's, and runs the base point.
 */
class ScenarioFileReader : public CLI::ConfigTOML
{
public:
    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override
    {
        const std::string text{std::istreambuf_iterator<char>(input), {}};
        toml::table table;
        try
        {
            table = toml::parse(text);
        }
        catch (const toml::parse_error& e)
        {
            throw CLI::ConfigError("--config: line " + std::to_string(e.source().begin.line) +
                                   ": " + std::string(e.description()));
        }
        std::map<std::string, TadLoraSetting::Kind> kinds;
        for (const TadLoraSetting& s : TadLoraSettings(TadLoraConfig()))
        {
            kinds.emplace(s.name, s.kind);
        }
        std::vector<CLI::ConfigItem> items;
        for (const auto& [key, node] : table)
        {
            const std::string name(key.str());
            if (name == "sweep")
            {
                CheckSweep(node, kinds);
                continue;
            }
            if (node.is_table())
            {
                throw CLI::ConfigError(Where(node, "[" + name + "]") +
                                       ": unknown table; [sweep] is the only one");
            }
            CLI::ConfigItem item;
            item.name = name;
            item.inputs = {OptionText(name, node, kinds, "")};
            items.push_back(std::move(item));
        }
        return items;
    }

private:
    /** @return where a value is, for an error: "--config: line N: " and its key */
    static std::string Where(const toml::node& node, const std::string& key)
    {
        return "--config: line " + std::to_string(node.source().begin.line) + ": " + key;
    }

    /**
     * @return a scalar value as its option's text
     * @throws CLI::ConfigError for an unknown option or a value of another type
     */
    static std::string OptionText(const std::string& name, const toml::node& node,
                                  const std::map<std::string, TadLoraSetting::Kind>& kinds,
                                  const std::string& table)
    {
        const auto kind = kinds.find(name);
        if (kind == kinds.end())
        {
            throw CLI::ConfigError(Where(node, table) + TadLoraUnknownOption(name));
        }
        const std::string key = table + name;
        std::string needed;
        switch (kind->second)
        {
            case TadLoraSetting::Kind::Flag:
                if (const auto b = node.value_exact<bool>())
                {
                    return *b ? "true" : "false";
                }
                needed = "a boolean (true or false)";
                break;
            case TadLoraSetting::Kind::Integer:
                if (const auto i = node.value_exact<int64_t>())
                {
                    return std::to_string(*i);
                }
                if (name == "switch-interval" && node.value_exact<std::string>() == kAutoWord)
                {
                    return kAutoWord;
                }
                needed = name == "switch-interval" ? "an integer or \"auto\"" : "an integer";
                break;
            case TadLoraSetting::Kind::Number:
                if (const auto i = node.value_exact<int64_t>())
                {
                    return std::to_string(*i);
                }
                if (const auto x = node.value_exact<double>())
                {
                    char buffer[64];
                    const auto end = std::to_chars(buffer, buffer + sizeof buffer, *x).ptr;
                    return std::string(buffer, end);
                }
                needed = "a number";
                break;
            case TadLoraSetting::Kind::Text:
                if (const auto t = node.value_exact<std::string>())
                {
                    return *t;
                }
                needed = "a string";
                break;
        }
        throw CLI::ConfigError(Where(node, key) + ": --" + name + " takes " + needed + ", not " +
                               TomlTypeName(node));
    }

    /**
     * @brief Check one swept value: its option is no runner's, and the value is of its type.
     * @param where where the value is, for an error
     * @param table the value's table, as OptionText names it
     */
    static void CheckSwept(const std::string& option, const toml::node& value,
                           const std::string& where,
                           const std::map<std::string, TadLoraSetting::Kind>& kinds,
                           const std::string& table)
    {
        if (kRunnerOptions.count(option) != 0)
        {
            throw CLI::ConfigError(where + ": set by the sweep for every run, it cannot be swept");
        }
        OptionText(option, value, kinds, table);
    }

    /** @brief Check the [sweep] table as scripts/sweep.py's grid() does. */
    static void CheckSweep(const toml::node& sweep,
                           const std::map<std::string, TadLoraSetting::Kind>& kinds)
    {
        const toml::table* axes = sweep.as_table();
        if (axes == nullptr)
        {
            throw CLI::ConfigError(Where(sweep, "sweep") +
                                   ": must be a table [sweep] of option = [values]");
        }
        std::set<std::string> swept;
        for (const auto& [key, values] : *axes)
        {
            const std::string name(key.str());
            const std::string where = Where(values, "[sweep] " + name);
            const toml::array* list = values.as_array();
            if (list == nullptr)
            {
                throw CLI::ConfigError(where + ": a list of values is needed, not " +
                                       TomlTypeName(values));
            }
            if (list->empty())
            {
                throw CLI::ConfigError(where + ": the list of values is empty");
            }
            // An axis of tables sets several options together (scripts/sweep.py's grid()).
            const bool tables = list->front().is_table();
            const toml::table* first = list->front().as_table();
            for (const toml::node& value : *list)
            {
                if (value.is_table() != tables)
                {
                    throw CLI::ConfigError(where + ": either every value is a table of options "
                                                   "or none is");
                }
                if (!tables)
                {
                    CheckSwept(name, value, where, kinds, "[sweep] ");
                    continue;
                }
                const toml::table& point = *value.as_table();
                if (point.empty())
                {
                    throw CLI::ConfigError(where + ": a table of options is empty");
                }
                bool same = point.size() == first->size();
                for (const auto& [option, setting] : point)
                {
                    same = same && first->contains(option.str());
                    CheckSwept(std::string(option.str()), setting,
                               Where(setting, "[sweep] " + name + "." + std::string(option.str())),
                               kinds, "[sweep] " + name + ".");
                }
                if (!same)
                {
                    throw CLI::ConfigError(where + ": every table must set the same options");
                }
            }
            std::vector<std::string> options{name}; // what the axis sets
            if (tables)
            {
                options.clear();
                for (const auto& [option, setting] : *first)
                {
                    options.emplace_back(option.str());
                }
            }
            for (const std::string& option : options)
            {
                if (!swept.insert(option).second)
                {
                    throw CLI::ConfigError(where + ": " + option + " is swept by another axis too");
                }
            }
        }
    }
};

/** @brief Declare a choice option: its spellings are checked and parsed into the enum. */
template<typename E>
CLI::Option*
AddChoice(CLI::App& app, const std::string& name, E& value, const std::string& help)
{
    // The option keeps the text it was given (config.toml writes it back); the enum takes
    // its parsed value.
    return app
        .add_option_function<std::string>(
            name, [&value](const std::string& s) { value = TadLoraParseChoice<E>(s); }, help)
        ->check(CLI::IsMember(TadLoraChoiceNames<E>()))
        ->default_str(TadLoraChoiceName(value));
}

/**
 * @brief A check that takes what `parse` takes and otherwise says what it throws.
 * @param parse reads an option's text; throws std::invalid_argument for bad text
 */
CLI::Validator
Parses(const std::function<void(const std::string&)>& parse, const std::string& type,
       const std::string& name)
{
    return CLI::Validator(
        [parse](const std::string& text)
        {
            try
            {
                parse(text);
                return std::string();
            }
            catch (const std::invalid_argument& e)
            {
                return std::string(e.what());
            }
        },
        type, name);
}

/** @brief NaN and infinities pass CLI11's ranges (every comparison with NaN is false). */
const CLI::Validator kFinite(
    [](const std::string& value)
    {
        double x = 0;
        return CLI::detail::lexical_cast(value, x) && !std::isfinite(x)
                   ? "must be a finite number, not " + value
                   : std::string();
    },
    "FINITE", "Finite");

/** @brief CLI11 reads "-1" into an unsigned option as 2^64 - 1. */
const CLI::Validator kNotNegative(
    [](const std::string& value)
    {
        return !value.empty() && value.front() == '-' ? "must not be negative, not " + value
                                                      : std::string();
    },
    "NONNEGATIVE", "NotNegative");

/** @brief Put the options declared since `from` in a group of --help, and of the checks. */
void
Group(CLI::App& app, size_t from, const std::string& group)
{
    const std::vector<CLI::Option*> options = app.get_options({});
    for (size_t k = from; k < options.size(); ++k)
    {
        options[k]->group(group);
    }
}

/** @return the edit distance between two names (Levenshtein) */
size_t
Distance(const std::string& a, const std::string& b)
{
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
    {
        row[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i)
    {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
        {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

/** @brief One choice's table, defined where TadLoraChoiceNames is declared for it. */
#define TADLORA_CHOICE(E, ...)                                    \
    template<>                                                    \
    const std::vector<std::string>& TadLoraChoiceNames<E>()       \
    {                                                             \
        static const std::vector<std::string> names{__VA_ARGS__}; \
        return names;                                             \
    }                                                             \
    template E TadLoraParseChoice<E>(const std::string&)

} // namespace

template<typename E>
E
TadLoraParseChoice(const std::string& name)
{
    const std::vector<std::string>& names = TadLoraChoiceNames<E>();
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end())
    {
        std::string allowed;
        for (const std::string& n : names)
        {
            allowed += (allowed.empty() ? "" : ", ") + n;
        }
        throw std::invalid_argument("'" + name + "' is not one of " + allowed);
    }
    return static_cast<E>(it - names.begin());
}

TADLORA_CHOICE(TadLoraTask, "fashion-mnist", "synthetic", "spam-assassin");
TADLORA_CHOICE(TadLoraNetwork, "p2p", "wifi-adhoc");
TADLORA_CHOICE(TadLoraP2pLayout, "auto", "edges", "core");
TADLORA_CHOICE(TadLoraTraceLevel, "auto", "summary", "links", "full");
TADLORA_CHOICE(TadLoraTransportKind, "udp", "broadcast", "tcp");
TADLORA_CHOICE(TadLoraWifiStandard, "80211a", "80211g", "80211n");
TADLORA_CHOICE(TadLoraRateControl, "constant", "minstrel", "ideal");
TADLORA_CHOICE(TadLoraPropagation, "log-distance", "friis");
TADLORA_CHOICE(TadLoraFading, "none", "rayleigh", "nakagami");
TADLORA_CHOICE(TadLoraPlacement, "random-rect", "random-disc", "grid");
TADLORA_CHOICE(TadLoraMobility, "static", "random-waypoint", "gauss-markov", "ns2");
TADLORA_CHOICE(TadLoraRouting, "none", "olsr", "aodv");
TADLORA_CHOICE(tadlora::ByzantineMode, "random", "nan", "scaled");

void
AddTadLoraOptions(CLI::App& app, TadLoraConfig& c)
{
    app.set_config("--config", "", "Scenario file (TOML); the command line overrides it");
    app.config_formatter(std::make_shared<ScenarioFileReader>());
    app.allow_config_extras(CLI::config_extras_mode::error);
    app.option_defaults()->always_capture_default();
    // CLI11 captures no default for flags: state it, so that a run's config.toml records it.
    auto flag = [&app](const std::string& name, bool& value, const std::string& help)
    { app.add_flag(name, value, help)->default_str(value ? "true" : "false"); };

    app.add_option("--method", c.learning.method, "Decentralized LoRA method")
        ->check(CLI::IsMember(tadlora::Method::Names()));
    app.add_option("--clients", c.run.clients, "Number of clients m")->check(CLI::Range(2, 1000));
    app.add_option("--rounds", c.run.rounds, "Communication rounds")->check(CLI::Range(1, 1000000));
    app.add_option("--local-steps", c.learning.localSteps, "Local optimizer steps K per round")
        ->check(CLI::Range(0, 100000));
    app.add_option("--batch-size", c.learning.batchSize, "Samples per local step")
        ->check(CLI::Range(1, 65536));
    app.add_option("--lr", c.learning.lr, "AdamW learning rate")->check(CLI::Range(0.0, 10.0));
    app.add_option("--weight-decay", c.learning.weightDecay, "AdamW weight decay")
        ->check(CLI::Range(0.0, 1.0));
    flag("--keep-optimizer-state", c.learning.keepOptimizerState,
         "Keep each client's AdamW moments across rounds (default: fresh each round)");
    app.add_option("--rank", c.learning.rank, "LoRA rank r")->check(CLI::Range(1, 1024));
    app.add_option("--lora-targets", c.learning.loraTargets,
                   "Projections LoRA adapts in every block: q, k, v, o, ff1, ff2, "
                   "comma-separated, or all")
        ->check(Parses([](const std::string& text) { tadlora::ParseLoraTargets(text); }, "TARGETS",
                       "LoraTargets"));
    app.add_option("--alpha", c.learning.alpha, "LoRA alpha (scale alpha / r)")
        ->check(CLI::Range(0.0, 1e6));
    app.add_option("--switch-interval", c.learning.switchInterval,
                   "Switching interval T of alternating methods, or auto: T from the graph's rho")
        ->transform(CLI::Validator(
            [](std::string& value)
            {
                if (value == kAutoWord)
                {
                    value = std::to_string(kAutoSwitchInterval);
                    return std::string();
                }
                return CLI::Range(1, 1000000)(value);
            },
            "POSITIVE or auto", "SwitchInterval"));
    app.add_option("--phase-jitter", c.learning.phaseJitter,
                   "Asynchronous switching: each client's phase boundaries lag by 0..N rounds")
        ->check(CLI::Range(0, 1000000));

    app.add_option("--link-prob", c.exchange.linkProb,
                   "Probability p that a base edge is active in a round")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--topology", c.exchange.topology,
                   "Base graph: complete, ring, grid, erdos-renyi:P, geometric:R, "
                   "small-world:K:BETA, edges:PATH, dot:PATH");
    AddChoice(app, "--network", c.exchange.network, "Network model");
    AddChoice(app, "--transport", c.exchange.transport,
              "How factors travel: udp (unicast), broadcast (one-hop), tcp");
    app.add_option("--step-time-s", c.exchange.stepTimeS, "Simulated seconds per local step")
        ->check(CLI::Range(0.0, 1e6));
    app.add_option("--device-profile", c.exchange.deviceProfile,
                   "Each client's device, which sets its seconds per local step and compute "
                   "power: none (--step-time-s), rpi-zero2w, rpi4, jetson-nano, laptop, or "
                   "mix:NAME=SHARE,... assigned from the seed")
        ->check(Parses([](const std::string& text) { TadLoraParseDeviceProfile(text); }, "PROFILE",
                       "DeviceProfile"));
    app.add_option("--round-deadline-s", c.exchange.roundDeadlineS,
                   "Longest exchange phase of a round, seconds")
        ->check(CLI::Range(1e-6, 1e6));
    app.add_option("--confirm-timeout-s", c.exchange.confirmTimeoutS,
                   "Longest confirmation phase of a round, seconds")
        ->check(CLI::Range(1e-6, 1e6));
    app.add_option("--exchange-jitter-s", c.exchange.exchangeJitterS,
                   "Longest random wait between training and sending, seconds")
        ->check(CLI::Range(0.0, 1e6));
    app.add_option("--fragment-size", c.exchange.fragmentSize,
                   "Bytes per fragment, header included")
        ->check(CLI::Range(64, 65507));
    app.add_option("--virtual-payload-bytes", c.exchange.virtualPayloadBytes,
                   "Send each factor message padded to this size (0: real size)")
        ->check(CLI::Range(0, 1 << 30));
    app.add_option("--compress", c.exchange.compress,
                   "Factors on the wire: none (float32), fp16, int8 (a scale per row) or topk:F "
                   "(the largest fraction F, with error feedback)")
        ->check(
            Parses([](const std::string& text) { tadlora::Codec::Parse(text); }, "CODEC", "Codec"));
    app.add_option("--send-rate", c.exchange.sendRate,
                   "Pace of UDP fragments per client (0bps: unpaced)");
    app.add_option("--hop-limit", c.exchange.hopLimit,
                   "IP TTL of the clients' unicast (0: IP default)")
        ->check(CLI::Range(0, 255));
    app.add_option("--max-factor-value", c.exchange.maxFactorValue,
                   "Refuse a received factor message holding a value of larger magnitude")
        ->check(CLI::Range(1e-6, 1e30));

    const size_t faultOptions = app.get_options({}).size();
    app.add_option("--fault-corrupt-prob", c.faults.corruptProb,
                   "Corrupt one payload byte of each received fragment with this probability")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--fault-byzantine", c.faults.byzantine,
                   "Clients, drawn from the seed, that send hostile values in place of their "
                   "factors (metrics count the honest clients only)")
        ->check(CLI::Range(0, 999));
    AddChoice(app, "--fault-byzantine-mode", c.faults.byzantineMode,
              "What Byzantine clients send: random (noise of the factor's RMS), nan, scaled");
    app.add_option("--fault-byzantine-scale", c.faults.byzantineScale,
                   "Byzantine mode scaled: the factor times this");
    Group(app, faultOptions, kTadLoraFaultGroup);

    const size_t p2pOptions = app.get_options({}).size();
    app.add_option("--data-rate", c.p2p.dataRate, "p2p: link data rate (ns-3 DataRate)");
    app.add_option("--link-delay-ms", c.p2p.linkDelayMs, "p2p: propagation delay")
        ->check(CLI::Range(0.0, 1e6));
    app.add_option("--link-loss", c.p2p.linkLoss, "p2p: packet error rate of every link")
        ->check(CLI::Range(0.0, 1.0));
    AddChoice(app, "--p2p-layout", c.p2p.layout,
              "p2p: edges (a link per base edge), core (each client's access link into a "
              "shared core switch), or auto (core for dense base graphs)");

    Group(app, p2pOptions, kTadLoraP2pGroup);
    const size_t wifiOptions = app.get_options({}).size();
    AddChoice(app, "--wifi-standard", c.wifi.wifiStandard, "Wi-Fi: 802.11 standard");
    AddChoice(app, "--rate-control", c.wifi.rateControl, "Wi-Fi: rate control");
    app.add_option("--wifi-mode", c.wifi.wifiMode,
                   "Wi-Fi: data mode of constant rate control (default: the standard's lowest)");
    flag("--rts-cts", c.wifi.rtsCts, "Wi-Fi: RTS/CTS before every unicast frame (hidden nodes)");
    app.add_option("--tx-power-dbm", c.wifi.txPowerDbm, "Wi-Fi: transmit power")
        ->check(CLI::Range(-50.0, 50.0));
    AddChoice(app, "--propagation", c.wifi.propagation, "Wi-Fi: path loss model");
    app.add_option("--path-loss-exponent", c.wifi.pathLossExponent, "Wi-Fi: log-distance exponent")
        ->check(CLI::Range(1.0, 8.0));
    AddChoice(app, "--fading", c.wifi.fading, "Wi-Fi: fading on top of the path loss");
    app.add_option("--nakagami-m", c.wifi.nakagamiM, "Wi-Fi: Nakagami shape m")
        ->check(CLI::Range(0.5, 100.0));
    app.add_option("--area-m", c.wifi.areaM, "Wi-Fi: side of the square area (diameter of a disc)")
        ->check(CLI::Range(1.0, 1e6));
    AddChoice(app, "--placement", c.wifi.placement, "Wi-Fi: initial placement");
    // A trace is named with its file (ns2:FILE), which config.toml writes back.
    const std::string ns2 = TadLoraChoiceName(TadLoraMobility::Ns2) + ":";
    app.add_option_function<std::string>(
           "--mobility",
           [&c, ns2](const std::string& s)
           {
               const bool trace = s.rfind(ns2, 0) == 0;
               c.wifi.mobility =
                   trace ? TadLoraMobility::Ns2 : TadLoraParseChoice<TadLoraMobility>(s);
               c.wifi.mobilityTrace = trace ? s.substr(ns2.size()) : std::string();
           },
           "Wi-Fi: mobility model: static, random-waypoint, gauss-markov, or ns2:FILE (an ns-2 "
           "movement trace, as SUMO exports it)")
        ->check(CLI::Validator(
            [ns2](const std::string& s)
            {
                if (s.rfind(ns2, 0) == 0)
                {
                    return s.size() > ns2.size() ? std::string()
                                                 : "ns2: needs a trace file, ns2:FILE";
                }
                const auto& names = TadLoraChoiceNames<TadLoraMobility>();
                const bool named = std::find(names.begin(), names.end(), s) != names.end();
                return named && s + ":" != ns2
                           ? std::string()
                           : s + " is not static, random-waypoint, gauss-markov or ns2:FILE";
            },
            "MOBILITY", "Mobility"))
        ->default_str(c.wifi.mobility == TadLoraMobility::Ns2 ? ns2 + c.wifi.mobilityTrace
                                                              : TadLoraChoiceName(c.wifi.mobility));
    app.add_option("--speed-mps", c.wifi.speedMps, "Wi-Fi: speed of mobile nodes")
        ->check(CLI::Range(0.0, 1000.0));
    app.add_option("--pause-s", c.wifi.pauseS, "Wi-Fi: random waypoint pause")
        ->check(CLI::Range(0.0, 1e6));
    AddChoice(app, "--routing", c.wifi.routing, "Wi-Fi: routing (none: one hop)");
    app.add_option("--warmup-s", c.wifi.warmupS,
                   "Wi-Fi: seconds the network runs before round 0 (routing converges)")
        ->check(CLI::Range(0.0, 1e6));
    app.add_option("--beacon-interval-s", c.wifi.beaconIntervalS,
                   "Wi-Fi, one hop: neighbour-discovery beacon period (0: off)")
        ->check(CLI::Range(0.0, 1e6));
    Group(app, wifiOptions, kTadLoraWifiGroup);

    AddChoice(app, "--task", c.learning.task, "Learning task");
    app.add_option("--partition", c.learning.partition,
                   "Data partition: label-skew, dirichlet:ALPHA, iid");
    app.add_option("--data-dir", c.learning.dataDir,
                   "Data directory: fashion-mnist's gzip IDX files, or spam-assassin's npm "
                   "package data/ (default: where scripts/setup.sh installs them)");
    app.add_option("--test-samples", c.learning.testSamples, "Held-out samples evaluated (0: all)")
        ->check(CLI::Range(0, 10000000));
    app.add_option("--model-width", c.learning.modelWidth,
                   "Model: residual width d (feed-forward 2 d)")
        ->check(CLI::Range(1, 4096));
    app.add_option("--model-layers", c.learning.modelLayers, "Model: encoder blocks")
        ->check(CLI::Range(1, 64));
    app.add_option("--model-heads", c.learning.modelHeads,
                   "Model: attention heads (must divide the width)")
        ->check(CLI::Range(1, 4096));
    app.add_option("--patch-size", c.learning.patchSize,
                   "Image tasks: side of the square patches each image is cut into (divides 28)")
        ->check(CLI::IsMember({1, 2, 4, 7, 14, 28}));
    app.add_option("--pretrain", c.learning.pretrain,
                   "How the frozen base and head are pretrained: masked (masked tokens, every "
                   "training input, random head) or supervised (base and head on a labelled "
                   "split no client holds)")
        ->check(CLI::IsMember(tadlora::PretrainConfig::Objectives()));
    app.add_option("--pretrain-samples", c.learning.pretrainSamples,
                   "Supervised pretraining: training samples held out for the base (0: a "
                   "twelfth of the task's, 5000 of Fashion-MNIST's 60000)")
        ->check(CLI::Range(0, 10000000));
    app.add_option("--pretrain-steps", c.learning.pretrainSteps, "Steps of the base's pretraining")
        ->check(CLI::Range(0, 10000000));
    app.add_option("--cache-dir", c.learning.cacheDir, "Where pretrained bases are cached");

    app.add_option("--seed", c.run.seed, "Seed of every random stream of the run");
    app.add_option("--eval-every", c.run.evalEvery, "Evaluate every N rounds (the last always)")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--threads", c.run.threads, "LibTorch threads (0: one per core)")
        ->check(CLI::Range(0, 1024));
    app.add_option("--out", c.run.out, "Output directory");
    flag("--pcap", c.run.pcap, "Write PCAP traces of every link");
    flag("--flow-monitor", c.run.flowMonitor, "Write FlowMonitor XML");
    flag("--netanim", c.run.netanim, "Write a NetAnim trace of the nodes' positions");
    AddChoice(app, "--trace-level", c.run.traceLevel,
              "Network traces: summary (network.csv), links (and links.csv), full (and "
              "messages.csv, mixing.csv), or auto (full up to " +
                  std::to_string(kFullTraceMaxClients) + " clients, links above)");
    flag("--quiet", c.run.quiet, "No progress on stderr");
    app.add_option("--checkpoint-every", c.run.checkpointEvery,
                   "Every N rounds, put the outputs so far and a checkpoint in --out (0: never)")
        ->check(CLI::Range(0, 1000000));
    flag("--resume", c.run.resume,
         "Resume the stopped or killed run in --out from its checkpoint, with the options it "
         "started with; it ends exactly as if it had never stopped");
    flag("--print-rho", c.run.printRho,
         "Print rho of the base graph and p, and the switching interval auto picks; run nothing");

    for (CLI::Option* option : app.get_options({}))
    {
        const std::string type = option->get_type_name();
        if (type.rfind("FLOAT", 0) == 0)
        {
            option->check(kFinite);
        }
        else if (type.rfind("UINT", 0) == 0)
        {
            option->check(kNotNegative);
        }
    }
}

std::string
TadLoraUnknownOption(const std::string& name)
{
    const std::string given = name.substr(std::min(name.find_first_not_of('-'), name.size()));
    std::string bare = given;
    std::replace(bare.begin(), bare.end(), '_', '-');
    std::vector<std::pair<size_t, std::string>> known;
    for (const TadLoraSetting& s : TadLoraSettings(TadLoraConfig()))
    {
        known.emplace_back(Distance(bare, s.name), s.name);
    }
    std::stable_sort(known.begin(), known.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    std::string nearest;
    for (size_t k = 0; k < 3 && k < known.size(); ++k)
    {
        nearest += (k ? ", --" : "--") + known[k].second;
    }
    if (bare != given && known.front().first == 0)
    {
        return "unknown option '" + given + "': options are spelled with dashes, --" + bare;
    }
    return "unknown option '" + given + "' (nearest: " + nearest +
           "; tadlora-sim --help lists all)";
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
        else if (type.rfind("UINT", 0) == 0 || type.rfind("INT", 0) == 0)
        {
            kind = TadLoraSetting::Kind::Integer;
        }
        else if (type.rfind("FLOAT", 0) == 0)
        {
            kind = TadLoraSetting::Kind::Number;
        }
        settings.push_back({name, option->get_default_str(), kind, option->get_group()});
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

tadlora::FederationConfig
TadLoraFederationConfig(const TadLoraConfig& c)
{
    tadlora::FederationConfig fc;
    fc.method = c.learning.method;
    fc.switchInterval = c.learning.switchInterval;
    fc.phaseJitter = c.learning.phaseJitter;
    fc.localSteps = c.learning.localSteps;
    fc.batchSize = c.learning.batchSize;
    fc.lr = c.learning.lr;
    fc.weightDecay = c.learning.weightDecay;
    fc.keepOptimizerState = c.learning.keepOptimizerState;
    fc.seed = c.run.seed;
    fc.maxFactorValue = c.exchange.maxFactorValue;
    fc.byzantine = c.faults.byzantine;
    fc.byzantineMode = c.faults.byzantineMode;
    fc.byzantineScale = c.faults.byzantineScale;
    fc.codec = tadlora::Codec::Parse(c.exchange.compress);
    return fc;
}

} // namespace ns3
