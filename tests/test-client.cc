// SPDX-License-Identifier: GPL-2.0-only
// The client's protocol on a small ns-3 network, with a stand-in learner: a client's "factors"
// are two numbers and one, so every mix can be computed by hand.

#include "tadlora-client.h"
#include "tadlora-learner.h"
#include "tadlora-scenario.h"
#include "tadlora-topology.h"

#include "ns3/core-module.h"

#include <gtest/gtest.h>

#include <map>

using namespace tadlora;

namespace
{

/** Factors A_i = {3i, 1} and B_i = {10i}; training leaves them alone. */
class StandInLearner : public Learner
{
public:
    explicit StandInLearner(uint32_t clients)
    {
        for (uint32_t i = 0; i < clients; ++i)
        {
            m_values[Factor::A].push_back({3.0f * i, 1.0f});
            m_values[Factor::B].push_back({10.0f * i});
        }
    }

    uint32_t LocalSteps() const override
    {
        return 4;
    }

    std::vector<Factor> MixedFactors(uint64_t) const override
    {
        return {Factor::A, Factor::B};
    }

    double Train(uint32_t client, uint64_t round) override
    {
        ++trained[{client, round}];
        return 0.5;
    }

    std::vector<uint8_t> Serialize(uint32_t client, Factor factor, uint64_t round,
                                   uint32_t degree) override
    {
        MessageHeader header;
        header.sender = client;
        header.round = round;
        header.factor = factor;
        header.senderDegree = degree;
        header.shapes = {{1, static_cast<uint32_t>(m_values[factor][client].size())}};
        return EncodeMessage(header, m_values[factor][client]);
    }

    FactorMessage Decode(const std::vector<uint8_t>& bytes) override
    {
        FactorMessage message = DecodeMessage(bytes);
        if (message.values.size() != m_values[message.header.factor][0].size())
        {
            throw MessageError("not a stand-in factor");
        }
        return message;
    }

    void Mix(uint32_t client, Factor factor, double selfWeight,
             const std::vector<WeightedFactor>& neighbours) override
    {
        std::vector<float>& x = m_values[factor][client];
        for (size_t k = 0; k < x.size(); ++k)
        {
            double mixed = selfWeight * x[k];
            for (const WeightedFactor& n : neighbours)
            {
                mixed += n.weight * n.message->values[k];
            }
            x[k] = static_cast<float>(mixed);
        }
    }

    void EndRound(uint32_t client, uint64_t round) override
    {
        ended[client] = round;
    }

    /** @return client i's factor */
    const std::vector<float>& Values(Factor factor, uint32_t client)
    {
        return m_values[factor][client];
    }

    std::map<std::pair<uint32_t, uint64_t>, int> trained; //!< (client, round) -> Train calls
    std::map<uint32_t, uint64_t> ended;                   //!< client -> last round ended

private:
    std::map<Factor, std::vector<std::vector<float>>> m_values;
};

/** Four clients on a ring of point-to-point links, every link active in every round. */
ns3::TadLoraConfig
Ring(const std::string& transport)
{
    ns3::TadLoraConfig c;
    c.run.clients = 4;
    c.run.rounds = 2;
    c.exchange.linkProb = 1;
    c.exchange.transport = transport;
    c.exchange.fragmentSize = 1031;
    c.exchange.virtualPayloadBytes = 3000;
    return c;
}

/** What the clients' trace sources reported. */
struct Traces
{
    std::vector<ns3::TadLoraMessageEvent> sent;
    std::vector<ns3::TadLoraMessageEvent> received;
    std::vector<ns3::TadLoraMessageEvent> rejected;
    int fragments = 0;
    std::map<uint32_t, std::vector<uint64_t>> rounds; //!< client -> rounds completed
    std::map<std::pair<uint32_t, uint64_t>, double> loss;
};

Traces
Simulate(const ns3::TadLoraConfig& c, Learner& learner)
{
    Traces t;
    ns3::TadLoraScenario scenario(c, learner, MakeBaseGraph("ring", c.run.clients, c.run.seed));
    ns3::ApplicationContainer& apps = scenario.Clients();
    for (uint32_t i = 0; i < apps.GetN(); ++i)
    {
        using Message = ns3::Callback<void, const ns3::TadLoraMessageEvent&>;
        apps.Get(i)->TraceConnectWithoutContext(
            "FactorSent",
            Message([&t](const ns3::TadLoraMessageEvent& e) { t.sent.push_back(e); }));
        apps.Get(i)->TraceConnectWithoutContext(
            "FactorReceived",
            Message([&t](const ns3::TadLoraMessageEvent& e) { t.received.push_back(e); }));
        apps.Get(i)->TraceConnectWithoutContext(
            "FactorRejected",
            Message([&t](const ns3::TadLoraMessageEvent& e) { t.rejected.push_back(e); }));
        apps.Get(i)->TraceConnectWithoutContext(
            "FragmentReceived", ns3::Callback<void, uint32_t, uint32_t, uint32_t>(
                                    [&t](uint32_t, uint32_t, uint32_t) { ++t.fragments; }));
        apps.Get(i)->TraceConnectWithoutContext(
            "RoundCompleted", ns3::Callback<void, uint32_t, uint64_t, double>(
                                  [&t](uint32_t client, uint64_t round, double loss)
                                  {
                                      t.rounds[client].push_back(round);
                                      t.loss[{client, round}] = loss;
                                  }));
    }
    apps.Start(ns3::Seconds(0));
    ns3::Simulator::Run();
    ns3::Simulator::Destroy();
    return t;
}

class ClientOnARing : public testing::TestWithParam<std::string>
{
};

} // namespace

