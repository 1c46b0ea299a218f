// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-energy-meter.h"

#include "tadlora-csv.h"

#include "ns3/basic-energy-source-helper.h"
#include "ns3/double.h"
#include "ns3/wifi-net-device.h"
#include "ns3/wifi-phy-listener.h"
#include "ns3/wifi-phy.h"
#include "ns3/wifi-radio-energy-model.h"

#include <map>

namespace ns3
{

namespace
{

/**
 * @brief Passes a PHY's state changes on to a WifiRadioEnergyModel's own listener, but for a CCA
 * busy notice while the PHY transmits: ns-3 3.37's WifiPhyStateHelper notifies one when a frame
 * arrives during a transmission, and the model's listener would leave TX for CCA busy (measured:
 * 7% of TX time lost on a 3-client run). The model returns to idle when the transmission ends,
 * which draws what CCA busy does (0.273 A both).
 */
class TxKeepingListener : public WifiPhyListener
{
public:
    TxKeepingListener(Ptr<WifiPhy> phy, WifiPhyListener* model)
        : m_phy(phy)
        , m_model(model)
    {
    }

    void NotifyRxStart(Time duration) override
    {
        m_model->NotifyRxStart(duration);
    }

    void NotifyRxEndOk() override
    {
        m_model->NotifyRxEndOk();
    }

    void NotifyRxEndError() override
    {
        m_model->NotifyRxEndError();
    }

    void NotifyTxStart(Time duration, double txPowerDbm) override
    {
        m_model->NotifyTxStart(duration, txPowerDbm);
    }

    void NotifyCcaBusyStart(Time duration, WifiChannelListType channelType,
                            const std::vector<Time>& per20MhzDurations) override
    {
        if (!m_phy->IsStateTx())
        {
            m_model->NotifyCcaBusyStart(duration, channelType, per20MhzDurations);
        }
    }

    void NotifySwitchingStart(Time duration) override
    {
        m_model->NotifySwitchingStart(duration);
    }

    void NotifySleep() override
    {
        m_model->NotifySleep();
    }

    void NotifyOff() override
    {
        m_model->NotifyOff();
    }

    void NotifyWakeup() override
    {
        m_model->NotifyWakeup();
    }

