// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-wifi-network-helper.h"

#include "tadlora-ns2-trace.h"

#include "tadlora-yans-wifi-phy.h"

#include "ns3/aodv-helper.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/mobility-module.h"
#include "ns3/network-module.h"
#include "ns3/olsr-helper.h"
#include "ns3/propagation-module.h"
#include "ns3/wifi-module.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ns3
{

namespace
{

/** What differs between the supported 802.11 standards. */
struct Standard
{
    WifiStandard standard;          //!< ns-3's standard
    std::string channelSettings;    //!< {number, width, band, primary20}
    double frequencyHz;             //!< centre frequency of that channel
    std::vector<std::string> modes; //!< data modes for constant rate, lowest first
    std::string minstrel;           //!< Minstrel's variant for the standard
};

const std::map<TadLoraWifiStandard, Standard>&
Standards()
{
    static const std::map<TadLoraWifiStandard, Standard> standards{
        {TadLoraWifiStandard::A,
         {WIFI_STANDARD_80211a,
          "{36, 20, BAND_5GHZ, 0}",
          5.18e9,
          {"OfdmRate6Mbps", "OfdmRate9Mbps", "OfdmRate12Mbps", "OfdmRate18Mbps", "OfdmRate24Mbps",
           "OfdmRate36Mbps", "OfdmRate48Mbps", "OfdmRate54Mbps"},
          "ns3::MinstrelWifiManager"}},
        {TadLoraWifiStandard::G,
         {WIFI_STANDARD_80211g,
          "{1, 20, BAND_2_4GHZ, 0}",
          2.412e9,
          {"ErpOfdmRate6Mbps", "ErpOfdmRate9Mbps", "ErpOfdmRate12Mbps", "ErpOfdmRate18Mbps",
           "ErpOfdmRate24Mbps", "ErpOfdmRate36Mbps", "ErpOfdmRate48Mbps", "ErpOfdmRate54Mbps"},
          "ns3::MinstrelWifiManager"}},
        {TadLoraWifiStandard::N,
         {WIFI_STANDARD_80211n,
          "{36, 20, BAND_5GHZ, 0}",
          5.18e9,
          {"HtMcs0", "HtMcs1", "HtMcs2", "HtMcs3", "HtMcs4", "HtMcs5", "HtMcs6", "HtMcs7"},
          "ns3::MinstrelHtWifiManager"}},
    };
    return standards;
}

std::string
Join(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& item : items)
    {
        out += (out.empty() ? "" : ", ") + item;
    }
    return out;
}

/** @brief YansWifiPhyHelper, making TadLoraYansWifiPhy: frames reach only who hears them. */
class ReachPhyHelper : public YansWifiPhyHelper
{
public:
    ReachPhyHelper()
    {
        m_phy.at(0).SetTypeId(TadLoraYansWifiPhy::GetTypeId());
    }
};

/**
 * @brief Place the nodes in the area and install the random mobility model (or none).
 * @return the random streams it used from `first` on
 */
int64_t
InstallRandomMobility(const TadLoraWifiOptions& w, NodeContainer nodes, int64_t first)
{
    const double side = w.areaM;
    Ptr<PositionAllocator> positions;
    if (w.placement == TadLoraPlacement::Grid)
    {
        const auto columns = static_cast<uint32_t>(std::ceil(std::sqrt(double(nodes.GetN()))));
        const double spacing = side / columns;
        positions = CreateObjectWithAttributes<GridPositionAllocator>(
            "MinX", DoubleValue(spacing / 2), "MinY", DoubleValue(spacing / 2), "DeltaX",
            DoubleValue(spacing), "DeltaY", DoubleValue(spacing), "GridWidth",
            UintegerValue(columns), "LayoutType", StringValue("RowFirst"));
    }
    else if (w.placement == TadLoraPlacement::RandomDisc)
    {
        positions = CreateObjectWithAttributes<UniformDiscPositionAllocator>(
            "rho", DoubleValue(side / 2), "X", DoubleValue(side / 2), "Y", DoubleValue(side / 2));
    }
    else
    {
        const std::string uniform =
            "ns3::UniformRandomVariable[Min=0|Max=" + std::to_string(side) + "]";
        positions = CreateObjectWithAttributes<RandomRectanglePositionAllocator>(
            "X", StringValue(uniform), "Y", StringValue(uniform));
    }
    int64_t stream = first;
    stream += positions->AssignStreams(stream);
    MobilityHelper mobility;
    mobility.SetPositionAllocator(positions);
    if (w.mobility == TadLoraMobility::RandomWaypoint)
    {
        // Waypoints are drawn like the placement (a grid's are drawn in its square).
        Ptr<PositionAllocator> waypoints = positions;
        if (w.placement == TadLoraPlacement::Grid)
        {
            const std::string uniform =
                "ns3::UniformRandomVariable[Min=0|Max=" + std::to_string(side) + "]";
            waypoints = CreateObjectWithAttributes<RandomRectanglePositionAllocator>(
                "X", StringValue(uniform), "Y", StringValue(uniform));
            stream += waypoints->AssignStreams(stream);
        }
        mobility.SetMobilityModel(
            "ns3::RandomWaypointMobilityModel", "Speed",
            StringValue("ns3::ConstantRandomVariable[Constant=" + std::to_string(w.speedMps) + "]"),
            "Pause",
            StringValue("ns3::ConstantRandomVariable[Constant=" + std::to_string(w.pauseS) + "]"),
            "PositionAllocator", PointerValue(waypoints));
    }
    else if (w.mobility == TadLoraMobility::GaussMarkov)
    {
        mobility.SetMobilityModel(
            "ns3::GaussMarkovMobilityModel", "Bounds", BoxValue(Box(0, side, 0, side, 0, 1)),
            "TimeStep", TimeValue(Seconds(1)), "Alpha", DoubleValue(0.85), "MeanVelocity",
            StringValue("ns3::ConstantRandomVariable[Constant=" + std::to_string(w.speedMps) + "]"),
            "MeanDirection", StringValue("ns3::UniformRandomVariable[Min=0|Max=6.283185307]"),
            "MeanPitch", StringValue("ns3::ConstantRandomVariable[Constant=0]"));
    }
    else
    {
        mobility.SetMobilityModel("ns3::ConstantPositionMobilityModel");
    }
    mobility.Install(nodes);
    stream += mobility.AssignStreams(nodes, stream);
    return stream - first;
}

/** Packets an interface keeps per neighbour while ARP resolves it, as Linux does. */
constexpr uint32_t kArpPendingPackets = 150;

} // namespace

