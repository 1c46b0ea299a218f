// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-dataset.h"

#include "tadlora-parallel.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
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
 * @brief A file's bytes, mapped read-only. Pages come from the page cache as they are read (a
 * fault maps several at once), where reading into a buffer of our own would first have to fault
 * in fresh, zeroed pages: on this project's virtual machines a fresh page costs about 14 us, so
 * a 26 MB file read that way cost more than inflating it (README, "Performance").
 */
class MappedFile
{
public:
    explicit MappedFile(const std::string& path)
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
        {
            Fail(path, std::string("cannot open (") + std::strerror(errno) +
                           "; is dataset-fashion-mnist installed?)");
        }
        struct stat status;
        const bool statted = ::fstat(fd, &status) == 0;
        m_size = statted ? static_cast<size_t>(status.st_size) : 0;
        void* mapped =
            m_size > 0 ? ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
        ::close(fd);
        if (!statted || mapped == MAP_FAILED)
        {
            Fail(path, "unreadable");
        }
        m_data = static_cast<const uint8_t*>(mapped);
    }

    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    ~MappedFile()
    {
        if (m_data != nullptr)
        {
            ::munmap(const_cast<uint8_t*>(m_data), m_size);
        }
    }

    const uint8_t* Data() const
    {
        return m_data;
    }

    size_t Size() const
    {
        return m_size;
    }

private:
    const uint8_t* m_data = nullptr; //!< nullptr for an empty file
    size_t m_size = 0;               //!< bytes
};

/**
 * @return a uint8 tensor of `bytes` bytes, uninitialized, in memory that the kernel may back
 * with 2 MB pages: a set's images are written once into fresh memory, and the first touch of
 * 4 KB pages cost about 14 us each on this project's virtual machines (47 MB: 160 ms; with
 * huge pages 6-107 ms, depending on what the kernel has free; README, "Performance")
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
    // than LibTorch's permuted copy of a block of images (README, "Performance").
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
    const torch::Tensor inputs = images.items.view({n, patches * patches, patch * patch});
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
    // The test split alongside the training split (each file is one gzip stream), as the two
    // tasks of one parallel loop: LibTorch's operators inside then run on their own thread.
    // From a thread of our own they would start a second OpenMP team, whose threads spin at
    // its barriers against the first's: beside two busy processes, loading took 0.65-1.29 s
    // instead of 0.23-0.35 s (README, "Performance"). A failure is reported as the training
    // split's first.
    Dataset* splits[] = {&task.train, &task.test};
    std::exception_ptr failures[2];
    at::parallel_for(0, 2, 1,
                     [&](int64_t begin, int64_t end)
                     {
                         for (int64_t i = begin; i < end; ++i)
                         {
                             try
                             {
                                 *splits[i] =
                                     LoadFashionSplit(dir, i == 0 ? "train" : "t10k",
                                                      i == 0 ? trainLimit : testLimit, patch);
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
