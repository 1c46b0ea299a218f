// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_USAGE_PROBE_H
#define TADLORA_USAGE_PROBE_H

#include "ns3/net-device-container.h"

#include <cstdint>

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Counts what devices put on the links or the air, all traffic included: the bytes of
 * every frame transmitted (headers included) and the seconds spent transmitting, summed over
 * devices. A point-to-point device's airtime is its frames' bits over its data rate; a Wi-Fi
 * device's is the time its PHY spends in the TX state.
 */
class TadLoraUsageProbe
{
public:
    /** @brief What the devices have transmitted so far. */
    struct Usage
    {
        uint64_t bytes = 0; //!< bytes of every frame transmitted, headers included
        double airtime = 0; //!< seconds spent transmitting, summed over devices
    };

    /**
     * @brief Count these devices' transmissions from now on.
     * @param devices point-to-point or Wi-Fi devices
     */
    void Attach(const NetDeviceContainer& devices);

    /** @return the usage so far */
    Usage Get() const;

private:
    Usage m_usage; //!< counted so far
};

} // namespace ns3

#endif // TADLORA_USAGE_PROBE_H