TadLoraWifiNetworkHelper::TadLoraWifiNetworkHelper(const TadLoraWifiOptions& options)
    : m_options(options)
{
}

void
TadLoraWifiNetworkHelper::Check(const TadLoraConfig& c)
{
    const Standard& standard = Standards().at(c.wifi.wifiStandard);
    if (c.wifi.rateControl == TadLoraRateControl::Constant && !c.wifi.wifiMode.empty() &&
        std::find(standard.modes.begin(), standard.modes.end(), c.wifi.wifiMode) ==
            standard.modes.end())
    {
        throw std::invalid_argument("--wifi-mode: '" + c.wifi.wifiMode + "' is not a mode of " +
                                    TadLoraChoiceName(c.wifi.wifiStandard) + "; one of " +
                                    Join(standard.modes));
    }
    if (c.wifi.mobility == TadLoraMobility::Ns2)
    {
        try
        {
            TadLoraReadNs2Trace(c.wifi.mobilityTrace, c.run.clients);
        }
        catch (const std::invalid_argument& e)
        {
            throw std::invalid_argument(std::string("--mobility: ") + e.what());
        }
    }
    if (c.exchange.transport == TadLoraTransportKind::Broadcast &&
        c.wifi.routing != TadLoraRouting::None)
    {
        throw std::invalid_argument(
            "--transport: broadcast reaches one hop only; use it with --routing none");
    }
}