TEST_P(ClientOnARing, MixesEveryRoundWithMetropolisHastingsWeights)
{
    const ns3::TadLoraConfig c = Ring(GetParam());
    StandInLearner learner(c.run.clients);
    const Traces t = Simulate(c, learner);

    // Ring of 4, every degree 2: W_ij = 1/3 for i, j neighbours, W_ii = 1/3.
    // A's first element, 3i = {0, 3, 6, 9}, after round 0: {(9+0+3)/3, (0+3+6)/3, (3+6+9)/3,
    // (6+9+0)/3} = {4, 3, 6, 5}; after round 1: {(5+4+3)/3, (4+3+6)/3, (3+6+5)/3, (6+5+4)/3}.
    const std::vector<double> a{4, 13.0 / 3, 14.0 / 3, 5};
    // B = {0, 10, 20, 30}: {40, 30, 60, 50} / 3, then {(50+40+30), (40+30+60), (30+60+50),
    // (60+50+40)} / 9.
    const std::vector<double> b{120.0 / 9, 130.0 / 9, 140.0 / 9, 150.0 / 9};
    for (uint32_t i = 0; i < c.run.clients; ++i)
    {
        EXPECT_NEAR(learner.Values(Factor::A, i)[0], a[i], 1e-5) << "client " << i;
        EXPECT_FLOAT_EQ(learner.Values(Factor::A, i)[1], 1.0f) << "client " << i;
        EXPECT_NEAR(learner.Values(Factor::B, i)[0], b[i], 1e-5) << "client " << i;
        EXPECT_EQ(t.rounds.at(i), (std::vector<uint64_t>{0, 1})) << "client " << i;
        EXPECT_EQ(learner.ended.at(i), 1u);
        for (uint64_t round = 0; round < 2; ++round)
        {
            EXPECT_EQ(learner.trained.at({i, round}), 1);
            EXPECT_EQ(t.loss.at({i, round}), 0.5);
        }
    }
    // Unicast: each client sends each factor to each of its 2 neighbours every round (32
    // messages); a broadcast is one message per factor heard by both. Every message is padded
    // to 3000 bytes on the wire, 1000 per 1031-byte record: 3 fragments.
    const size_t messages = 4 * 2 * 2 * 2;
    EXPECT_EQ(t.sent.size(), messages);
    for (const auto& e : t.sent)
    {
        EXPECT_EQ(e.bytes, 3000u);
        EXPECT_EQ(e.fragments, 3u);
    }
    EXPECT_EQ(t.received.size(), messages);
    EXPECT_EQ(t.fragments, static_cast<int>(3 * messages));
    EXPECT_TRUE(t.rejected.empty());
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientOnARing, testing::Values("udp", "tcp", "broadcast"));

TEST(Client, FinishesEveryRoundOverLossyLinks)
{
    ns3::TadLoraConfig c = Ring("udp");
    c.run.rounds = 6;
    c.p2p.linkLoss = 0.3;
    StandInLearner learner(c.run.clients);
    const Traces t = Simulate(c, learner);
    // Deadlines end every round whatever is lost; some messages are lost, and whatever was
    // mixed stays within the range of the values mixed.
    EXPECT_LT(t.received.size(), t.sent.size());
    for (uint32_t i = 0; i < c.run.clients; ++i)
    {
        EXPECT_EQ(t.rounds.at(i).size(), 6u) << "client " << i;
        EXPECT_GE(learner.Values(Factor::A, i)[0], 0.0f);
        EXPECT_LE(learner.Values(Factor::A, i)[0], 9.0f);
        EXPECT_NEAR(learner.Values(Factor::A, i)[1], 1.0f, 1e-6);
    }
}
