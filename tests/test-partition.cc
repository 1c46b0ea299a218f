// SPDX-License-Identifier: GPL-2.0-only
/**
 * @file
 * Tests of the client partitions (iid, Dirichlet, label skew).
 */

#include "tadlora-partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace
{

using tadlora::Partition;
using tadlora::PartitionRows;

/** @return n labels cycling through 0..numClasses-1, so every class is equally frequent */
std::vector<int64_t>
BalancedLabels(size_t n, uint32_t numClasses)
{
    std::vector<int64_t> labels(n);
    for (size_t i = 0; i < n; ++i)
    {
        labels[i] = int64_t(i % numClasses);
    }
    return labels;
}

/** @return the fraction of each class among the given samples */
std::vector<double>
ClassShares(const std::vector<uint32_t>& part, const std::vector<int64_t>& labels,
            uint32_t numClasses)
{
    std::vector<double> shares(numClasses, 0.0);
    for (uint32_t index : part)
    {
        shares[labels[index]] += 1.0 / part.size();
    }
    return shares;
}

/** @return the mean over clients of the share of each client's most frequent class */
double
MeanMaxClassShare(const std::vector<std::vector<uint32_t>>& parts,
                  const std::vector<int64_t>& labels, uint32_t numClasses)
{
    double sum = 0;
    for (const auto& part : parts)
    {
        const std::vector<double> shares = ClassShares(part, labels, numClasses);
        sum += *std::max_element(shares.begin(), shares.end());
    }
    return sum / parts.size();
}

TEST(Partition, LabelSkewTwoClassesFollowsThePaper)
{
    const auto labels = BalancedLabels(10000, 2);
    const auto parts = Partition(labels, 2, 10, "label-skew", 1);
    ASSERT_EQ(parts.size(), 10U);
    for (uint32_t i = 0; i < 10; ++i)
    {
        EXPECT_EQ(parts[i].size(), 1000U) << "client " << i;
        const double expected = i < 3 ? 0.9 : (i < 6 ? 0.1 : 0.5);
        EXPECT_NEAR(ClassShares(parts[i], labels, 2)[0], expected, 0.02) << "client " << i;
    }
}

TEST(Partition, LabelSkewThreeClassesFormsGroupsOfFourThreeThree)
{
    const auto labels = BalancedLabels(9000, 3);
    const auto parts = Partition(labels, 3, 10, "label-skew", 1);
    const uint32_t dominant[10] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
    for (uint32_t i = 0; i < 10; ++i)
    {
        // Class 0 must cover 3.9 client shares out of 3000 samples: n <= 3000 / 3.9 = 769.2,
        // less one for rounding each client's shares.
        EXPECT_EQ(parts[i].size(), 768U) << "client " << i;
        const auto shares = ClassShares(parts[i], labels, 3);
        for (uint32_t c = 0; c < 3; ++c)
        {
            EXPECT_NEAR(shares[c], c == dominant[i] ? 0.9 : 0.05, 0.02) << "client " << i;
        }
    }
}

TEST(Partition, LabelSkewWithMoreClassesThanClientsLeadsOneClassPerClient)
{
    const auto labels = BalancedLabels(10000, 10);
    const auto parts = Partition(labels, 10, 4, "label-skew", 3);
    for (uint32_t i = 0; i < 4; ++i)
    {
        // Classes 0..3 must each cover 0.9 + 3 x 0.1 / 9 client shares out of 1000 samples.
        EXPECT_EQ(parts[i].size(), 1071U) << "client " << i;
        EXPECT_NEAR(ClassShares(parts[i], labels, 10)[i], 0.9, 0.02) << "client " << i;
    }
}

TEST(Partition, EverySpecGivesDisjointSortedParts)
{
    const auto labels = BalancedLabels(5003, 10);
    for (const std::string spec : {"iid", "dirichlet:0.3", "label-skew"})
    {
        const auto parts = Partition(labels, 10, 7, spec, 5);
        std::set<uint32_t> seen;
        size_t total = 0;
        for (const auto& part : parts)
        {
            EXPECT_FALSE(part.empty()) << spec;
            EXPECT_TRUE(std::is_sorted(part.begin(), part.end())) << spec;
            EXPECT_LT(part.back(), labels.size()) << spec;
            seen.insert(part.begin(), part.end());
            total += part.size();
        }
        EXPECT_EQ(seen.size(), total) << spec << ": a sample went to two clients";
    }
}

TEST(Partition, DirichletUsesEverySample)
{
    const auto labels = BalancedLabels(5003, 10);
    size_t total = 0;
    for (const auto& part : Partition(labels, 10, 7, "dirichlet:0.3", 5))
    {
        total += part.size();
    }
    EXPECT_EQ(total, labels.size());
}

TEST(Partition, SameSeedSamePartitionOtherSeedDifferent)
{
    const auto labels = BalancedLabels(4000, 4);
    for (const std::string spec : {"iid", "dirichlet:1", "label-skew"})
    {
        EXPECT_EQ(Partition(labels, 4, 5, spec, 42), Partition(labels, 4, 5, spec, 42)) << spec;
        EXPECT_NE(Partition(labels, 4, 5, spec, 42), Partition(labels, 4, 5, spec, 43)) << spec;
    }
}

TEST(Partition, IidIsNearUniformWithEqualSizes)
{
    const auto labels = BalancedLabels(20000, 10);
    const auto parts = Partition(labels, 10, 10, "iid", 7);
    for (const auto& part : parts)
    {
        EXPECT_EQ(part.size(), 2000U);
        for (double share : ClassShares(part, labels, 10))
        {
            EXPECT_NEAR(share, 0.1, 0.03); // binomial std is 0.0067
        }
    }
}

TEST(Partition, SmallDirichletAlphaIsMoreSkewedThanLargeAlpha)
{
    const auto labels = BalancedLabels(20000, 10);
    // Measured: 0.474 at ALPHA 0.1, 0.113 at ALPHA 100 (0.1 would be perfectly even).
    const double skewed =
        MeanMaxClassShare(Partition(labels, 10, 10, "dirichlet:0.1", 7), labels, 10);
    const double even =
        MeanMaxClassShare(Partition(labels, 10, 10, "dirichlet:100", 7), labels, 10);
    EXPECT_GT(skewed, 0.4);
    EXPECT_LT(even, 0.2);
}

TEST(Partition, BadSpecsThrowNamingTheOption)
{
    const auto labels = BalancedLabels(100, 2);
    for (const std::string spec :
         {"foo", "", "IID", "iid:2", "dirichlet", "dirichlet:", "dirichlet:0", "dirichlet:-1",
          "dirichlet:abc", "dirichlet:1x", "dirichlet:nan", "dirichlet:inf", "label-skew:2"})
    {
        try
        {
            Partition(labels, 2, 4, spec, 1);
            ADD_FAILURE() << "'" << spec << "' was accepted";
        }
        catch (const std::invalid_argument& error)
        {
            const std::string message = error.what();
            EXPECT_NE(message.find("partition"), std::string::npos) << message;
            EXPECT_EQ(message.find("--"), std::string::npos)
                << message; // the options layer adds it
            EXPECT_EQ(message.find('\n'), std::string::npos) << message;
        }
    }
}

TEST(Partition, UnknownSpecListsTheAllowedOnes)
{
    try
    {
        Partition(BalancedLabels(100, 2), 2, 4, "foo", 1);
        FAIL() << "'foo' was accepted";
    }
    catch (const std::invalid_argument& error)
    {
        EXPECT_STREQ(error.what(),
                     "unknown partition 'foo' (allowed: iid, dirichlet:ALPHA, label-skew)");
    }
}

TEST(Partition, MoreClientsThanSamplesThrows)
{
    EXPECT_THROW(Partition(BalancedLabels(5, 2), 2, 10, "iid", 1), std::invalid_argument);
    EXPECT_THROW(Partition(BalancedLabels(5, 2), 2, 10, "label-skew", 1), std::invalid_argument);
}

TEST(Partition, LabelOutsideTheClassesThrows)
{
    EXPECT_THROW(Partition({0, 1, 2}, 2, 1, "iid", 1), std::invalid_argument);
}

} // namespace

TEST(Partition, RowsArePartitionedByTheirLabelsAndNamedByRow)
{
    // Two samples of every three, as if the third were a pretraining split.
    const std::vector<int64_t> labels = BalancedLabels(400, 10);
    std::vector<uint32_t> rows;
    std::vector<int64_t> held;
    for (uint32_t row = 0; row < 400; ++row)
    {
        if (row % 3 == 0)
        {
            continue;
        }
        rows.push_back(row);
        held.push_back(labels[row]);
    }
    for (const std::string spec : {"iid", "label-skew", "dirichlet:0.5"})
    {
        const auto parts = PartitionRows(labels, rows, 10, 5, spec, 9);
        const auto reference = Partition(held, 10, 5, spec, 9);
        ASSERT_EQ(parts.size(), reference.size()) << spec;
        for (size_t c = 0; c < parts.size(); ++c)
        {
            ASSERT_EQ(parts[c].size(), reference[c].size()) << spec;
            for (size_t k = 0; k < parts[c].size(); ++k)
            {
                EXPECT_NE(parts[c][k] % 3, 0u) << spec; // never a row outside rows
                EXPECT_EQ(parts[c][k], rows[reference[c][k]]) << spec;
            }
        }
    }
}