NetDeviceContainer
TadLoraWifiNetworkHelper::DoInstall(NodeContainer nodes, const std::vector<tadlora::Edge>&)
{
    const TadLoraWifiOptions& w = m_options;
    const Standard& standard = Standards().at(w.wifiStandard);

    int64_t stream = kFirstStream;
    if (w.mobility == TadLoraMobility::Ns2)
    {
        // The trace places and moves node i as its $node_(i), with no random draws.
        TadLoraReadNs2Trace(w.mobilityTrace, nodes.GetN());
        Ns2MobilityHelper(w.mobilityTrace).Install(nodes.Begin(), nodes.End());
    }
    else
    {
        // Placement, then mobility within the same area.
        stream += InstallRandomMobility(w, nodes, stream);
    }

    // The channel: path loss, optional fading, and the PHY's transmit power.
    YansWifiChannelHelper channel;
    channel.SetPropagationDelay("ns3::ConstantSpeedPropagationDelayModel");
    if (w.propagation == TadLoraPropagation::Friis)
    {
        channel.AddPropagationLoss("ns3::FriisPropagationLossModel", "Frequency",
                                   DoubleValue(standard.frequencyHz));
    }
    else
    {
        // Free-space loss at the 1 m reference distance, for the channel's frequency.
        const double referenceLoss = 20 * std::log10(4 * M_PI * standard.frequencyHz / 299792458.0);
        channel.AddPropagationLoss("ns3::LogDistancePropagationLossModel", "Exponent",
                                   DoubleValue(w.pathLossExponent), "ReferenceLoss",
                                   DoubleValue(referenceLoss));
    }
    if (w.fading != TadLoraFading::None)
    {
        const double m = w.fading == TadLoraFading::Rayleigh ? 1.0 : w.nakagamiM;
        channel.AddPropagationLoss("ns3::NakagamiPropagationLossModel", "m0", DoubleValue(m), "m1",
                                   DoubleValue(m), "m2", DoubleValue(m));
    }
    Ptr<YansWifiChannel> wifiChannel = channel.Create();
    stream += channel.AssignStreams(wifiChannel, stream);
    ReachPhyHelper phy;
    phy.SetChannel(wifiChannel);
    phy.Set("ChannelSettings", StringValue(standard.channelSettings));
    phy.Set("TxPowerStart", DoubleValue(w.txPowerDbm));
    phy.Set("TxPowerEnd", DoubleValue(w.txPowerDbm));

    WifiHelper wifi;
    wifi.SetStandard(standard.standard);
    // RTS/CTS before every unicast frame, or never (ns-3's default threshold).
    const UintegerValue rtsCts(w.rtsCts ? 0 : 65535);
    if (w.rateControl == TadLoraRateControl::Constant)
    {
        const std::string mode = w.wifiMode.empty() ? standard.modes.front() : w.wifiMode;
        wifi.SetRemoteStationManager("ns3::ConstantRateWifiManager", "DataMode", StringValue(mode),
                                     "ControlMode", StringValue(standard.modes.front()),
                                     "RtsCtsThreshold", rtsCts);
    }
    else
    {
        wifi.SetRemoteStationManager(w.rateControl == TadLoraRateControl::Minstrel
                                         ? standard.minstrel
                                         : "ns3::IdealWifiManager",
                                     "RtsCtsThreshold", rtsCts);
    }
    WifiMacHelper mac;
    mac.SetType("ns3::AdhocWifiMac");
    NetDeviceContainer devices = wifi.Install(phy, mac, nodes);
    stream += wifi.AssignStreams(devices, stream);

    // The Internet stack, with the routing protocol if any.
    InternetStackHelper internet;
    OlsrHelper olsr;
    AodvHelper aodv;
    Ipv4StaticRoutingHelper staticRouting;
    Ipv4ListRoutingHelper routing;
    routing.Add(staticRouting, 0);
    if (w.routing == TadLoraRouting::Olsr)
    {
        routing.Add(olsr, 10);
    }
    else if (w.routing == TadLoraRouting::Aodv)
    {
        routing.Add(aodv, 10);
    }
    internet.SetRoutingHelper(routing);
    internet.Install(nodes);
    stream += internet.AssignStreams(nodes, stream);
    if (w.routing == TadLoraRouting::Olsr)
    {
        stream += olsr.AssignStreams(nodes, stream);
    }
    else if (w.routing == TadLoraRouting::Aodv)
    {
        stream += aodv.AssignStreams(nodes, stream);
    }
    Ipv4AddressHelper addresses("10.1.0.0", "255.255.0.0");
    Ipv4InterfaceContainer interfaces = addresses.Assign(devices);
    for (uint32_t i = 0; i < interfaces.GetN(); ++i)
    {
        m_addresses.push_back(interfaces.GetAddress(i));
        // ARP as Linux does it. ns-3 holds 3 packets per unresolved neighbour, and a round's
        // first burst of fragments would die waiting for ARP: Linux holds about 150 full-size
        // frames (unres_qlen_bytes). And ns-3 drops everything for a neighbour that once failed
        // to answer for 100 s, while Linux asks again on the next packet: with mobility, a
        // node that comes into reach must be reachable.
        auto [ipv4, index] = interfaces.Get(i);
        Ptr<ArpCache> arp = ipv4->GetObject<Ipv4L3Protocol>()->GetInterface(index)->GetArpCache();
        arp->SetAttribute("PendingQueueSize", UintegerValue(kArpPendingPackets));
        arp->SetAttribute("DeadTimeout", TimeValue(Seconds(1)));
    }
    return devices;
}

Ipv4Address
TadLoraWifiNetworkHelper::PeerAddress(uint32_t, uint32_t to) const
{
    return m_addresses.at(to);
}

void
TadLoraWifiNetworkHelper::EnablePcap(const std::string& prefix)
{
    YansWifiPhyHelper().EnablePcap(prefix, Devices());
}

std::string
TadLoraWifiNetworkHelper::Describe() const
{
    const TadLoraWifiOptions& w = m_options;
    std::ostringstream out;
    out << "wifi-adhoc: " << w.wifiStandard << " " << w.rateControl << ", " << w.txPowerDbm
        << " dBm, " << w.propagation
        << (w.fading == TadLoraFading::None ? "" : " + " + TadLoraChoiceName(w.fading)) << ", ";
    if (w.mobility == TadLoraMobility::Ns2)
    {
        out << "ns2 trace " << w.mobilityTrace;
    }
    else
    {
        out << w.placement << " in " << w.areaM << " m, " << w.mobility;
    }
    out << ", routing " << w.routing;
    return out.str();
}

} // namespace ns3
