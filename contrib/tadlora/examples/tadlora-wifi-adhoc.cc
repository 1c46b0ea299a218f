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
    config.network = "wifi-adhoc";
    config.clients = 16;
    config.topology = "grid";
    config.placement = "grid";
    config.areaM = 160;
    config.linkProb = 0.5;
    config.rtsCts = true;
    config.warmupS = 1;
    config.roundDeadlineS = 3;
    config.rounds = 10;
    config.out = "results/wifi-adhoc";

    CommandLine cmd(__FILE__);
    cmd.AddValue("areaM", "Side of the square the clients are placed in, metres", config.areaM);
    cmd.AddValue("txPowerDbm", "Transmit power, dBm", config.txPowerDbm);
    cmd.AddValue("routing", "none (one hop), olsr or aodv", config.routing);
    cmd.AddValue("mobility", "static, random-waypoint or gauss-markov", config.mobility);
    cmd.AddValue("rounds", "Communication rounds", config.rounds);
    cmd.AddValue("out", "Output directory", config.out);
    cmd.Parse(argc, argv);
    if (config.routing != "none")
    {
        config.warmupS = 10; // routes converge before round 0
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
