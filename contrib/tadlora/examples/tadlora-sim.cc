// SPDX-License-Identifier: GPL-2.0-only
// tadlora-sim: one decentralized federated LoRA run over an ns-3 network.
// Every option can come from a TOML scenario file (--config); the command line overrides it.

#include "tadlora-experiment.h"
#include "tadlora-options.h"

#include <CLI/CLI.hpp>

#include <iostream>

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
        std::cerr << "tadlora-sim: " << e.what() << std::endl;
        return 2;
    }
    try
    {
        if (config.run.printRho)
        {
            std::cout << ns3::TadLoraDescribeConnectivity(config) << std::endl;
            return 0;
        }
        ns3::TadLoraExperiment(config).Run();
    }
    catch (const std::invalid_argument& e)
    {
        std::cerr << "tadlora-sim: " << e.what() << std::endl;
        return 2;
    }
    catch (const std::exception& e)
    {
        std::cerr << "tadlora-sim: " << e.what() << std::endl;
        return 1;
    }
    return 0;
}
