// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-test-task.h"

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
    ModelConfig config;
    config.tokens = task->tokens;
    config.tokenDim = task->tokenDim;
    config.classes = task->train.numClasses;
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

} // namespace tadlora::test
