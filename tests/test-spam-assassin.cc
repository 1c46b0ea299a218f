// SPDX-License-Identifier: GPL-2.0-only
/**
 * @file
 * Tests of the text task: the tokenizer, the loader on a tiny corpus in the npm package's
 * format, and the real corpus that scripts/setup.sh installs.
 */

#include "tadlora-spam-assassin.h"
#include "tadlora-test-task.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace
{

using namespace tadlora;
namespace fs = std::filesystem;

/** Ids of words, from their 32-bit FNV-1a hashes computed independently: 2 + hash % 4094. */
constexpr int64_t kWin = 2691;
constexpr int64_t kDollar = 2889;
constexpr int64_t k1000 = 3656;
constexpr int64_t kNow = 463;
constexpr int64_t kBang = 16;
constexpr int64_t kHello = 465;
constexpr int64_t kWorld = 3567;
constexpr int64_t kThree = 3248;
constexpr int64_t kFree = 1985;
constexpr int64_t kW0rd = 438;

/** @return ids padded to kSpamAssassinTokens */
std::vector<int64_t>
Padded(std::vector<int64_t> ids)
{
    ids.resize(kSpamAssassinTokens, kPaddingToken);
    return ids;
}

/** A mail of the tiny corpus. */
struct TinyMail
{
    std::string group;
    std::string checksum;
    std::string text;
};

/**
 * @return a corpus directory laid out as the package's data/: file_list.json naming each
 *         group/ID.MD5.txt, and beside each the JSON record {id, group, checksum, text}
 */
fs::path
WriteCorpus(const std::string& name, const std::vector<TinyMail>& mails)
{
    const fs::path dir = fs::path(test::TempDir()) / name;
    fs::create_directories(dir);
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < mails.size(); ++i)
    {
        const TinyMail& m = mails[i];
        const std::string id = std::to_string(10001 + i).substr(1);
        const std::string stem = m.group + "/" + id + "." + m.checksum;
        fs::create_directories(dir / m.group);
        std::ofstream(dir / (stem + ".txt")) << m.text;
        std::ofstream(dir / (stem + ".json")) << nlohmann::json{
            {"id", id},
            {"group", m.group},
            {"checksum", {{"type", "MD5"}, {"value", m.checksum}}},
            {"text", m.text}}.dump();
        list.push_back(stem + ".txt");
    }
    std::ofstream(dir / "file_list.json") << list.dump(2);
    return dir;
}

/** @return a checksum whose first 32 bits are the given hex digits */
std::string
Md5Starting(const std::string& first8)
{
    return first8 + std::string(24, 'c');
}

/**
 * Six mails, listed out of checksum order. Held out (first 32 bits divisible by 5): 00000000,
 * 0000000a and ffffffff; trained on: 00000001, 00000002 and 80000000.
 */
std::vector<TinyMail>
SixMails()
{
    return {
        {"spam-2", Md5Starting("80000000"), "Subject: f\n\nf"},
        {"easy-ham-1", Md5Starting("00000000"), "Subject: a\n\na"},
        {"spam-1", Md5Starting("ffffffff"), "Subject: e\n\ne"},
        {"hard-ham-1", Md5Starting("0000000a"), "Subject: c\n\nc"},
        {"easy-ham-1", Md5Starting("00000001"), "Subject: b\n\nb"},
        {"spam-1", Md5Starting("00000002"), "Subject: d\n\nd"},
    };
}

/** @return the first token id of each sample */
std::vector<int64_t>
FirstIds(const Dataset& data)
{
    const torch::Tensor first = data.inputs.select(1, 0).contiguous();
    return {first.data_ptr<int64_t>(), first.data_ptr<int64_t>() + first.numel()};
}

/** @return the one-line message of the runtime_error that loading dir throws, or "" */
std::string
LoadError(const fs::path& dir)
{
    try
    {
        LoadSpamAssassin(dir.string(), 0);
    }
    catch (const std::runtime_error& error)
    {
        return error.what();
    }
    return "";
}

TEST(SpamAssassinTokenizer, KeepsTheSubjectAndTheBodyAsHashedLowercaseWords)
{
    const std::string mail = "From: someone@example.com\n"
                             "SUBJECT: Win $1000 NOW!!\n"
                             "X-Spam-Flag: yes\n"
                             "\n"
                             "Hello, World: 3 free.\n";
    EXPECT_EQ(TokenizeMail(mail),
              Padded({kWin, kDollar, k1000, kNow, kBang, kBang, kHello, kWorld, kThree, kFree}));
}

TEST(SpamAssassinTokenizer, CarriageReturnsAndNonAsciiBytesSeparateWords)
{
    EXPECT_EQ(TokenizeMail("Subject: hello\r\n\r\nw0rd\xc3\xa9world\r\n"),
              Padded({kHello, kW0rd, kWorld}));
}

TEST(SpamAssassinTokenizer, TruncatesLongMailsAndPadsShortOnes)
{
    std::string body;
    for (int i = 0; i < 100; ++i)
    {
        body += "w0rd ";
    }
    EXPECT_EQ(TokenizeMail("Subject: free\n\n" + body),
              []
              {
                  std::vector<int64_t> ids(kSpamAssassinTokens, kW0rd);
                  ids[0] = kFree;
                  return ids;
              }());
    // Headers only: no body; a mail without Subject has only body words.
    EXPECT_EQ(TokenizeMail("Subject: now\nFrom: x"), Padded({kNow}));
    EXPECT_EQ(TokenizeMail("From: x\n\nfree"), Padded({kFree}));
    EXPECT_EQ(TokenizeMail(""), Padded({}));
}

