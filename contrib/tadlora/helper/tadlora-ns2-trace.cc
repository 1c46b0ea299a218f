// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-ns2-trace.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <stdexcept>

namespace ns3
{

namespace
{

/** A number as ns-2 traces write it: no NaN, no infinity. */
const std::string kNumber = R"(([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))";
/** A node, by its index. */
const std::string kNode = R"(\$node_\((\d{1,9})\))";

/** @return the number a match spells; one too large for a double is refused */
double
Number(const std::ssub_match& text, const std::string& where)
{
    const double x = std::strtod(text.str().c_str(), nullptr);
    if (!std::isfinite(x))
    {
        throw std::invalid_argument(where + text.str() + " is too large");
    }
    return x;
}

} // namespace

TadLoraNs2Trace
TadLoraReadNs2Trace(const std::string& path, uint32_t clients)
{
    static const std::regex initial(R"(\s*)" + kNode + R"(\s+set\s+([XYZ])_\s+)" + kNumber +
                                    R"(\s*)");
    static const std::regex scheduled(R"(\s*\$ns_\s+at\s+)" + kNumber + R"(\s+"\s*)" + kNode +
                                      R"(\s+set\s+([XYZ])_\s+)" + kNumber + R"(\s*"\s*)");
    static const std::regex movement(R"(\s*\$ns_\s+at\s+)" + kNumber + R"(\s+"\s*)" + kNode +
                                     R"(\s+setdest\s+)" + kNumber + R"(\s+)" + kNumber + R"(\s+)" +
                                     kNumber + R"(\s*"\s*)");
    static const std::regex blank(R"(\s*(#.*)?)");
    std::ifstream file(path);
    if (!file)
    {
        throw std::invalid_argument(path + ": cannot be read");
    }
    TadLoraNs2Trace trace;
    std::set<uint32_t> placedX;
    std::set<uint32_t> placedY;
    std::string line;
    for (uint64_t number = 1; std::getline(file, line); ++number)
    {
        const std::string where = path + ": line " + std::to_string(number) + ": ";
        std::smatch m;
        double at = 0;
        double speed = 0;
        if (std::regex_match(line, m, initial))
        {
            Number(m[3], where);
            const auto node = static_cast<uint32_t>(std::stoul(m[1]));
            (m[2] == "X" ? placedX : placedY).insert(node);
            trace.nodes = std::max(trace.nodes, node + 1);
            continue;
        }
        if (std::regex_match(line, m, scheduled))
        {
            at = Number(m[1], where);
            Number(m[4], where);
            trace.nodes = std::max(trace.nodes, static_cast<uint32_t>(std::stoul(m[2])) + 1);
        }
        else if (std::regex_match(line, m, movement))
        {
            at = Number(m[1], where);
            Number(m[3], where);
            Number(m[4], where);
            speed = Number(m[5], where);
            trace.nodes = std::max(trace.nodes, static_cast<uint32_t>(std::stoul(m[2])) + 1);
        }
        else if (std::regex_match(line, blank))
        {
            continue;
        }
        else
        {
            throw std::invalid_argument(where +
                                        "not an ns-2 movement command: " + line.substr(0, 60));
        }
        if (at < 0 || speed < 0)
        {
            throw std::invalid_argument(where + (at < 0 ? "a time" : "a speed") +
                                        " must not be negative");
        }
        trace.lastMove = std::max(trace.lastMove, at);
    }
    if (file.bad())
    {
        throw std::invalid_argument(path + ": cannot be read");
    }
    for (uint32_t node = 0; node < clients; ++node)
    {
        if (placedX.count(node) == 0 || placedY.count(node) == 0)
        {
            throw std::invalid_argument(path + ": $node_(" + std::to_string(node) +
                                        ") has no initial X_ and Y_ (" + std::to_string(clients) +
                                        " clients need $node_(0) .. $node_(" +
                                        std::to_string(clients - 1) + "))");
        }
    }
    return trace;
}

} // namespace ns3
