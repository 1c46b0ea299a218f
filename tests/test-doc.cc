// SPDX-License-Identifier: GPL-2.0-only
// The module's documentation lists exactly the client's attributes and trace sources.

#include "tadlora-client.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace
{

/** @return the rst text between the heading `from` and the line starting with `to` */
std::string
Section(const std::string& from, const std::string& to)
{
    std::ifstream file(TADLORA_DOC);
    std::stringstream text;
    text << file.rdbuf();
    const std::string doc = text.str();
    const size_t start = doc.find(from + "\n" + std::string(from.size(), '='));
    const size_t end = doc.find("\n" + to, start);
    EXPECT_NE(start, std::string::npos) << from;
    EXPECT_NE(end, std::string::npos) << to;
    return doc.substr(start, end - start);
}

/** @return the names that open the section's bullets: "* ``Name``" */
std::set<std::string>
Bulleted(const std::string& section)
{
    std::set<std::string> names;
    const std::regex bullet(R"(\n\* ``([A-Za-z]+)``)");
    for (std::sregex_iterator it(section.begin(), section.end(), bullet), end; it != end; ++it)
    {
        names.insert((*it)[1]);
    }
    return names;
}

} // namespace

TEST(Documentation, ListsEveryAttributeOfTheClient)
{
    const ns3::TypeId tid = ns3::TadLoraClient::GetTypeId();
    std::set<std::string> attributes;
    for (uint32_t i = 0; i < tid.GetAttributeN(); ++i)
    {
        attributes.insert(tid.GetAttribute(i).name);
    }
    EXPECT_EQ(Bulleted(Section("Attributes", "Traces")), attributes);
}

TEST(Documentation, ListsEveryTraceSourceOfTheClient)
{
    const ns3::TypeId tid = ns3::TadLoraClient::GetTypeId();
    std::set<std::string> sources;
    for (uint32_t i = 0; i < tid.GetTraceSourceN(); ++i)
    {
        sources.insert(tid.GetTraceSource(i).name);
    }
    EXPECT_EQ(Bulleted(Section("Traces", "Records:")), sources);
}
