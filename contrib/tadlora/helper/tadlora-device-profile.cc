// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-device-profile.h"

#include "tadlora-seed.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

namespace ns3
{

const std::vector<TadLoraDeviceProfile>&
TadLoraDeviceProfiles()
{
    // Sources and derivations: README, "Device profiles and energy". Every rate is an estimate:
    // half (a training step's share of the matmul rate, as measured on LibTorch by
    // tadlora-bench) of a published float32 matmul rate, or of twice (float32's SIMD lanes) a
    // published double-precision HPL rate. Watts: a published draw under a matrix load, or the
    // vendor's power budget (marked so in the README).
    static const std::vector<TadLoraDeviceProfile> profiles{
        {"rpi-zero2w", 0.37, 2.1}, // HPL 0.3703 Gflops at 2.1 W (Geerling, 2024)
        {"rpi4", 11.9, 7.2},       // HPL 11.889 Gflops at 7.2 W (Geerling, 2023)
        {"jetson-nano", 11.9, 10}, // cuBLAS SGEMM 23.8 GFLOPS at 256^2; 10 W MAXN budget
        {"laptop", 100, 28},       // PyTorch matmul 0.2 TFLOPS, i7-8559U; 28 W TDP
    };
    return profiles;
}

namespace
{

const TadLoraDeviceProfile&
ProfileNamed(const std::string& name)
{
    for (const TadLoraDeviceProfile& p : TadLoraDeviceProfiles())
    {
        if (p.name == name)
        {
            return p;
        }
    }
    std::string known;
    for (const TadLoraDeviceProfile& p : TadLoraDeviceProfiles())
    {
        known += (known.empty() ? "" : ", ") + p.name;
    }
    throw std::invalid_argument("no device profile '" + name + "' (profiles: " + known + ")");
}

} // namespace

std::vector<std::pair<TadLoraDeviceProfile, double>>
TadLoraParseDeviceProfile(const std::string& spec)
{
    if (spec == "none")
    {
        return {};
    }
    const std::string mix = "mix:";
    if (spec.rfind(mix, 0) != 0)
    {
        return {{ProfileNamed(spec), 1.0}};
    }
    std::vector<std::pair<TadLoraDeviceProfile, double>> shares;
    std::istringstream items(spec.substr(mix.size()));
    std::string item;
    while (std::getline(items, item, ','))
    {
        const size_t equals = item.find('=');
        if (equals == std::string::npos)
        {
            throw std::invalid_argument("'" + item + "' is not NAME=SHARE");
        }
        const std::string name = item.substr(0, equals);
        const std::string text = item.substr(equals + 1);
        size_t used = 0;
        double share = 0;
        try
        {
            share = std::stod(text, &used);
        }
        catch (const std::exception&)
        {
            used = 0;
        }
        if (used == 0 || used != text.size() || !(share > 0 && share <= 1))
        {
            throw std::invalid_argument("the share of '" + name + "' must be a number in (0, 1]");
        }
        const TadLoraDeviceProfile& profile = ProfileNamed(name);
        if (std::any_of(shares.begin(), shares.end(),
                        [&name](const auto& s) { return s.first.name == name; }))
        {
            throw std::invalid_argument("'" + name + "' is in the mix twice");
        }
        shares.emplace_back(profile, share);
    }
    const double total = std::accumulate(shares.begin(), shares.end(), 0.0,
                                         [](double sum, const auto& s) { return sum + s.second; });
    if (shares.empty() || std::abs(total - 1) > 1e-9)
    {
        throw std::invalid_argument("the shares of a mix must sum to 1");
    }
    return shares;
}

std::vector<TadLoraDeviceProfile>
TadLoraAssignDevices(const std::string& spec, uint32_t clients, uint64_t seed)
{
    const std::vector<std::pair<TadLoraDeviceProfile, double>> shares =
        TadLoraParseDeviceProfile(spec);
    if (shares.empty())
    {
        return {};
    }
    // Largest remainders: each profile gets floor(share x m), the clients left over go to the
    // largest fractional parts (ties to the profile listed first).
    std::vector<uint32_t> counts;
    std::vector<size_t> byRemainder(shares.size());
    uint32_t given = 0;
    for (const auto& [profile, share] : shares)
    {
        counts.push_back(static_cast<uint32_t>(std::floor(share * clients)));
        given += counts.back();
    }
    std::iota(byRemainder.begin(), byRemainder.end(), 0);
    const auto remainder = [&](size_t k)
    { return shares[k].second * clients - std::floor(shares[k].second * clients); };
    std::stable_sort(byRemainder.begin(), byRemainder.end(),
                     [&](size_t a, size_t b) { return remainder(a) > remainder(b); });
    for (size_t k = 0; given < clients; ++k, ++given)
    {
        ++counts[byRemainder[k % shares.size()]];
    }
    std::vector<TadLoraDeviceProfile> devices;
    for (size_t k = 0; k < shares.size(); ++k)
    {
        devices.insert(devices.end(), counts[k], shares[k].first);
    }
    // Which client gets which device: a Fisher-Yates shuffle on a stream of its own (beyond
    // any client's), by modulo as the federation draws, the same on every standard library.
    std::mt19937_64 rng(tadlora::DeriveSeed(seed, uint64_t{1} << 32));
    for (size_t i = devices.size(); i > 1; --i)
    {
        std::swap(devices[i - 1], devices[rng() % i]);
    }
    return devices;
}

} // namespace ns3
