// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_YANS_WIFI_PHY_H
#define TADLORA_YANS_WIFI_PHY_H

#include "ns3/mobility-model.h"
#include "ns3/propagation-delay-model.h"
#include "ns3/propagation-loss-model.h"
#include "ns3/yans-wifi-phy.h"

#include <vector>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief ns-3's YANS PHY, whose frames reach only the PHYs that can hear them.
 *
 * YansWifiChannel::Send schedules a reception at every other PHY on the channel, and each
 * reception below the receiver's sensitivity is dropped when it fires: at 200 nodes most of a
 * frame's events do nothing. This PHY transmits as YansWifiChannel::Send does — for every
 * other PHY on its channel and channel number, in the channel's order: the propagation delay,
 * then the received power (so a random loss model draws exactly as before) — but schedules
 * only the receptions that YansWifiChannel::Receive would not drop. What every PHY receives
 * is unchanged, and so are the random streams: runs are the same, event for event, without
 * the events that did nothing.
 */
class TadLoraYansWifiPhy : public YansWifiPhy
{
public:
    /** @return the TypeId */
    static TypeId GetTypeId();

    void StartTx(Ptr<const WifiPpdu> ppdu, const WifiTxVector& txVector) override;

private:
    /** @brief A PHY of the channel, with what a transmission asks of it. */
    struct Peer
    {
        Ptr<YansWifiPhy> phy;        //!< the PHY
        Ptr<MobilityModel> mobility; //!< its position
        uint32_t node;               //!< its node, the reception's context
    };

    /** @brief Learn the channel's PHYs and models (again, if PHYs joined it since). */
    void LearnChannel();

    /**
     * @brief YansWifiChannel::Receive's work for a reception it would not drop.
     * @param phy the receiver
     * @param ppdu the frame
     * @param rxPowerDbm its received power, before the receiver's gain
     */
    static void Receive(Ptr<YansWifiPhy> phy, Ptr<const WifiPpdu> ppdu, double rxPowerDbm);

    std::vector<Peer> m_peers;          //!< the channel's PHYs, in its order
    Ptr<PropagationLossModel> m_loss;   //!< the channel's loss model
    Ptr<PropagationDelayModel> m_delay; //!< the channel's delay model
};

} // namespace ns3

#endif // TADLORA_YANS_WIFI_PHY_H
