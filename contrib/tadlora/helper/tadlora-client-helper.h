// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_CLIENT_HELPER_H
#define TADLORA_CLIENT_HELPER_H

#include "ns3/application-container.h"
#include "ns3/node-container.h"
#include "ns3/object-factory.h"

#include <memory>

namespace tadlora
{
class Federation;
class GossipGraph;
} // namespace tadlora

namespace ns3
{

/**
 * @ingroup tadlora
 * @brief Installs a TadLoraClient on each node; node i of the container becomes client i.
 */
class TadLoraClientHelper
{
public:
    /**
     * @param federation the run's learning side; must outlive the simulation
     * @param graph the run's intended graph of each round
     */
    TadLoraClientHelper(tadlora::Federation* federation,
                        std::shared_ptr<tadlora::GossipGraph> graph);

    /**
     * @brief Set an attribute of every client installed from now on.
     * @param name the attribute's name
     * @param value its value
     */
    void SetAttribute(const std::string& name, const AttributeValue& value);

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

private:
    ObjectFactory m_factory;                       //!< makes TadLoraClient objects
    tadlora::Federation* m_federation;             //!< learning side
    std::shared_ptr<tadlora::GossipGraph> m_graph; //!< intended graph of each round
};

} // namespace ns3

#endif // TADLORA_CLIENT_HELPER_H
