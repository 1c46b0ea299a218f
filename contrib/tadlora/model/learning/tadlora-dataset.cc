// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-dataset.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <libdeflate.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <numeric>
#include <stdexcept>

/**
 * @file
 * Fashion-MNIST from gzip IDX files (decompressed with libdeflate) and the synthetic task.
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

[[noreturn]] void
Fail(const std::string& path, const std::string& problem)
{
    throw std::runtime_error("Fashion-MNIST: " + path + ": " + problem);
}

/** @return the whole file's bytes */
std::vector<uint8_t>
ReadFile(const std::string& path)
{
    std::ifstream file(path, std::ios::binary);
    if (!file)
    {
        Fail(path, std::string("cannot open (") + std::strerror(errno) +
                       "; is dataset-fashion-mnist installed?)");
    }
    file.seekg(0, std::ios::end);
    std::vector<uint8_t> bytes(static_cast<size_t>(std::max<std::streamoff>(file.tellg(), 0)));
    file.seekg(0);
    file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!file)
    {
        Fail(path, "unreadable");
    }
    return bytes;
}

/** @return the gzip file's content, decompressed by libdeflate (3 times zlib's speed), uint8 */
torch::Tensor
Gunzip(const std::string& path)
{
    const std::vector<uint8_t> compressed = ReadFile(path);
    // A gzip member ends with its content's size (mod 2^32), little-endian.
    constexpr size_t kHeaderAndTrailer = 18;
    if (compressed.size() < kHeaderAndTrailer)
    {
        Fail(path, "truncated (not a whole gzip file)");
    }
    const uint8_t* size = compressed.data() + compressed.size() - 4;
    torch::Tensor content = torch::empty(
        {int64_t{uint32_t(size[0]) | uint32_t(size[1]) << 8 | uint32_t(size[2]) << 16 |
                 uint32_t(size[3]) << 24}},
        torch::kUInt8);
    std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)>
        decompressor(libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
    if (!decompressor)
    {
        throw std::bad_alloc();
    }
    size_t got = 0;
    const auto expected = static_cast<size_t>(content.numel());
    if (libdeflate_gzip_decompress(decompressor.get(), compressed.data(), compressed.size(),
                                   content.data_ptr<uint8_t>(), expected,
                                   &got) != LIBDEFLATE_SUCCESS ||
        got != expected)
    {
        Fail(path, "not valid gzip data (corrupt or truncated)");
    }
    return content;
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
    const torch::Tensor content = Gunzip(path);
    const auto size = static_cast<size_t>(content.numel());
    size_t at = 0;
    auto bigEndian = [&] {
        if (size < at + 4)
        {
            Fail(path, "truncated");
        }
        const uint8_t* b = content.data_ptr<uint8_t>() + at;
        at += 4;
        return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
    };
    // IDX magic: two zero bytes, the element type (0x08, unsigned byte), the number of dims.
    const uint32_t magic = 0x0800 + 1 + uint32_t(itemShape.size());
    if (bigEndian() != magic)
    {
        Fail(path, "not an IDX file of the expected kind (bad magic number)");
    }
    const int64_t total = bigEndian();
    std::vector<int64_t> shape{limit > 0 ? std::min(limit, total) : total};
    for (int64_t side : itemShape)
    {
        const int64_t found = bigEndian();
        if (found != side)
        {
            Fail(path, "item side " + std::to_string(found) + ", expected " + std::to_string(side));
        }
        shape.push_back(side);
    }
    const int64_t count = std::accumulate(shape.begin(), shape.end(), int64_t{1},
                                          std::multiplies<int64_t>());
    if (size < at + size_t(count))
    {
        Fail(path, "truncated");
    }
    // The items in place, after the header: no copy.
    return {content.narrow(0, static_cast<int64_t>(at), count).view(shape), total};
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
    // Where each pixel of an image goes: image [28, 28] = [4 patch rows, 7 pixel rows, 4 patch
    // columns, 7 pixel columns] -> tokens [16, 49] = [4 patch rows, 4 patch columns, 7 pixel
    // rows, 7 pixel columns] (patch side 7).
    constexpr int64_t kPixels = kImageSide * kImageSide;
    std::vector<int64_t> destination(kPixels);
    for (int64_t row = 0; row < kImageSide; ++row)
    {
        for (int64_t col = 0; col < kImageSide; ++col)
        {
            destination[row * kImageSide + col] =
                (row / patch * patches + col / patch) * patch * patch + row % patch * patch +
                col % patch;
        }
    }
    torch::Tensor inputs = torch::empty({n, patches * patches, patch * patch}, torch::kUInt8);
    const uint8_t* pixels = images.items.data_ptr<uint8_t>();
    uint8_t* out = inputs.data_ptr<uint8_t>();
    for (int64_t image = 0; image < n; ++image)
    {
        for (int64_t p = 0; p < kPixels; ++p)
        {
            out[image * kPixels + destination[p]] = pixels[image * kPixels + p];
        }
    }
    // (x / 255 - mean) / std = (x - 255 mean) / (255 std), applied by ModelInputs.
    return {inputs, labels.items.to(torch::kInt64), kFashionClasses, 255 * kFashionMean,
            255 * kFashionStd};
}

} // namespace

torch::Tensor
Dataset::ModelInputs(const torch::Tensor& stored) const
{
    if (stored.scalar_type() != torch::kUInt8)
    {
        return stored;
    }
    return stored.to(torch::kFloat32).sub_(offset).div_(scale);
}

TaskData
LoadFashionMnist(const std::string& dir, int64_t trainLimit, int64_t testLimit, int64_t patch)
{
    if (patch < 1 || kImageSide % patch != 0)
    {
        throw std::invalid_argument("patch side " + std::to_string(patch) +
                                    " does not divide the images' side of 28 (1, 2, 4, 7, 14, 28)");
    }
    TaskData task;
    // The test split alongside the training split: each file is one gzip stream.
    auto test = std::async(std::launch::async,
                           [&] { return LoadFashionSplit(dir, "t10k", testLimit, patch); });
    task.train = LoadFashionSplit(dir, "train", trainLimit, patch);
    task.test = test.get();
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
