// SPDX-License-Identifier: GPL-2.0-only
// The ns-3 TestSuite "tadlora": the module's network side on small ns-3 networks, with a
// stand-in learner whose "factors" are a few numbers, so that every mix is computed by hand.
// In an ns-3 tree: ./test.py -s tadlora. Out of tree: ctest -R ns3-test-suite-tadlora.
// The learning side (LibTorch, no ns-3) is tested by the GoogleTest suites in tests/.

#include "tadlora-client.h"
#include "tadlora-learner.h"
#include "tadlora-round-barrier.h"
#include "tadlora-scenario.h"
#include "tadlora-topology.h"

#include "ns3/core-module.h"
#include "ns3/test.h"

#include <map>
#include <string>
#include <vector>

using namespace ns3;
using tadlora::Factor;

namespace
{

/** Factors A_i = {3i, 1} and B_i = {10i}; training leaves them alone. */
class StandInLearner : public tadlora::Learner
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

    double FlopsPerStep() const override
    {
        return 1e6;
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

    std::vector<uint8_t> Serialize(uint32_t client, Factor factor, uint64_t round) override
    {
        tadlora::MessageHeader header;
        header.sender = client;
        header.round = round;
        header.factor = factor;
        header.shapes = {{1, static_cast<uint32_t>(m_values[factor][client].size())}};
        return tadlora::EncodeMessage(header, m_values[factor][client]);
    }

    tadlora::FactorMessage Decode(const std::vector<uint8_t>& bytes) override
    {
        tadlora::FactorMessage message = tadlora::DecodeMessage(bytes);
        if (message.values.size() != m_values[message.header.factor][0].size())
        {
            throw tadlora::MessageError(tadlora::Rejection::Shape, "not a stand-in factor");
        }
        return message;
    }

    void Mix(uint32_t client, Factor factor, double selfWeight,
             const std::vector<tadlora::WeightedFactor>& neighbours) override
    {
        std::vector<float>& x = m_values[factor][client];
        for (size_t k = 0; k < x.size(); ++k)
        {
            double mixed = selfWeight * x[k];
            for (const tadlora::WeightedFactor& n : neighbours)
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
TadLoraConfig
Ring(TadLoraTransportKind transport)
{
    TadLoraConfig c;
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
    std::vector<TadLoraMessageEvent> sent;
    std::vector<TadLoraMessageEvent> received;
    std::vector<TadLoraMessageEvent> rejected;
    uint32_t fragments = 0;
    std::map<uint32_t, std::vector<uint64_t>> rounds; //!< client -> rounds completed
    std::map<std::pair<uint32_t, uint64_t>, double> loss;
};

/** @return the traces of a run of the configuration with the learner */
Traces
Simulate(const TadLoraConfig& c, tadlora::Learner& learner)
{
    Traces t;
    TadLoraScenario scenario(c, learner, tadlora::MakeBaseGraph("ring", c.run.clients, c.run.seed));
    ApplicationContainer& apps = scenario.Clients();
    for (uint32_t i = 0; i < apps.GetN(); ++i)
    {
        using Message = Callback<void, const TadLoraMessageEvent&>;
        apps.Get(i)->TraceConnectWithoutContext(
            "FactorSent", Message([&t](const TadLoraMessageEvent& e) { t.sent.push_back(e); }));
        apps.Get(i)->TraceConnectWithoutContext(
            "FactorReceived",
            Message([&t](const TadLoraMessageEvent& e) { t.received.push_back(e); }));
        apps.Get(i)->TraceConnectWithoutContext(
            "FactorRejected", Callback<void, const TadLoraMessageEvent&, tadlora::Rejection>(
                                  [&t](const TadLoraMessageEvent& e, tadlora::Rejection)
                                  { t.rejected.push_back(e); }));
        apps.Get(i)->TraceConnectWithoutContext(
            "FragmentReceived", Callback<void, uint32_t, uint32_t, uint32_t>(
                                    [&t](uint32_t, uint32_t, uint32_t) { ++t.fragments; }));
        apps.Get(i)->TraceConnectWithoutContext(
            "RoundCompleted", Callback<void, uint32_t, uint64_t, double>(
                                  [&t](uint32_t client, uint64_t round, double loss)
                                  {
                                      t.rounds[client].push_back(round);
                                      t.loss[{client, round}] = loss;
                                  }));
    }
    apps.Start(Seconds(0));
    Simulator::Run();
    Simulator::Destroy();
    return t;
}

} // namespace

/** Every round, each client mixes its neighbours' factors with Metropolis-Hastings weights. */
class TadLoraClientRingTestCase : public TestCase
{
public:
    /** @param transport how factors travel */
    explicit TadLoraClientRingTestCase(TadLoraTransportKind transport)
        : TestCase("Four clients on a ring mix with Metropolis-Hastings weights over " +
                   TadLoraChoiceName(transport))
        , m_transport(transport)
    {
    }

private:
    void DoRun() override
    {
        const TadLoraConfig c = Ring(m_transport);
        StandInLearner learner(c.run.clients);
        const Traces t = Simulate(c, learner);

        // Ring of 4, every degree 2: W_ij = 1/3 for i, j neighbours, W_ii = 1/3.
        // A's first element, 3i = {0, 3, 6, 9}, after round 0: {(9+0+3)/3, (0+3+6)/3,
        // (3+6+9)/3, (6+9+0)/3} = {4, 3, 6, 5}; after round 1: {(5+4+3)/3, (4+3+6)/3,
        // (3+6+5)/3, (6+5+4)/3}.
        const std::vector<double> a{4, 13.0 / 3, 14.0 / 3, 5};
        // B = {0, 10, 20, 30}: {40, 30, 60, 50} / 3, then {(50+40+30), (40+30+60),
        // (30+60+50), (60+50+40)} / 9.
        const std::vector<double> b{120.0 / 9, 130.0 / 9, 140.0 / 9, 150.0 / 9};
        for (uint32_t i = 0; i < c.run.clients; ++i)
        {
            NS_TEST_EXPECT_MSG_EQ_TOL(learner.Values(Factor::A, i)[0], a[i], 1e-5,
                                      "A[0], client " << i);
            NS_TEST_EXPECT_MSG_EQ(learner.Values(Factor::A, i)[1], 1.0f, "A[1], client " << i);
            NS_TEST_EXPECT_MSG_EQ_TOL(learner.Values(Factor::B, i)[0], b[i], 1e-5,
                                      "B, client " << i);
            NS_TEST_EXPECT_MSG_EQ((t.rounds.at(i) == std::vector<uint64_t>{0, 1}), true,
                                  "rounds completed, client " << i);
            NS_TEST_EXPECT_MSG_EQ(learner.ended.at(i), 1u, "last round ended, client " << i);
            for (uint64_t round = 0; round < 2; ++round)
            {
                NS_TEST_EXPECT_MSG_EQ(learner.trained.at({i, round}), 1, "trained once");
                NS_TEST_EXPECT_MSG_EQ(t.loss.at({i, round}), 0.5, "the learner's loss");
            }
        }
        // Unicast: each client sends each factor to each of its 2 neighbours every round (32
        // messages); a broadcast is one message per factor heard by both. Every message is
        // padded to 3000 bytes on the wire, 1000 per 1031-byte record: 3 fragments.
        const size_t messages = 4 * 2 * 2 * 2;
        NS_TEST_ASSERT_MSG_EQ(t.sent.size(), messages, "messages sent");
        for (const auto& e : t.sent)
        {
            NS_TEST_EXPECT_MSG_EQ(e.bytes, 3000u, "bytes on the wire");
            NS_TEST_EXPECT_MSG_EQ(e.fragments, 3u, "fragments");
        }
        NS_TEST_EXPECT_MSG_EQ(t.received.size(), messages, "messages received");
        NS_TEST_EXPECT_MSG_EQ(t.fragments, 3 * messages, "fragments received");
        NS_TEST_EXPECT_MSG_EQ(t.rejected.size(), 0u, "messages rejected");
    }

    TadLoraTransportKind m_transport; //!< how factors travel
};

/** Deadlines end every round whatever is lost. */
class TadLoraClientLossyTestCase : public TestCase
{
public:
    TadLoraClientLossyTestCase()
        : TestCase("Clients finish every round over links that lose 30% of packets")
    {
    }

private:
    void DoRun() override
    {
        TadLoraConfig c = Ring(TadLoraTransportKind::Udp);
        c.run.rounds = 6;
        c.p2p.linkLoss = 0.3;
        StandInLearner learner(c.run.clients);
        const Traces t = Simulate(c, learner);
        // Some messages are lost; whatever was mixed stays within the range of what was mixed.
        NS_TEST_EXPECT_MSG_LT(t.received.size(), t.sent.size(), "some messages are lost");
        for (uint32_t i = 0; i < c.run.clients; ++i)
        {
            NS_TEST_EXPECT_MSG_EQ(t.rounds.at(i).size(), 6u, "rounds completed, client " << i);
            NS_TEST_EXPECT_MSG_GT_OR_EQ(learner.Values(Factor::A, i)[0], 0.0f, "client " << i);
            NS_TEST_EXPECT_MSG_LT_OR_EQ(learner.Values(Factor::A, i)[0], 9.0f, "client " << i);
            NS_TEST_EXPECT_MSG_EQ_TOL(learner.Values(Factor::A, i)[1], 1.0f, 1e-6, "client " << i);
        }
    }
};

/** The round barrier releases every client when the last one arrives, round after round. */
class TadLoraRoundBarrierTestCase : public TestCase
{
public:
    TadLoraRoundBarrierTestCase()
        : TestCase("The round barrier releases all clients at the last arrival")
    {
    }

private:
    void DoRun() override
    {
        TadLoraRoundBarrier barrier;
        std::vector<double> released; // seconds at which a client's next round started
        auto arrive = [&barrier, &released]()
        { barrier.Arrive([&released]() { released.push_back(Simulator::Now().GetSeconds()); }); };
        for (int client = 0; client < 3; ++client)
        {
            barrier.Join();
        }
        // Round 0: arrivals at 1, 3 and 2 s; round 1: at 5, 4 and 6 s.
        for (double at : {1.0, 3.0, 2.0, 5.0, 4.0, 6.0})
        {
            Simulator::Schedule(Seconds(at), arrive);
        }
        Simulator::Stop(Seconds(3.5));
        Simulator::Run();
        NS_TEST_ASSERT_MSG_EQ(released.size(), 3u, "all three released after round 0");
        for (double at : released)
        {
            NS_TEST_EXPECT_MSG_EQ_TOL(at, 3.0, 1e-9, "round 0 ends at the last arrival");
        }
        Simulator::Run();
        NS_TEST_ASSERT_MSG_EQ(released.size(), 6u, "all three released after round 1");
        for (size_t k = 3; k < 6; ++k)
        {
            NS_TEST_EXPECT_MSG_EQ_TOL(released[k], 6.0, 1e-9, "round 1 ends at the last arrival");
        }
        Simulator::Destroy();
    }
};

/** The module's ns-3 TestSuite. */
class TadLoraTestSuite : public TestSuite
{
public:
    TadLoraTestSuite()
        : TestSuite("tadlora", UNIT)
    {
        for (auto transport : {TadLoraTransportKind::Udp, TadLoraTransportKind::Tcp,
                               TadLoraTransportKind::Broadcast})
        {
            AddTestCase(new TadLoraClientRingTestCase(transport), TestCase::QUICK);
        }
        AddTestCase(new TadLoraClientLossyTestCase, TestCase::QUICK);
        AddTestCase(new TadLoraRoundBarrierTestCase, TestCase::QUICK);
    }
};

static TadLoraTestSuite g_tadLoraTestSuite; //!< registers the suite with ns-3's TestRunner