    void NotifyOn() override
    {
        m_model->NotifyOn();
    }

private:
    Ptr<WifiPhy> m_phy;       //!< the PHY it listens to
    WifiPhyListener* m_model; //!< the energy model's listener, owned by the model
};

/** Joules a source holds: more than any run draws, so radios never switch off. */
constexpr double kSourceJoules = 1e8;

/** @return where a state's joules go: 0 tx, 1 rx, 2 idle (idle and CCA busy) */
size_t
Bucket(WifiPhyState state)
{
    return state == WifiPhyState::TX ? 0 : state == WifiPhyState::RX ? 1 : 2;
}

/** Writes one radio state's joules (0 tx, 1 rx, 2 idle), or nothing if the radio is not metered. */
void
WriteRadio(std::ostream& out, const TadLoraEnergyMeter::Row& row, size_t state)
{
    if (row.radio)
    {
        out << (*row.radio)[state];
    }
}

const TadLoraColumns<TadLoraEnergyMeter::Row> kEnergyColumns{
    {"round", [](std::ostream& o, const TadLoraEnergyMeter::Row& r) { o << r.round; }},
    {"client", [](std::ostream& o, const TadLoraEnergyMeter::Row& r) { o << r.client; }},
    {"device", [](std::ostream& o, const TadLoraEnergyMeter::Row& r) { o << r.device; }},
    {"train_s", [](std::ostream& o, const TadLoraEnergyMeter::Row& r) { o << r.trainSeconds; }},
    {"compute_j",
     [](std::ostream& o, const TadLoraEnergyMeter::Row& r)
     {
         if (r.compute)
         {
             o << *r.compute;
         }
     }},
    {"radio_tx_j", [](std::ostream& o, const TadLoraEnergyMeter::Row& r) { WriteRadio(o, r, 0); }},
    {"radio_rx_j", [](std::ostream& o, const TadLoraEnergyMeter::Row& r) { WriteRadio(o, r, 1); }},
    {"radio_idle_j",
     [](std::ostream& o, const TadLoraEnergyMeter::Row& r) { WriteRadio(o, r, 2); }},
};

} // namespace

TadLoraEnergyMeter::TadLoraEnergyMeter() = default;
TadLoraEnergyMeter::~TadLoraEnergyMeter() = default;

void
TadLoraEnergyMeter::InstallRadios(const NodeContainer& nodes, const NetDeviceContainer& devices)
{
    std::map<uint32_t, uint32_t> clientOf; // node id -> client
    for (uint32_t i = 0; i < nodes.GetN(); ++i)
    {
        clientOf[nodes.Get(i)->GetId()] = i;
    }
    m_radios.resize(nodes.GetN());
    BasicEnergySourceHelper sources;
    sources.Set("BasicEnergySourceInitialEnergyJ", DoubleValue(kSourceJoules));
    for (uint32_t k = 0; k < devices.GetN(); ++k)
    {
        Ptr<NetDevice> device = devices.Get(k);
        const auto client = clientOf.find(device->GetNode()->GetId());
        if (!DynamicCast<WifiNetDevice>(device) || client == clientOf.end())
        {
            continue;
        }
        // What WifiRadioEnergyModelHelper does, but for the listener (TxKeepingListener).
        Ptr<EnergySource> source = sources.Install(device->GetNode()).Get(0);
        Radio& radio = m_radios[client->second].emplace();
        radio.model = CreateObject<WifiRadioEnergyModel>();
        radio.model->SetEnergySource(source);
        source->AppendDeviceEnergyModel(radio.model);
        Ptr<WifiPhy> phy = DynamicCast<WifiNetDevice>(device)->GetPhy();
        m_listeners.push_back(
            std::make_unique<TxKeepingListener>(phy, radio.model->GetPhyListener()));
        phy->RegisterListener(m_listeners.back().get());
        radio.model->TraceConnectWithoutContext(
            "TotalEnergyConsumption",
            MakeBoundCallback(&TadLoraEnergyMeter::OnRadioEnergy, this, client->second));
    }
}

void
TadLoraEnergyMeter::SetCompute(std::vector<TadLoraDeviceProfile> devices,
                               std::vector<double> trainSeconds)
{
    m_devices = std::move(devices);
    m_trainSeconds = std::move(trainSeconds);
}

bool
TadLoraEnergyMeter::Enabled() const
{
    return !m_devices.empty() || std::any_of(m_radios.begin(), m_radios.end(),
                                             [](const auto& r) { return r.has_value(); });
}

void
TadLoraEnergyMeter::OnRadioEnergy(TadLoraEnergyMeter* meter, uint32_t client, double before,
                                  double after)
{
    // WifiRadioEnergyModel::ChangeState adds the ending period's joules while the radio is
    // still in that state.
    Radio& radio = *meter->m_radios[client];
    radio.byState[Bucket(radio.model->GetCurrentState())] += after - before;
    radio.reported = after;
}

void
TadLoraEnergyMeter::EndRound(uint64_t round)
{
    for (uint32_t i = 0; i < m_trainSeconds.size(); ++i)
    {
        Row row{round, i, "", m_trainSeconds[i], std::nullopt, std::nullopt};
        if (!m_devices.empty())
        {
            row.device = m_devices[i].name;
            row.compute = m_devices[i].watts * m_trainSeconds[i];
        }
        if (i < m_radios.size() && m_radios[i])
        {
            Radio& radio = *m_radios[i];
            std::array<double, 3> now = radio.byState;
            // The period under way, up to now.
            now[Bucket(radio.model->GetCurrentState())] +=
                radio.model->GetTotalEnergyConsumption() - radio.reported;
            std::array<double, 3>& used = row.radio.emplace();
            for (size_t s = 0; s < now.size(); ++s)
            {
                used[s] = now[s] - radio.closed[s];
            }
            radio.closed = now;
        }
        m_rows.push_back(std::move(row));
    }
}

const std::vector<TadLoraEnergyMeter::Row>&
TadLoraEnergyMeter::Rows() const
{
    return m_rows;
}

void
TadLoraEnergyMeter::Write(std::ostream& out) const
{
    WriteCsvHeader(out, kEnergyColumns);
    for (const Row& row : m_rows)
    {
        WriteCsvRow(out, kEnergyColumns, row);
    }
}

} // namespace ns3
