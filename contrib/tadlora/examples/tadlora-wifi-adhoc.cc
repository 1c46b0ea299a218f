// SPDX-License-Identifier: GPL-2.0-only
//
// Wi-Fi ad hoc: 16 clients on a grid, one 802.11a channel, log-distance path loss. Whatever
// the PHY and MAC let through is what gets mixed: move the nodes apart (--areaM) or turn the
// power down (--txPowerDbm) and the network.csv trace shows links, and learning, thin out.
// Without routing, clients gossip with the neighbours whose beacons they hear; with OLSR or
// AODV, messages may take several hops.
//
//   build/examples/tadlora-wifi-adhoc --areaM=200 --routing=olsr
//   ./ns3 run "tadlora-wifi-adhoc --areaM=200 --routing=olsr"     (in an ns-3 tree)

#include "tadlora-experiment.h"

#include "ns3/command-line.h"

#include <iostream>

using namespace ns3;

int
main(int argc, char* argv[])
{
    TadLoraConfig config;
    config.exchange.network = TadLoraNetwork::WifiAdhoc;
    config.run.clients = 16;
    config.exchange.topology = "grid";
    config.wifi.placement = TadLoraPlacement::Grid;
    config.wifi.areaM = 160;
    config.exchange.linkProb = 0.5;
    config.wifi.rtsCts = true;
    config.wifi.warmupS = 1;
    config.exchange.roundDeadlineS = 3;
    config.run.rounds = 10;
    config.run.out = "results/wifi-adhoc";

    CommandLine cmd(__FILE__);
    cmd.AddValue("areaM", "Side of the square the clients are placed in, metres",
                 config.wifi.areaM);
    cmd.AddValue("txPowerDbm", "Transmit power, dBm", config.wifi.txPowerDbm);
    cmd.AddValue("routing", "none (one hop), olsr or aodv", config.wifi.routing);
    cmd.AddValue("mobility", "static, random-waypoint or gauss-markov", config.wifi.mobility);
    cmd.AddValue("rounds", "Communication rounds", config.run.rounds);
    cmd.AddValue("out", "Output directory", config.run.out);
    cmd.Parse(argc, argv);
    if (config.wifi.routing != TadLoraRouting::None)
    {
        config.wifi.warmupS = 10; // routes converge before round 0
    }

    try
    {
        TadLoraExperiment(config).Run();
    }
    catch (const std::exception& e)
    {
        std::cerr << "tadlora-wifi-adhoc: " << e.what() << std::endl;
        return 2;
    }
    return 0;
}
