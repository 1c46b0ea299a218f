// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-test-task.h"

#include "tadlora-experiment.h"
#include "tadlora-pretrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tadlora::test
{

namespace
{

/** Removes the process's temporary directory after the last test. */
class TempDirCleanUp : public ::testing::Environment
{
public:
    void TearDown() override
    {
        std::error_code ec;
        std::filesystem::remove_all(TempDir(), ec);
    }
};

const auto* g_cleanUp = ::testing::AddGlobalTestEnvironment(new TempDirCleanUp);

} // namespace

const std::string&
CacheDir()
{
    // ctest runs every test in a process of its own: the base is pretrained once, not per test.
    static const std::string dir = TADLORA_TEST_CACHE_DIR;
    return dir;
}

const std::string&
TempDir()
{
    static const std::string dir = []
    {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "tadlora-test-XXXXXX").string();
        return std::string(mkdtemp(pattern.data()));
    }();
    return dir;
}

std::shared_ptr<const TaskData>
SyntheticTask()
{
    static const auto task = std::make_shared<const TaskData>(MakeSynthetic(7, 3000, 600, 10));
    return task;
}

TransformerClassifier
PretrainedSyntheticModel()
{
    const auto task = SyntheticTask();
    const ModelConfig config = ModelConfigFor(*task);
    PretrainConfig recipe;
    recipe.steps = kPretrainSteps;
    return PretrainedModel(config, task->train, task->name, recipe, CacheDir(), nullptr);
}

std::string
Slurp(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/** Rows of a CSV file as column -> text maps. */
std::vector<std::map<std::string, std::string>>
ReadCsv(const std::filesystem::path& path)
{
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    std::vector<std::string> columns;
    std::stringstream header(line);
    for (std::string column; std::getline(header, column, ',');)
    {
        columns.push_back(column);
    }
    std::vector<std::map<std::string, std::string>> rows;
    while (std::getline(in, line))
    {
        std::stringstream fields(line);
        std::map<std::string, std::string> row;
        for (const std::string& column : columns)
        {
            std::getline(fields, row[column], ',');
        }
        rows.push_back(row);
    }
    return rows;
}

/** Realized W_t from mixing.csv: (round, factor) -> matrix. */
std::map<std::pair<uint64_t, std::string>, MixingMatrix>
RealizedMixing(const std::filesystem::path& dir, uint32_t clients)
{
    std::map<std::pair<uint64_t, std::string>, MixingMatrix> w;
    for (const auto& row : ReadCsv(dir / "mixing.csv"))
    {
        auto [it, inserted] =
            w.try_emplace({std::stoull(row.at("round")), row.at("factor")}, clients);
        it->second(std::stoul(row.at("client")), std::stoul(row.at("peer"))) =
            std::stod(row.at("weight"));
    }
    return w;
}

void
ExpectSameSeedSameTraces(const ns3::TadLoraConfig& config)
{
    ns3::TadLoraConfig again = config;
    again.run.out += "-again";
    ns3::TadLoraConfig other = config;
    other.run.out += "-other-seed";
    other.run.seed = config.run.seed + 1;
    for (const auto& c : {config, again, other})
    {
        ns3::TadLoraExperiment(c).Run();
    }
    for (const std::string file : {"rounds.csv", "network.csv", "messages.csv", "mixing.csv"})
    {
        const std::string a = Slurp((std::filesystem::path(config.run.out) / file).string());
        EXPECT_FALSE(a.empty());
        EXPECT_EQ(a, Slurp((std::filesystem::path(again.run.out) / file).string())) << file;
        EXPECT_NE(a, Slurp((std::filesystem::path(other.run.out) / file).string())) << file;
    }
}

} // namespace tadlora::test
