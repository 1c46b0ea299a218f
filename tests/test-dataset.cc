// SPDX-License-Identifier: GPL-2.0-only
/**
 * @file
 * Tests of the tasks: Fashion-MNIST loading and patching, and the synthetic task.
 */

#include "tadlora-dataset.h"
#include "tadlora-test-task.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <libdeflate.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace
{

using namespace tadlora;

/** Fashion-MNIST is loaded once: decompressing it dominates these tests' run time. */
class FashionMnist : public testing::Test
{
protected:
    static void SetUpTestSuite()
    {
        s_task = LoadFashionMnist(kFashionMnistDir, 0, 0);
    }

    static TaskData s_task; //!< the full data set
};

TaskData FashionMnist::s_task;

/** @return the raw bytes of the first training image, read independently of the loader */
std::vector<uint8_t>
FirstRawTrainingImage()
{
    // Inflate the file with the gzip shell tool, not with the loader's library.
    const std::string command =
        std::string("gzip -dc ") + kFashionMnistDir + "/train-images-idx3-ubyte.gz | head -c 800";
    std::vector<uint8_t> bytes(16 + 28 * 28); // header, then the image
    FILE* pipe = ::popen(command.c_str(), "r");
    const size_t got = pipe ? std::fread(bytes.data(), 1, bytes.size(), pipe) : 0;
    if (pipe)
    {
        ::pclose(pipe);
    }
    EXPECT_EQ(got, bytes.size());
    return {bytes.begin() + 16, bytes.end()};
}

/** @return the one-line message of the runtime_error that loading from dir throws, or "" */
std::string
LoadError(const std::string& dir)
{
    try
    {
        LoadFashionMnist(dir, 0, 0);
    }
    catch (const std::runtime_error& error)
    {
        return error.what();
    }
    return "";
}

/** @return the accuracy on test of the nearest class mean of train's samples */
double
NearestClassMeanAccuracy(const TaskData& task)
{
    const int64_t classes = task.train.numClasses;
    const torch::Tensor train =
        task.train.ModelInputs(task.train.inputs).flatten(1); // [N, tokens * tokenDim]
    const torch::Tensor test = task.test.ModelInputs(task.test.inputs).flatten(1);
    const torch::Tensor means = torch::zeros({classes, train.size(1)}) // [C, tokens * tokenDim]
                                    .index_add_(0, task.train.labels, train) /
                                torch::bincount(task.train.labels, {}, classes).unsqueeze(1);
    const torch::Tensor predicted = torch::cdist(test, means).argmin(1); // [N_test]
    return predicted.eq(task.test.labels).to(torch::kFloat64).mean().item<double>();
}

TEST_F(FashionMnist, LoadsAllSamplesAsSixteenPatchTokens)
{
    EXPECT_EQ(s_task.name, "fashion-mnist");
    EXPECT_EQ(s_task.tokens, 16);
    EXPECT_EQ(s_task.tokenDim, 49);
    EXPECT_EQ(s_task.train.inputs.sizes(), (std::vector<int64_t>{60000, 16, 49}));
    EXPECT_EQ(s_task.test.inputs.sizes(), (std::vector<int64_t>{10000, 16, 49}));
    // Pixels are stored as bytes; the model reads them as floats.
    EXPECT_EQ(s_task.train.inputs.scalar_type(), torch::kUInt8);
    EXPECT_EQ(s_task.train.ModelInputs(s_task.train.inputs.slice(0, 0, 2)).scalar_type(),
              torch::kFloat32);
    EXPECT_EQ(s_task.train.labels.scalar_type(), torch::kInt64);
    EXPECT_EQ(s_task.train.numClasses, 10U);
    EXPECT_EQ(s_task.test.numClasses, 10U);
}

TEST_F(FashionMnist, ClassesAreExactlyBalanced)
{
    EXPECT_TRUE(torch::bincount(s_task.train.labels).eq(6000).all().item<bool>());
    EXPECT_TRUE(torch::bincount(s_task.test.labels).eq(1000).all().item<bool>());
    EXPECT_EQ(torch::bincount(s_task.train.labels).numel(), 10);
    EXPECT_EQ(s_task.train.labels[0].item<int64_t>(), 9); // the first image is an ankle boot
}

TEST_F(FashionMnist, PixelsAreNormalizedWithTheDatasetMeanAndStd)
{
    const torch::Tensor inputs = s_task.train.ModelInputs(s_task.train.inputs);
    EXPECT_NEAR(inputs.min().item<double>(), (0 - 0.2860) / 0.3530, 1e-5);
    EXPECT_NEAR(inputs.max().item<double>(), (1 - 0.2860) / 0.3530, 1e-5);
    // Normalizing with the training set's own statistics centres and scales it.
    EXPECT_NEAR(inputs.mean().item<double>(), 0.0, 0.01);
    EXPECT_NEAR(inputs.std().item<double>(), 1.0, 0.01);
}

TEST_F(FashionMnist, PatchesAreRowMajorSevenBySevenTiles)
{
    const std::vector<uint8_t> raw = FirstRawTrainingImage();
    const torch::Tensor first = s_task.train.ModelInputs(s_task.train.inputs[0]); // [16, 49]
    for (int64_t patch = 0; patch < 16; ++patch)
    {
        for (int64_t k = 0; k < 49; ++k)
        {
            const int64_t row = patch / 4 * 7 + k / 7;
            const int64_t col = patch % 4 * 7 + k % 7;
            const double expected = (raw[row * 28 + col] / 255.0 - 0.2860) / 0.3530;
            ASSERT_NEAR(first[patch][k].item<double>(), expected, 1e-5)
                << "patch " << patch << ", pixel " << k;
        }
    }
}

TEST_F(FashionMnist, LimitsKeepTheFirstSamples)
{
    const TaskData small = LoadFashionMnist(kFashionMnistDir, 1000, 300);
    EXPECT_EQ(small.train.inputs.size(0), 1000);
    EXPECT_EQ(small.test.inputs.size(0), 300);
    EXPECT_TRUE(small.train.inputs.equal(s_task.train.inputs.slice(0, 0, 1000)));
    EXPECT_TRUE(small.test.labels.equal(s_task.test.labels.slice(0, 0, 300)));
}

/** @return a fresh directory `name` in the tests' temporary directory (removed after them) */
std::filesystem::path
FreshDir(const std::string& name)
{
    const auto dir = std::filesystem::path(tadlora::test::TempDir()) / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

/** @return Fashion-MNIST loaded through the cache in dir, what it noticed appended to notices */
TaskData
LoadCached(const std::string& dataDir, const std::filesystem::path& cacheDir, int64_t trainLimit,
           int64_t testLimit, int64_t patch, std::vector<std::string>& notices)
{
    return LoadFashionMnist(dataDir, trainLimit, testLimit, patch, cacheDir.string(),
                            [&notices](const std::string& line) { notices.push_back(line); });
}

TEST_F(FashionMnist, CachedSplitsEqualTheDecodedOnesByteForByte)
{
    const auto cache = FreshDir("data-cache");
    std::vector<std::string> notices;
    const TaskData first = LoadCached(kFashionMnistDir, cache, 0, 0, 7, notices);
    const auto train = cache / "fashion-mnist-train-patch7.tokens";
    const auto test = cache / "fashion-mnist-t10k-patch7.tokens";
    ASSERT_TRUE(std::filesystem::exists(train));
    ASSERT_TRUE(std::filesystem::exists(test));
    // tokens and a label per sample, behind a header of a few lines
    EXPECT_GT(std::filesystem::file_size(train), 60000u * (16 * 49 + 1));
    EXPECT_LT(std::filesystem::file_size(train), 60000u * (16 * 49 + 1) + 200);
    const auto written = std::filesystem::last_write_time(train);

    const TaskData second = LoadCached(kFashionMnistDir, cache, 0, 0, 7, notices);
    EXPECT_EQ(std::filesystem::last_write_time(train), written); // read, not written again
    EXPECT_TRUE(notices.empty());
    for (const TaskData* task : {&first, &second})
    {
        EXPECT_TRUE(task->train.inputs.equal(s_task.train.inputs));
        EXPECT_TRUE(task->train.labels.equal(s_task.train.labels));
        EXPECT_TRUE(task->test.inputs.equal(s_task.test.inputs));
        EXPECT_TRUE(task->test.labels.equal(s_task.test.labels));
        EXPECT_EQ(task->train.offset, s_task.train.offset);
        EXPECT_EQ(task->train.scale, s_task.train.scale);
    }

    // Limits are taken from the cached whole; another patch side is another file.
    const TaskData small = LoadCached(kFashionMnistDir, cache, 1000, 300, 7, notices);
    EXPECT_TRUE(small.train.inputs.equal(s_task.train.inputs.slice(0, 0, 1000)));
    EXPECT_TRUE(small.test.labels.equal(s_task.test.labels.slice(0, 0, 300)));
    const TaskData four = LoadCached(kFashionMnistDir, cache, 0, 50, 4, notices);
    EXPECT_TRUE(std::filesystem::exists(cache / "fashion-mnist-t10k-patch4.tokens"));
    EXPECT_TRUE(four.test.inputs.equal(LoadFashionMnist(kFashionMnistDir, 1, 50, 4).test.inputs));
    EXPECT_TRUE(notices.empty());
}

TEST_F(FashionMnist, DamagedOrStaleCacheIsNamedAndRebuilt)
{
    const auto cache = FreshDir("data-cache-damaged");
    std::vector<std::string> notices;
    LoadCached(kFashionMnistDir, cache, 0, 0, 7, notices);
    const auto train = cache / "fashion-mnist-train-patch7.tokens";
    {
        std::fstream file(train, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(1000000);
        file.put('\xff'); // a pixel of the 1276th image, inside the payload
    }
    const TaskData rebuilt = LoadCached(kFashionMnistDir, cache, 0, 0, 7, notices);
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_NE(notices[0].find(train.string() + " fails its CRC-32"), std::string::npos)
        << notices[0];
    EXPECT_NE(notices[0].find("rebuilding it"), std::string::npos) << notices[0];
    EXPECT_TRUE(rebuilt.train.inputs.equal(s_task.train.inputs));
    notices.clear();
    LoadCached(kFashionMnistDir, cache, 0, 0, 7, notices);
    EXPECT_TRUE(notices.empty()); // whole again

    // Other files under the same names: the cache follows them. The test labels, all but the
    // last, with the last one changed.
    const auto data = FreshDir("data-changed");
    for (const char* name :
         {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"})
    {
        std::filesystem::copy_file(std::filesystem::path(kFashionMnistDir) / name, data / name);
    }
    const std::string labels = (data / "t10k-labels-idx1-ubyte.gz").string();
    const std::string command = std::string("gzip -dc ") + kFashionMnistDir +
                                "/t10k-labels-idx1-ubyte.gz | head -c 10007 | "
                                "{ cat; printf '\\003'; } | gzip > " +
                                labels;
    ASSERT_EQ(std::system(command.c_str()), 0);
    const TaskData changed = LoadCached(data.string(), cache, 0, 0, 7, notices);
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_NE(notices[0].find("fashion-mnist-t10k-patch7.tokens was made by another"),
              std::string::npos)
        << notices[0];
    EXPECT_EQ(changed.test.labels[9999].item<int64_t>(), 3);
    EXPECT_NE(s_task.test.labels[9999].item<int64_t>(), 3);
    EXPECT_TRUE(changed.test.labels.slice(0, 0, 9999).equal(s_task.test.labels.slice(0, 0, 9999)));

    // A cache that cannot be written (a directory under a file): said, and the run goes on.
    notices.clear();
    const auto blocked = cache / "a-file";
    std::ofstream(blocked) << "not a directory";
    const TaskData uncached = LoadCached(kFashionMnistDir, blocked / "cache", 0, 100, 7, notices);
    ASSERT_EQ(notices.size(), 2u); // one per split
    EXPECT_EQ(notices[0].rfind("cannot cache the data in " + (blocked / "cache").string(), 0), 0u)
        << notices[0];
    EXPECT_TRUE(uncached.train.inputs.equal(s_task.train.inputs));
    EXPECT_TRUE(uncached.test.labels.equal(s_task.test.labels.slice(0, 0, 100)));
}

TEST(FashionMnistErrors, MissingDirectoryThrowsOneLineNamingTheFile)
{
    const std::string message = LoadError("/nonexistent/fashion");
    EXPECT_NE(message.find("/nonexistent/fashion/train-images-idx3-ubyte.gz"), std::string::npos)
        << message;
    EXPECT_NE(message.find("cannot be opened"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(FashionMnistErrors, CorruptFilesThrowNamingTheProblem)
{
    const auto dir = std::filesystem::temp_directory_path() /
                     ("tadlora-test-dataset-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto writeGzip = [&](const std::string& name, const std::vector<uint8_t>& bytes)
    {
        std::unique_ptr<libdeflate_compressor, decltype(&libdeflate_free_compressor)> compressor(
            libdeflate_alloc_compressor(6), &libdeflate_free_compressor);
        std::vector<char> gzip(libdeflate_gzip_compress_bound(compressor.get(), bytes.size()));
        gzip.resize(libdeflate_gzip_compress(compressor.get(), bytes.data(), bytes.size(),
                                             gzip.data(), gzip.size()));
        std::ofstream(dir / name, std::ios::binary)
            .write(gzip.data(), std::streamsize(gzip.size()));
    };
    writeGzip("train-images-idx3-ubyte.gz", {0, 0, 8, 1, 0, 0, 0, 1}); // a labels header
    EXPECT_NE(LoadError(dir).find("bad magic number"), std::string::npos) << LoadError(dir);

    writeGzip("train-images-idx3-ubyte.gz", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 7});
    EXPECT_NE(LoadError(dir).find("truncated"), std::string::npos) << LoadError(dir);

    // A gzip file cut short: its stream is incomplete.
    const std::string full = std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz";
    std::filesystem::copy_file(full, dir / "train-images-idx3-ubyte.gz",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(dir / "train-images-idx3-ubyte.gz",
                                 std::filesystem::file_size(full) / 2);
    EXPECT_NE(LoadError(dir).find("not valid gzip data"), std::string::npos) << LoadError(dir);

    std::filesystem::remove_all(dir);
}

TEST(Synthetic, SameSeedSameTaskOtherSeedDifferent)
{
    const TaskData a = MakeSynthetic(11, 200, 100, 4);
    const TaskData b = MakeSynthetic(11, 200, 100, 4);
    const TaskData c = MakeSynthetic(12, 200, 100, 4);
    EXPECT_TRUE(a.train.inputs.equal(b.train.inputs));
    EXPECT_TRUE(a.test.labels.equal(b.test.labels));
    EXPECT_FALSE(a.train.inputs.equal(c.train.inputs));
}

TEST(Synthetic, HasTheDocumentedShapeAndBalancedClasses)
{
    const TaskData task = MakeSynthetic(1, 1003, 500, 10);
    EXPECT_EQ(task.name, "synthetic");
    EXPECT_EQ(task.train.inputs.sizes(), (std::vector<int64_t>{1003, task.tokens, task.tokenDim}));
    EXPECT_EQ(task.tokens, 8);
    EXPECT_EQ(task.tokenDim, 16);
    const torch::Tensor counts = torch::bincount(task.train.labels, {}, 10);
    EXPECT_EQ(counts.min().item<int64_t>(), 100);
    EXPECT_EQ(counts.max().item<int64_t>(), 101);
    EXPECT_EQ(LabelsOf(task.train).size(), 1003U);
    EXPECT_EQ(LabelsOf(task.train)[5], task.train.labels[5].item<int64_t>());
}

TEST(Synthetic, NearestClassMeanIsWellAboveChanceButNotPerfect)
{
    const double accuracy = NearestClassMeanAccuracy(MakeSynthetic(3, 5000, 2000, 10));
    // Measured: 0.873; chance is 0.1.
    EXPECT_GT(accuracy, 0.9);
    EXPECT_LT(accuracy, 0.995);
}

} // namespace