TEST(SpamAssassinLoader, LabelsHamZeroAndSpamOneAndSplitsByTheChecksum)
{
    const fs::path dir = WriteCorpus("six", SixMails());
    const TaskData task = LoadSpamAssassin(dir.string(), 0);
    auto idOf = [](const std::string& word) { return TokenizeMail("\n" + word)[0]; };

    EXPECT_EQ(task.name, "spam-assassin");
    EXPECT_EQ(task.tokens, 16);
    EXPECT_EQ(task.vocab, 4096);
    EXPECT_EQ(task.train.numClasses, 2U);
    EXPECT_EQ(task.train.inputs.sizes(), (std::vector<int64_t>{3, 16}));
    EXPECT_EQ(task.train.inputs.scalar_type(), torch::kInt64);
    // In checksum order: 00000001 (b), 00000002 (d), 80000000 (f).
    EXPECT_EQ(FirstIds(task.train), (std::vector<int64_t>{idOf("b"), idOf("d"), idOf("f")}));
    EXPECT_EQ(LabelsOf(task.train), (std::vector<int64_t>{0, 1, 1}));
    // 00000000 (a), 0000000a (c, hard ham), ffffffff (e).
    EXPECT_EQ(FirstIds(task.test), (std::vector<int64_t>{idOf("a"), idOf("c"), idOf("e")}));
    EXPECT_EQ(LabelsOf(task.test), (std::vector<int64_t>{0, 0, 1}));
    EXPECT_TRUE(task.train.inputs[0].equal(torch::tensor(TokenizeMail("Subject: b\n\nb"))));
}

TEST(SpamAssassinLoader, TheSplitDoesNotDependOnTheListOrderAndTheLimitKeepsTheFirst)
{
    std::vector<TinyMail> reversed = SixMails();
    std::reverse(reversed.begin(), reversed.end());
    const TaskData a = LoadSpamAssassin(WriteCorpus("six", SixMails()).string(), 0);
    const TaskData b = LoadSpamAssassin(WriteCorpus("six-reversed", reversed).string(), 2);
    EXPECT_TRUE(a.train.inputs.equal(b.train.inputs));
    EXPECT_TRUE(a.train.labels.equal(b.train.labels));
    EXPECT_EQ(b.test.inputs.size(0), 2);
    EXPECT_TRUE(b.test.inputs.equal(a.test.inputs.slice(0, 0, 2)));
}

TEST(SpamAssassinLoader, MissingCorpusThrowsOneLineNamingTheSetupScript)
{
    const std::string message = LoadError("/nonexistent/spam");
    EXPECT_NE(message.find("/nonexistent/spam/file_list.json"), std::string::npos) << message;
    EXPECT_NE(message.find("scripts/setup.sh"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(SpamAssassinLoader, MalformedRecordsThrowNamingTheFileAndTheProblem)
{
    const fs::path unknownGroup =
        WriteCorpus("unknown-group", {{"phishing-1", Md5Starting("00000000"), "x"}});
    EXPECT_NE(LoadError(unknownGroup).find("unknown group 'phishing-1'"), std::string::npos)
        << LoadError(unknownGroup);

    const fs::path badChecksum = WriteCorpus("bad-checksum", {{"spam-1", "xyz", "x"}});
    EXPECT_NE(LoadError(badChecksum).find("checksum 'xyz' is not an MD5"), std::string::npos)
        << LoadError(badChecksum);

    const fs::path notJson = WriteCorpus("not-json", {});
    std::ofstream(notJson / "file_list.json") << "[\"easy-ham-1/00001.";
    const std::string message = LoadError(notJson);
    EXPECT_NE(message.find("file_list.json: [json.exception.parse_error"), std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(SpamAssassinCorpus, LoadsEveryMailWithTheFixedSplit)
{
    TaskData task;
    try
    {
        task = LoadSpamAssassin(DefaultSpamAssassinDir(), 0);
    }
    catch (const std::runtime_error& error)
    {
        FAIL() << error.what();
    }
    // 2500 + 1400 + 250 ham, 500 + 1396 spam; counted independently with node.
    EXPECT_EQ(task.train.inputs.sizes(), (std::vector<int64_t>{4805, 16}));
    EXPECT_EQ(task.test.inputs.sizes(), (std::vector<int64_t>{1241, 16}));
    EXPECT_EQ(task.train.labels.sum().item<int64_t>(), 1509);
    EXPECT_EQ(task.test.labels.sum().item<int64_t>(), 387);
    EXPECT_EQ(task.test.labels.slice(0, 0, 1000).sum().item<int64_t>(), 313);
    EXPECT_LT(task.train.inputs.max().item<int64_t>(), 4096);
    // Two training mails have fewer than 16 words; none has none.
    EXPECT_EQ(task.train.inputs.select(1, 15).eq(kPaddingToken).sum().item<int64_t>(), 2);
    // Id 1 (mask) never occurs in the data.
    EXPECT_TRUE(task.train.inputs.select(1, 0).ne(kPaddingToken).all().item<bool>());
    EXPECT_FALSE(task.train.inputs.eq(kMaskToken).any().item<bool>());
}

} // namespace
