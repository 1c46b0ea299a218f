// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-dataset.h"

#include "tadlora-checked-file.h"
#include "tadlora-parallel.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <libdeflate.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <filesystem>
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

/**
 * @return a uint8 tensor of `bytes` bytes, uninitialized, in memory that the kernel may back
 * with 2 MB pages: a set's images are written once into fresh memory, and the first touch of
 * 4 KB pages cost about 14 us each on this project's virtual machines (47 MB: 160 ms; with
 * huge pages 6-107 ms, depending on what the kernel has free; doc/performance-history.md)
 */
torch::Tensor
UninitializedBytes(size_t bytes)
{
    if (bytes == 0)
    {
        return torch::empty({0}, torch::kUInt8);
    }
    void* memory =
        ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
    {
        throw std::bad_alloc();
    }
    ::madvise(memory, bytes, MADV_HUGEPAGE); // advice: without it, the memory is the same
    return torch::from_blob(
        memory, {static_cast<int64_t>(bytes)}, [bytes](void* p) { ::munmap(p, bytes); },
        torch::kUInt8);
}

/** @return the gzip file's content, decompressed by libdeflate (3 times zlib's speed), uint8 */
torch::Tensor
Gunzip(const std::string& path)
{
    const MappedFile compressed(path);
    if (!compressed.Problem().empty())
    {
        Fail(path, compressed.Problem() + "; is dataset-fashion-mnist installed?");
    }
    // A gzip member ends with its content's size (mod 2^32), little-endian.
    constexpr size_t kHeaderAndTrailer = 18;
    if (compressed.Size() < kHeaderAndTrailer)
    {
        Fail(path, "truncated (not a whole gzip file)");
    }
    const uint8_t* size = compressed.Data() + compressed.Size() - 4;
    torch::Tensor content = UninitializedBytes(uint32_t(size[0]) | uint32_t(size[1]) << 8 |
                                               uint32_t(size[2]) << 16 | uint32_t(size[3]) << 24);
    std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)> decompressor(
        libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
    if (!decompressor)
    {
        throw std::bad_alloc();
    }
    size_t got = 0;
    const auto expected = static_cast<size_t>(content.numel());
    // While libdeflate fills the front half, another thread faults the back half's fresh pages
    // in (UninitializedBytes): MADV_POPULATE_WRITE maps them without writing, so it does not
    // race with the inflate. (The future waits for it on leaving.)
    const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t half = expected / 2 / page * page;
    auto prefault = std::async(
        std::launch::async, [&]
        { ::madvise(content.data_ptr<uint8_t>() + half, expected - half, MADV_POPULATE_WRITE); });
    if (libdeflate_gzip_decompress(decompressor.get(), compressed.Data(), compressed.Size(),
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
    auto bigEndian = [&]
    {
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
    const int64_t count =
        std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
    if (size < at + size_t(count))
    {
        Fail(path, "truncated");
    }
    // The items in place, after the header: no copy.
    return {content.narrow(0, static_cast<int64_t>(at), count).view(shape), total};
}

/** @brief A split as its files hold it: the images cut into patch tokens, and their labels. */
struct Split
{
    torch::Tensor images; //!< [N, tokens, tokenDim], uint8
    torch::Tensor labels; //!< [N], uint8, each in [0, 10)
};

/** @return the path of a split's file: its images ("images-idx3") or labels ("labels-idx1") */
std::string
SplitFile(const std::string& dir, const std::string& prefix, const char* kind)
{
    return dir + "/" + prefix + "-" + kind + "-ubyte.gz";
}

/** @return the shape of n images cut into patches of side `patch`: [n, tokens, tokenDim] */
std::vector<int64_t>
TokenShape(int64_t n, int64_t patch)
{
    const int64_t patches = kImageSide / patch; // per side
    return {n, patches * patches, patch * patch};
}

/** @return the first `limit` samples (0 = all) of the split in dir's files prefix-* */
Split
DecodeSplit(const std::string& dir, const std::string& prefix, int64_t limit, int64_t patch)
{
    const int64_t patches = kImageSide / patch; // per side
    const std::string imagePath = SplitFile(dir, prefix, "images-idx3");
    const std::string labelPath = SplitFile(dir, prefix, "labels-idx1");
    IdxItems images = ReadIdx(imagePath, {kImageSide, kImageSide}, limit); // [N, 28, 28]
    const IdxItems labels = ReadIdx(labelPath, {}, limit);                 // [N]
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
    // Image [28, 28] = [4 patch rows, 7 pixel rows, 4 patch columns, 7 pixel columns] -> tokens
    // [16, 49] = [4 patch rows, 4 patch columns, 7 pixel rows, 7 pixel columns] (patch side 7).
    // In place, an image at a time through a copy of it (a second buffer of the whole set would
    // cost its fresh pages, UninitializedBytes), each patch's row of pixels one copy: faster
    // than LibTorch's permuted copy of a block of images (doc/performance-history.md).
    std::array<uint8_t, kImageSide * kImageSide> image;
    uint8_t* pixels = images.items.data_ptr<uint8_t>();
    for (int64_t i = 0; i < n; ++i)
    {
        uint8_t* tokens = pixels + i * static_cast<int64_t>(image.size());
        std::memcpy(image.data(), tokens, image.size());
        for (int64_t row = 0; row < kImageSide; ++row)
        {
            for (int64_t column = 0; column < patches; ++column)
            {
                const int64_t token = row / patch * patches + column;
                std::memcpy(tokens + (token * patch + row % patch) * patch,
                            image.data() + row * kImageSide + column * patch, patch);
            }
        }
    }
    return {images.items.view(TokenShape(n, patch)), labels.items};
}

/**
 * @return what identifies a gzip file's content: the file's size, and its trailer's CRC-32 and
 *         size of the content; "" if the file cannot be read
 */
std::string
GzipFingerprint(const std::string& path)
{
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : 0;
    uint8_t trailer[8];
    if (size < 8 || !in.seekg(size - 8) ||
        !in.read(reinterpret_cast<char*>(trailer), sizeof(trailer)))
    {
        return "";
    }
    auto word = [&trailer](int at)
    {
        return uint32_t(trailer[at]) | uint32_t(trailer[at + 1]) << 8 |
               uint32_t(trailer[at + 2]) << 16 | uint32_t(trailer[at + 3]) << 24;
    };
    return std::to_string(size) + "." + std::to_string(word(0)) + "." + std::to_string(word(4));
}

/** The first line of a cached split: its layout and version (tadlora-checked-file.h). */
constexpr char kCachedSplitMagic[] = "tadlora fashion-mnist tokens 1";

/**
 * @brief The whole split, from the data cache when the cache holds it for these files and this
 * patch side, else decoded and then cached.
 *
 * The cache holds the decoded tokens and labels in a checked file, mapped read-only: the tensors
 * read it in place, so a later run neither inflates the files nor faults fresh memory in for
 * them (0.21-0.25 s of the default run before, doc/performance-history.md), and runs side by side
 * share one copy in the page cache.
 *
 * @param notice set to why a cached split could not be used, if it could not
 */
Split
CachedSplit(const std::string& dir, const std::string& prefix, int64_t patch,
            const std::string& cacheDir, std::string& notice)
{
    const std::string images = GzipFingerprint(SplitFile(dir, prefix, "images-idx3"));
    const std::string labels = GzipFingerprint(SplitFile(dir, prefix, "labels-idx1"));
    if (images.empty() || labels.empty())
    {
        return DecodeSplit(dir, prefix, 0, patch); // which says what is wrong with the files
    }
    const std::string key = "patch" + std::to_string(patch) + "-" + images + "-" + labels;
    const std::filesystem::path path =
        std::filesystem::path(cacheDir) /
        ("fashion-mnist-" + prefix + "-patch" + std::to_string(patch) + ".tokens");
    // The payload: every sample's tokens, then every sample's label, a byte each.
    const int64_t sampleBytes = kImageSide * kImageSide + 1;
    std::error_code unknown; // taken as absent
    if (std::filesystem::exists(path, unknown))
    {
        CheckedPayload payload;
        const std::string problem = ReadCheckedFile(path.string(), kCachedSplitMagic, key, payload);
        if (problem.empty() && payload.size % sampleBytes == 0)
        {
            const auto n = static_cast<int64_t>(payload.size / sampleBytes);
            // Read-only memory: nothing writes a loaded split (a write would fault).
            auto* bytes = const_cast<uint8_t*>(payload.data);
            const auto keep = [file = payload.file](void*) {};
            return {torch::from_blob(bytes, TokenShape(n, patch), keep, torch::kUInt8),
                    torch::from_blob(bytes + n * (sampleBytes - 1), {n}, keep, torch::kUInt8)};
        }
        notice = "cached data " + path.string() + " " +
                 (problem.empty() ? "holds a partial sample" : problem) + ": rebuilding it";
    }
    Split split = DecodeSplit(dir, prefix, 0, patch);
    auto bytesOf = [](const torch::Tensor& t)
    { return std::string_view(static_cast<const char*>(t.data_ptr()), t.numel()); };
    try
    {
        std::filesystem::create_directories(cacheDir);
        WriteCheckedFile(path.string(), kCachedSplitMagic, key,
                         {bytesOf(split.images), bytesOf(split.labels)});
    }
    catch (const std::exception& e)
    {
        // The run goes on from the decoded split; the next one tries to cache it again.
        notice += (notice.empty() ? "" : "; ") + std::string("cannot cache the data in ") +
                  cacheDir + " (" + e.what() + ")";
    }
    return split;
}

Dataset
LoadFashionSplit(const std::string& dir, const std::string& prefix, int64_t limit, int64_t patch,
                 const std::string& cacheDir, std::string& notice)
{
    if (limit < 0)
    {
        throw std::invalid_argument("Fashion-MNIST: sample limit must be >= 0, got " +
                                    std::to_string(limit));
    }
    Split split = cacheDir.empty() ? DecodeSplit(dir, prefix, limit, patch)
                                   : CachedSplit(dir, prefix, patch, cacheDir, notice);
    if (limit > 0 && limit < split.images.size(0))
    {
        split.images = split.images.narrow(0, 0, limit);
        split.labels = split.labels.narrow(0, 0, limit);
    }
    // (x / 255 - mean) / std = (x - 255 mean) / (255 std), applied by ModelInputs.
    return {split.images, split.labels.to(torch::kInt64), kFashionClasses, 255 * kFashionMean,
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
LoadFashionMnist(const std::string& dir, int64_t trainLimit, int64_t testLimit, int64_t patch,
                 const std::string& cacheDir, const std::function<void(const std::string&)>& notice)
{
    if (patch < 1 || kImageSide % patch != 0)
    {
        throw std::invalid_argument("patch side " + std::to_string(patch) +
                                    " does not divide the images' side of 28 (1, 2, 4, 7, 14, 28)");
    }
    TaskData task;
    // The test split alongside the training split (each file is one gzip stream), as the two
    // tasks of one parallel loop: LibTorch's operators inside then run on their own thread.
    // From a thread of our own they would start a second OpenMP team, whose threads spin at
    // its barriers against the first's: beside two busy processes, loading took 0.65-1.29 s
    // instead of 0.23-0.35 s (doc/performance-history.md). A failure is reported as the training
    // split's first.
    Dataset* splits[] = {&task.train, &task.test};
    std::exception_ptr failures[2];
    std::string notices[2];
    at::parallel_for(0, 2, 1,
                     [&](int64_t begin, int64_t end)
                     {
                         for (int64_t i = begin; i < end; ++i)
                         {
                             try
                             {
                                 *splits[i] = LoadFashionSplit(dir, i == 0 ? "train" : "t10k",
                                                               i == 0 ? trainLimit : testLimit,
                                                               patch, cacheDir, notices[i]);
                             }
                             catch (...)
                             {
                                 failures[i] = std::current_exception();
                             }
                         }
                     });
    for (const auto& failure : failures)
    {
        if (failure)
        {
            std::rethrow_exception(failure);
        }
    }
    for (const auto& line : notices)
    {
        if (!line.empty() && notice)
        {
            notice(line);
        }
    }
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
