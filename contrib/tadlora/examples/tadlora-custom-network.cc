// SPDX-License-Identifier: GPL-2.0-only
//
// A network of one's own: the clients gossip over the paper's logical graph (complete, each
// edge active with probability p), but physically every client hangs off one router by its
// own point-to-point access link. Messages between two clients take two hops and share the
// access links, so a client's messages to its neighbours queue behind each other: contention
// that paper mode's one-link-per-edge layout does not have.
//
// Any network fits behind TadLoraNetworkHelper: create the devices, stack and addresses for
// the clients' nodes (and any others, such as this router), and say where client `from`
// sends to client `to`.
//
//   build/examples/tadlora-custom-network --accessRate=10Mbps
//   ./ns3 run "tadlora-custom-network --accessRate=10Mbps"     (in an ns-3 tree)

#include "tadlora-experiment.h"

#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <iostream>

using namespace ns3;

/** Every client on its own access link to one router. */
class StarNetworkHelper : public TadLoraNetworkHelper
{
public:
    StarNetworkHelper(std::string accessRate, Time delay)
        : m_accessRate(std::move(accessRate))
        , m_delay(delay)
    {
    }

    Ipv4Address PeerAddress(uint32_t /* from */, uint32_t to) const override
    {
        return m_addresses.at(to); // every client is reached through the router
    }

    void EnablePcap(const std::string& prefix) override
    {
        PointToPointHelper().EnablePcap(prefix, Devices());
    }

    std::string Describe() const override
    {
        return "star: " + std::to_string(m_addresses.size()) + " clients on access links of " +
               m_accessRate + " to one router";
    }

private:
    NetDeviceContainer DoInstall(NodeContainer clients,
                                 const std::vector<tadlora::Edge>& /* base */) override
    {
        Ptr<Node> router = CreateObject<Node>();
        InternetStackHelper internet;
        internet.Install(clients);
        internet.Install(router);
        PointToPointHelper access;
        access.SetDeviceAttribute("DataRate", StringValue(m_accessRate));
        access.SetChannelAttribute("Delay", TimeValue(m_delay));
        Ipv4AddressHelper addresses("10.2.0.0", "255.255.255.252");
        NetDeviceContainer devices;
        for (uint32_t i = 0; i < clients.GetN(); ++i)
        {
            NetDeviceContainer link = access.Install(clients.Get(i), router);
            devices.Add(link);
            m_addresses.push_back(addresses.Assign(link).GetAddress(0));
            addresses.NewNetwork();
        }
        Ipv4GlobalRoutingHelper::PopulateRoutingTables();
        return devices;
    }

    std::string m_accessRate;             //!< data rate of each access link
    Time m_delay;                         //!< delay of each access link
    std::vector<Ipv4Address> m_addresses; //!< each client's address
};

int
main(int argc, char* argv[])
{
    TadLoraConfig config;
    config.run.rounds = 10;
    config.run.out = "results/custom-network";
    std::string accessRate = "100Mbps";
    double delayMs = 1;

    CommandLine cmd(__FILE__);
    cmd.AddValue("accessRate", "Data rate of each client's access link", accessRate);
    cmd.AddValue("delayMs", "Delay of each access link, milliseconds", delayMs);
    cmd.AddValue("linkProb", "Probability p that a logical edge is active in a round",
                 config.exchange.linkProb);
    cmd.AddValue("rounds", "Communication rounds", config.run.rounds);
    cmd.AddValue("out", "Output directory", config.run.out);
    cmd.Parse(argc, argv);

    try
    {
        TadLoraExperiment experiment(config);
        experiment.SetNetwork(
            std::make_unique<StarNetworkHelper>(accessRate, MilliSeconds(delayMs)));
        experiment.Run();
    }
    catch (const std::exception& e)
    {
        std::cerr << "tadlora-custom-network: " << e.what() << std::endl;
        return 2;
    }
    return 0;
}
