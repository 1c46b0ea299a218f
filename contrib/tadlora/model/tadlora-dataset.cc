// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-dataset.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>

/**
 * @file
 * Fashion-MNIST from gzip IDX files (read with zlib) and the synthetic task.
 */

namespace tadlora
{

namespace
{

constexpr int64_t kImageSide = 28;
constexpr uint32_t kFashionClasses = 10;
constexpr double kFashionMean = 0.2860;
constexpr double kFashionStd = 0.3530;

constexpr int64_t kSyntheticTokens = 8;
constexpr int64_t kSyntheticTokenDim = 16;
constexpr double kSyntheticNoise = 2.0; // nearest-class-mean accuracy ~0.98 (10 classes)

struct GzClose
{
    void operator()(gzFile file) const
    {
        gzclose(file);
    }
};

using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzClose>;

[[noreturn]] void
Fail(const std::string& path, const std::string& problem)
{
    throw std::runtime_error("Fashion-MNIST: " + path + ": " + problem);
}

void
ReadExactly(gzFile file, const std::string& path, void* buffer, size_t bytes)
{
    const int got = gzread(file, buffer, unsigned(bytes));
    if (got < 0)
    {
        int code = 0;
        Fail(path, std::string("unreadable (") + gzerror(file, &code) + ")");
    }
    if (size_t(got) != bytes)
    {
        Fail(path, "truncated");
    }
}

uint32_t
ReadBigEndian(gzFile file, const std::string& path)
{
    unsigned char bytes[4];
    ReadExactly(file, path, bytes, sizeof(bytes));
    return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
}

/** @brief The first items of an IDX file, and how many the file holds. */
struct IdxItems
{
    torch::Tensor items; //!< [n, itemShape...], uint8
    int64_t total;       //!< items in the file
};

/**
 * Reads the first `limit` items (0 = all) of a gzip IDX file of unsigned bytes, checking that
 * its items have the shape itemShape.
 */
IdxItems
ReadIdx(const std::string& path, const std::vector<int64_t>& itemShape, int64_t limit)
{
    GzFile file(gzopen(path.c_str(), "rb"));
    if (!file)
    {
        Fail(path, std::string("cannot open (") + std::strerror(errno) +
                       "; is dataset-fashion-mnist installed?)");
    }
    // IDX magic: two zero bytes, the element type (0x08, unsigned byte), the number of dims.
    const uint32_t magic = 0x0800 + 1 + uint32_t(itemShape.size());
    if (ReadBigEndian(file.get(), path) != magic)
    {
        Fail(path, "not an IDX file of the expected kind (bad magic number)");
    }
    const int64_t total = ReadBigEndian(file.get(), path);
    std::vector<int64_t> shape{limit > 0 ? std::min(limit, total) : total};
    for (int64_t side : itemShape)
    {
        const int64_t found = ReadBigEndian(file.get(), path);
        if (found != side)
        {
            Fail(path, "item side " + std::to_string(found) + ", expected " + std::to_string(side));
        }
        shape.push_back(side);
    }
    torch::Tensor items = torch::empty(shape, torch::kUInt8);
    ReadExactly(file.get(), path, items.data_ptr<uint8_t>(), size_t(items.numel()));
    return {items, total};
}

Dataset
LoadFashionSplit(const std::string& dir, const std::string& prefix, int64_t limit, int64_t patch)
{
    const int64_t patches = kImageSide / patch; // per side
    if (limit < 0)
    {
        throw std::invalid_argument("Fashion-MNIST: sample limit must be >= 0, got " +
                                    std::to_string(limit));
    }
    const std::string imagePath = dir + "/" + prefix + "-images-idx3-ubyte.gz";
    const std::string labelPath = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
    const IdxItems images = ReadIdx(imagePath, {kImageSide, kImageSide}, limit); // [N, 28, 28]
    const IdxItems labels = ReadIdx(labelPath, {}, limit);                       // [N]
    if (labels.total != images.total)
    {
        Fail(labelPath, std::to_string(labels.total) + " labels for " +
                            std::to_string(images.total) + " images");
    }
    if (labels.items.numel() > 0 && labels.items.max().item<uint8_t>() >= kFashionClasses)
    {
        Fail(labelPath, "label outside 0..9");
    }

    const int64_t n = images.items.size(0);
    // [N, 4, 7, 4, 7] (patch row, pixel row, patch col, pixel col) -> [N, 4, 4, 7, 7]
    // -> [N, 16, 49] (patch side 7)
    const torch::Tensor tokens = images.items.view({n, patches, patch, patches, patch})
                                     .permute({0, 1, 3, 2, 4})
                                     .reshape({n, patches * patches, patch * patch});
    // (x / 255 - mean) / std, in place: the float copy of the training set is 188 MB.
    const torch::Tensor inputs =
        tokens.to(torch::kFloat32).sub_(255 * kFashionMean).div_(255 * kFashionStd);
    return {inputs, labels.items.to(torch::kInt64), kFashionClasses};
}

} // namespace

TaskData
LoadFashionMnist(const std::string& dir, int64_t trainLimit, int64_t testLimit, int64_t patch)
{
    if (patch < 1 || kImageSide % patch != 0)
    {
        throw std::invalid_argument("--patch-size: " + std::to_string(patch) +
                                    " does not divide the images' side of 28 (1, 2, 4, 7, 14, 28)");
    }
    TaskData task;
    task.train = LoadFashionSplit(dir, "train", trainLimit, patch);
    task.test = LoadFashionSplit(dir, "t10k", testLimit, patch);
    task.name = "fashion-mnist";
    task.tokens = (kImageSide / patch) * (kImageSide / patch);
    task.tokenDim = patch * patch;
    return task;
}

TaskData
MakeSynthetic(uint64_t seed, int64_t trainSize, int64_t testSize, uint32_t numClasses)
{
    if (trainSize < 1 || testSize < 1 || numClasses < 2)
    {
        throw std::invalid_argument("synthetic task: needs >= 1 train and test samples and >= 2 "
                                    "classes, got " +
                                    std::to_string(trainSize) + ", " + std::to_string(testSize) +
                                    ", " + std::to_string(numClasses));
    }
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const int64_t classes = numClasses;
    const torch::Tensor prototypes =
        torch::randn({classes, kSyntheticTokens, kSyntheticTokenDim}, generator); // [C, 8, 16]

    auto draw = [&](int64_t n)
    {
        // Balanced, shuffled labels, so that partitions see every class equally often.
        const torch::Tensor labels = torch::arange(n, torch::kInt64)
                                         .remainder(classes)
                                         .index_select(0, torch::randperm(n, generator));
        const torch::Tensor scale = torch::rand({n, 1, 1}, generator) + 0.5; // [N, 1, 1]
        const torch::Tensor noise =
            torch::randn({n, kSyntheticTokens, kSyntheticTokenDim}, generator) * kSyntheticNoise;
        return Dataset{prototypes.index_select(0, labels) * scale + noise, labels, numClasses};
    };

    TaskData task;
    task.train = draw(trainSize);
    task.test = draw(testSize);
    task.name = "synthetic";
    task.tokens = kSyntheticTokens;
    task.tokenDim = kSyntheticTokenDim;
    return task;
}

std::vector<int64_t>
LabelsOf(const Dataset& data)
{
    const torch::Tensor labels = data.labels.to(torch::kInt64).contiguous();
    const int64_t* begin = labels.data_ptr<int64_t>();
    return {begin, begin + labels.numel()};
}

} // namespace tadlora
