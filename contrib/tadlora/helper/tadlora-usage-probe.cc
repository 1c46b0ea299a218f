// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-usage-probe.h"

#include "ns3/abort.h"
#include "ns3/data-rate.h"
#include "ns3/packet.h"
#include "ns3/point-to-point-net-device.h"
#include "ns3/wifi-net-device.h"
#include "ns3/wifi-phy-state-helper.h"
#include "ns3/wifi-phy.h"

namespace ns3
{

void
TadLoraUsageProbe::Attach(const NetDeviceContainer& devices)
{
    for (uint32_t d = 0; d < devices.GetN(); ++d)
    {
        if (Ptr<WifiNetDevice> wifi = DynamicCast<WifiNetDevice>(devices.Get(d)))
        {
            Ptr<WifiPhy> phy = wifi->GetPhy();
            phy->TraceConnectWithoutContext(
                "PhyTxBegin",
                Callback<void, Ptr<const Packet>, double>([this](Ptr<const Packet> packet, double)
                                                          { m_usage.bytes += packet->GetSize(); }));
            phy->GetState()->TraceConnectWithoutContext(
                "State", Callback<void, Time, Time, WifiPhyState>(
                             [this](Time, Time duration, WifiPhyState state)
                             {
                                 if (state == WifiPhyState::TX)
                                 {
                                     m_usage.airtime += duration.GetSeconds();
                                 }
                             }));
            continue;
        }
        Ptr<PointToPointNetDevice> p2p = DynamicCast<PointToPointNetDevice>(devices.Get(d));
        NS_ABORT_MSG_IF(!p2p, "TadLoraUsageProbe: a device neither point-to-point nor Wi-Fi");
        DataRateValue rate;
        p2p->GetAttribute("DataRate", rate);
        const auto bitRate = static_cast<double>(rate.Get().GetBitRate());
        p2p->TraceConnectWithoutContext("PhyTxBegin", Callback<void, Ptr<const Packet>>(
                                                          [this, bitRate](Ptr<const Packet> packet)
                                                          {
                                                              m_usage.bytes += packet->GetSize();
                                                              m_usage.airtime +=
                                                                  packet->GetSize() * 8.0 / bitRate;
                                                          }));
    }
}

TadLoraUsageProbe::Usage
TadLoraUsageProbe::Get() const
{
    return m_usage;
}

} // namespace ns3
