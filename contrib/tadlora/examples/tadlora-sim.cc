// SPDX-License-Identifier: GPL-2.0-only
// tadlora-sim: one decentralized federated LoRA run over an ns-3 network.
// Every option can come from a TOML scenario file (--config); the command line overrides it.

#include "tadlora-experiment.h"
#include "tadlora-options.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <sstream>
#include <string>

namespace
{

/** @return one line for a command-line or scenario-file error; unknown names get suggestions */
std::string
Explain(const CLI::ParseError& e)
{
    const std::string what = e.what();
    const std::string unexpected = "not expected: ";       // CLI11's ExtrasError
    const std::string unparsed = "was not able to parse "; // CLI11's ConfigError for a key
    if (const size_t at = what.find(unexpected); at != std::string::npos)
    {
        // CLI11 lists the words it did not expect, an unknown option's value among them.
        std::istringstream words(what.substr(at + unexpected.size()));
        std::string word;
        std::string first;
        while (words >> word && word[0] != '-')
        {
            first = first.empty() ? word : first;
        }
        return ns3::TadLoraUnknownOption(word.empty() || word[0] != '-' ? first : word);
    }
    if (const size_t at = what.find(unparsed); at != std::string::npos)
    {
        return ns3::TadLoraUnknownOption(what.substr(at + unparsed.size()));
    }
    return what;
}

/** @return an exception's first line: LibTorch appends a stack trace to its messages */
std::string
FirstLine(const std::exception& e)
{
    const std::string what = e.what();
    return what.substr(0, what.find('\n'));
}

} // namespace

int
main(int argc, char** argv)
{
    ns3::TadLoraConfig config;
    CLI::App app{
        "tadlora-sim: TAD-LoRA and its baselines, trained in LibTorch, gossiped over ns-3"};
    ns3::AddTadLoraOptions(app, config);
    try
    {
        app.parse(argc, argv);
    }
    catch (const CLI::CallForHelp& e)
    {
        return app.exit(e);
    }
    catch (const CLI::ParseError& e)
    {
        std::cerr << "tadlora-sim: " << Explain(e) << std::endl;
        return 2;
    }
    try
    {
        if (config.run.printRho)
        {
            std::cout << ns3::TadLoraDescribeConnectivity(config) << std::endl;
            return 0;
        }
        ns3::TadLoraExperiment experiment(config);
        experiment.Run();
        if (experiment.StoppedBy() != 0)
        {
            return 128 + experiment.StoppedBy(); // the shell's status for a signal
        }
    }
    catch (const std::invalid_argument& e)
    {
        std::cerr << "tadlora-sim: " << FirstLine(e) << std::endl;
        return 2;
    }
    catch (const std::exception& e)
    {
        std::cerr << "tadlora-sim: internal error: " << FirstLine(e) << std::endl;
        return 1;
    }
    catch (...)
    {
        std::cerr << "tadlora-sim: internal error of an unknown kind" << std::endl;
        return 1;
    }
    return 0;
}
