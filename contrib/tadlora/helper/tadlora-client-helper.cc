// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-client-helper.h"

#include "tadlora-client.h"

#include "ns3/uinteger.h"

namespace ns3
{

TadLoraClientHelper::TadLoraClientHelper(tadlora::Federation* federation,
                                         std::shared_ptr<tadlora::GossipGraph> graph)
    : m_federation(federation)
    , m_graph(std::move(graph))
{
    m_factory.SetTypeId(TadLoraClient::GetTypeId());
}

void
TadLoraClientHelper::SetAttribute(const std::string& name, const AttributeValue& value)
{
    m_factory.Set(name, value);
}

ApplicationContainer
TadLoraClientHelper::Install(Ptr<Node> node, uint32_t clientId) const
{
    Ptr<TadLoraClient> client = m_factory.Create<TadLoraClient>();
    client->SetAttribute("ClientId", UintegerValue(clientId));
    client->Setup(m_federation, m_graph);
    node->AddApplication(client);
    return ApplicationContainer(client);
}

ApplicationContainer
TadLoraClientHelper::Install(const NodeContainer& nodes) const
{
    ApplicationContainer apps;
    for (uint32_t i = 0; i < nodes.GetN(); ++i)
    {
        apps.Add(Install(nodes.Get(i), i));
    }
    return apps;
}

} // namespace ns3
