// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_CLIENT_HELPER_H
#define TADLORA_CLIENT_HELPER_H

#include "tadlora-network-helper.h"
#include "tadlora-options.h"

#include "ns3/application-container.h"
#include "ns3/node-container.h"
#include "ns3/object-factory.h"

#include <memory>

namespace tadlora
{
class Learner;
class GossipGraph;
} // namespace tadlora

namespace ns3
{

class TadLoraRoundBarrier;

/** @brief A client attribute that a command-line option sets. */
struct TadLoraOptionAttribute
{
    const char* option;    //!< the option, e.g. "--rounds"
    const char* attribute; //!< the TadLoraClient attribute it sets, e.g. "Rounds"
    /** the attribute's value in a run with these options */
    Ptr<AttributeValue> (*value)(const TadLoraConfig& config);
};

/**
 * @return the one table of which option sets which client attribute. In point-to-point runs
 *         --warmup-s and --beacon-interval-s do not apply: Warmup and BeaconInterval are 0.
 *         With the defaults of a Wi-Fi run, every value equals the attribute's own default.
 */
const std::vector<TadLoraOptionAttribute>& TadLoraOptionAttributes();

/**
 * @ingroup tadlora
 * @brief Installs a TadLoraClient on each node; node i of the container becomes client i.
 */
class TadLoraClientHelper
{
public:
    /**
     * @param learner the run's learning side (a tadlora::Federation in a run); must outlive the
     * simulation
     * @param graph the run's intended graph of each round
     */
    TadLoraClientHelper(tadlora::Learner* learner, std::shared_ptr<tadlora::GossipGraph> graph);

    /**
     * @brief Set an attribute of every client installed from now on.
     * @param name the attribute's name
     * @param value its value
     */
    void SetAttribute(const std::string& name, const AttributeValue& value);

    /**
     * @brief Set every client attribute that a run's options name (--rounds, --transport, ...;
     * TadLoraOptionAttributes).
     * @param config the run's options
     */
    void SetAttributes(const TadLoraConfig& config);

    /**
     * @param node the node
     * @param clientId the client index it gets
     * @return the installed application
     */
    ApplicationContainer Install(Ptr<Node> node, uint32_t clientId) const;

    /**
     * @param nodes the nodes; the i-th becomes client i
     * @return the installed applications, in the same order
     */
    ApplicationContainer Install(const NodeContainer& nodes) const;

    /**
     * @brief Install a client on each node and give it its base-graph neighbours' addresses on
     * the network.
     * @param nodes the network's nodes; the i-th becomes client i
     * @param network the network they are on
     * @return the installed applications, in the same order
     */
    ApplicationContainer Install(const NodeContainer& nodes,
                                 const TadLoraNetworkHelper& network) const;

    /**
     * @brief Fix the random streams of installed clients, as ns-3 helpers do.
     * @param apps clients installed by this helper
     * @param stream the first stream index
     * @return the number of streams used
     */
    int64_t AssignStreams(const ApplicationContainer& apps, int64_t stream) const;

private:
    ObjectFactory m_factory;                        //!< makes TadLoraClient objects
    tadlora::Learner* m_learner;                    //!< learning side
    std::shared_ptr<tadlora::GossipGraph> m_graph;  //!< intended graph of each round
    std::shared_ptr<TadLoraRoundBarrier> m_barrier; //!< shared by the clients it installs
};

} // namespace ns3

#endif // TADLORA_CLIENT_HELPER_H
