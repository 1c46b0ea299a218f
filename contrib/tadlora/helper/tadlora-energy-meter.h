// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_ENERGY_METER_H
#define TADLORA_ENERGY_METER_H

#include "tadlora-device-profile.h"

#include "ns3/net-device-container.h"
#include "ns3/node-container.h"
#include "ns3/ptr.h"

#include <array>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

namespace ns3
{

class WifiPhyListener;
class WifiRadioEnergyModel;

/**
 * @ingroup tadlora
 * @brief Each client's energy in each round.
 *
 * Radio: ns-3's energy framework, a BasicEnergySource on the node of every Wi-Fi device (ns-3's
 * default 3 V supply, 1e8 J: it does not run out in a run) and a WifiRadioEnergyModel on the
 * device (ns-3's default currents, from Halperin et al.'s 802.11n measurements: TX 0.38 A, RX
 * 0.313 A, idle and CCA busy 0.273 A), split by the radio's state: tx, rx, idle (idle and CCA
 * busy: listening). The model hears the PHY through a listener that keeps it in TX for the
 * whole of a transmission (ns-3 3.37's own listener leaves TX when a frame arrives meanwhile).
 * Point-to-point links have no radio model: their clients' radio energy is not known.
 *
 * Compute: the device profile's watts x the seconds of the round's local steps; not known for
 * clients without a profile.
 *
 * A round runs from the end of the one before (round 0: from the start, the warm-up included)
 * to when its last client has finished it.
 */
class TadLoraEnergyMeter
{
public:
    /** @brief A client's joules in a round; unknown parts are empty. */
    struct Row
    {
        uint64_t round;                             //!< the round
        uint32_t client;                            //!< the client
        std::string device;                         //!< its profile's name, empty for none
        double trainSeconds;                        //!< simulated seconds of its local steps
        std::optional<double> compute;              //!< watts x trainSeconds
        std::optional<std::array<double, 3>> radio; //!< tx, rx, idle
    };

    TadLoraEnergyMeter();
    ~TadLoraEnergyMeter();
    TadLoraEnergyMeter(const TadLoraEnergyMeter&) = delete;
    TadLoraEnergyMeter& operator=(const TadLoraEnergyMeter&) = delete;

    /**
     * @brief Meter the radio of each Wi-Fi device (others are left alone). ns-3's energy
     * sources and radio models schedule updates without end: a program that installs them
     * ends its run with Simulator::Stop (TadLoraExperiment does).
     * @param nodes the clients' nodes; node i is client i
     * @param devices the network's devices
     */
    void InstallRadios(const NodeContainer& nodes, const NetDeviceContainer& devices);

    /**
     * @brief Set the clients' compute.
     * @param devices client i's profile at i; empty: no client has one
     * @param trainSeconds client i's simulated seconds of local steps per round at i
     */
    void SetCompute(std::vector<TadLoraDeviceProfile> devices, std::vector<double> trainSeconds);

    /** @return whether anything is metered: a radio or a device profile */
    bool Enabled() const;

    /**
     * @brief Close a round: each client's energy since the previous one.
     * @param round the round its last client has just finished
     */
    void EndRound(uint64_t round);

    /** @return the rows of the rounds closed so far, by round then client */
    const std::vector<Row>& Rows() const;

    /** @param out energy.csv: one row per client and round */
    void Write(std::ostream& out) const;

private:
    /** @brief One radio's joules by state, as its model reports them. */
    struct Radio
    {
        Ptr<WifiRadioEnergyModel> model; //!< the device's energy model
        std::array<double, 3> byState{}; //!< tx, rx, idle of the state periods ended so far
        double reported = 0;             //!< the model's total when it last changed
        std::array<double, 3> closed{};  //!< byState and the period under way, at the last round
    };

    /** @brief A radio's energy model reports a new total: the state it leaves used the rest. */
    static void OnRadioEnergy(TadLoraEnergyMeter* meter, uint32_t client, double before,
                              double after);

    std::vector<std::optional<Radio>> m_radios;                //!< client i's radio, if metered
    std::vector<std::unique_ptr<WifiPhyListener>> m_listeners; //!< feed the radios' models
    std::vector<TadLoraDeviceProfile> m_devices;               //!< client i's profile; empty: none
    std::vector<double> m_trainSeconds; //!< client i's seconds of training per round
    std::vector<Row> m_rows;            //!< rounds closed so far
};

} // namespace ns3

#endif // TADLORA_ENERGY_METER_H
