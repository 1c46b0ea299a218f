// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-yans-wifi-phy.h"

#include "ns3/node.h"
#include "ns3/pointer.h"
#include "ns3/simulator.h"
#include "ns3/wifi-net-device.h"
#include "ns3/wifi-ppdu.h"
#include "ns3/wifi-utils.h"
#include "ns3/yans-wifi-channel.h"

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(TadLoraYansWifiPhy);

TypeId
TadLoraYansWifiPhy::GetTypeId()
{
    static TypeId tid = TypeId("ns3::TadLoraYansWifiPhy")
                            .SetParent<YansWifiPhy>()
                            .SetGroupName("TadLora")
                            .AddConstructor<TadLoraYansWifiPhy>();
    return tid;
}

void
TadLoraYansWifiPhy::LearnChannel()
{
    Ptr<Channel> channel = GetChannel();
    if (m_peers.size() == channel->GetNDevices())
    {
        return;
    }
    PointerValue loss;
    PointerValue delay;
    channel->GetAttribute("PropagationLossModel", loss);
    channel->GetAttribute("PropagationDelayModel", delay);
    m_loss = loss.Get<PropagationLossModel>();
    m_delay = delay.Get<PropagationDelayModel>();
    m_peers.clear();
    for (std::size_t i = 0; i < channel->GetNDevices(); ++i)
    {
        Ptr<NetDevice> device = channel->GetDevice(i);
        Ptr<YansWifiPhy> phy =
            DynamicCast<YansWifiPhy>(DynamicCast<WifiNetDevice>(device)->GetPhy());
        m_peers.push_back(
            {phy, phy->GetMobility()->GetObject<MobilityModel>(), device->GetNode()->GetId()});
    }
}

void
TadLoraYansWifiPhy::StartTx(Ptr<const WifiPpdu> ppdu, const WifiTxVector&)
{
    LearnChannel();
    const double txPowerDbm = GetTxPowerForTransmission(ppdu) + GetTxGain();
    Ptr<MobilityModel> mobility = GetMobility();
    const double widthDb = RatioToDb(ppdu->GetTransmissionChannelWidth() / 20.0);
    for (const Peer& peer : m_peers)
    {
        if (peer.phy == this || peer.phy->GetChannelNumber() != GetChannelNumber())
        {
            continue;
        }
        const Time delay = m_delay->GetDelay(mobility, peer.mobility);
        const double rxPowerDbm = m_loss->CalcRxPower(txPowerDbm, mobility, peer.mobility);
        // YansWifiChannel::Receive's test, on the receiver's gain, sensitivity and the width
        if (rxPowerDbm + peer.phy->GetRxGain() < peer.phy->GetRxSensitivity() + widthDb)
        {
            continue;
        }
        Simulator::ScheduleWithContext(peer.node, delay, &TadLoraYansWifiPhy::Receive, peer.phy,
                                       ppdu, rxPowerDbm);
    }
}

void
TadLoraYansWifiPhy::Receive(Ptr<YansWifiPhy> phy, Ptr<const WifiPpdu> ppdu, double rxPowerDbm)
{
    RxPowerWattPerChannelBand rxPowerW;
    rxPowerW.insert(
        {std::make_pair(0, 0), DbmToW(rxPowerDbm + phy->GetRxGain())}); // YANS: one band
    phy->StartReceivePreamble(ppdu, rxPowerW, ppdu->GetTxDuration());
}

} // namespace ns3
