// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_DEVICE_PROFILE_H
#define TADLORA_DEVICE_PROFILE_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * @brief A device's compute model: how fast it runs a training step's arithmetic, and the power
 * it draws meanwhile. A local step of F FLOPs takes F / (gflops x 1e9) seconds and
 * watts x that many joules. The figures, their sources and which are estimates: README,
 * "Device profiles and energy".
 */
struct TadLoraDeviceProfile
{
    std::string name; //!< as --device-profile names it
    double gflops;    //!< sustained float32 GFLOP/s on a training step
    double watts;     //!< power the whole device draws while training
};

/** @return every profile, in the order the README lists them */
const std::vector<TadLoraDeviceProfile>& TadLoraDeviceProfiles();

/**
 * @param spec --device-profile: none, a profile's name, or mix:NAME=SHARE,... with each
 *        profile once and shares in (0, 1] that sum to 1
 * @return the profiles and their shares; empty for none
 * @throws std::invalid_argument saying what is wrong
 */
std::vector<std::pair<TadLoraDeviceProfile, double>> TadLoraParseDeviceProfile(
    const std::string& spec);

/**
 * @brief Give each client its device: round(share x clients) of each profile (the largest
 * remainders get the clients left over, ties to the profile listed first), in an order drawn
 * from the seed.
 * @param spec --device-profile (TadLoraParseDeviceProfile)
 * @param clients m
 * @param seed the run's seed
 * @return client i's profile at i; empty for none
 */
std::vector<TadLoraDeviceProfile> TadLoraAssignDevices(const std::string& spec, uint32_t clients,
                                                       uint64_t seed);

} // namespace ns3

#endif // TADLORA_DEVICE_PROFILE_H
