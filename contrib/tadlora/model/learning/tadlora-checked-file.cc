// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-checked-file.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tadlora
{

MappedFile::MappedFile(const std::string& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
    {
        m_problem = std::string("cannot be opened (") + std::strerror(errno) + ")";
        return;
    }
    struct stat status;
    const bool statted = ::fstat(fd, &status) == 0;
    m_size = statted ? static_cast<size_t>(status.st_size) : 0;
    void* mapped = m_size > 0
                       ? ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)
                       : nullptr;
    ::close(fd);
    if (!statted || mapped == MAP_FAILED)
    {
        m_size = 0;
        m_problem = "cannot be read";
        return;
    }
    m_data = static_cast<const uint8_t*>(mapped);
}

MappedFile::~MappedFile()
{
    if (m_data != nullptr)
    {
        ::munmap(const_cast<uint8_t*>(m_data), m_size);
    }
}

void
WriteCheckedFile(const std::string& path, const std::string& magic, const std::string& key,
                 std::initializer_list<std::string_view> payload)
{
    uint32_t crc = 0;
    size_t bytes = 0;
    for (std::string_view piece : payload)
    {
        crc = libdeflate_crc32(crc, piece.data(), piece.size());
        bytes += piece.size();
    }
    const std::string partial = path + ".partial-" + std::to_string(getpid());
    {
        std::ofstream out(partial, std::ios::binary);
        out << magic << "\nkey " << key << "\nbytes " << bytes << "\ncrc32 " << crc << "\n";
        for (std::string_view piece : payload)
        {
            out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
        }
        if (!out.flush())
        {
            out.close();
            std::error_code ignored;
            std::filesystem::remove(partial, ignored); // nothing half-written is left
            throw std::runtime_error("cannot write " + partial);
        }
    }
    std::filesystem::rename(partial, path);
}

std::string
ReadCheckedFile(const std::string& path, const std::string& magic, const std::string& key,
                CheckedPayload& payload)
{
    auto file = std::make_shared<const MappedFile>(path);
    if (!file->Problem().empty())
    {
        return file->Problem();
    }
    // The header is a few short lines: parse it from the file's first bytes.
    constexpr size_t kLongestHeader = 4096;
    std::istringstream in(std::string(reinterpret_cast<const char*>(file->Data()),
                                      std::min(file->Size(), kLongestHeader)));
    std::string line;
    std::string fileKey;
    uint64_t bytes = 0;
    uint32_t crc = 0;
    std::string field[3];
    if (!std::getline(in, line) || line != magic)
    {
        return "does not begin with '" + magic + "' (another kind of file, or another layout)";
    }
    if (!(in >> field[0] >> fileKey >> field[1] >> bytes >> field[2] >> crc) || field[0] != "key" ||
        field[1] != "bytes" || field[2] != "crc32" || in.get() != '\n')
    {
        return "has a damaged header";
    }
    if (fileKey != key)
    {
        return "was made by another configuration (" + fileKey + ")";
    }
    const auto header = static_cast<size_t>(in.tellg());
    const size_t size = file->Size() - header;
    if (size != bytes)
    {
        return "is truncated or padded (" + std::to_string(size) + " of " + std::to_string(bytes) +
               " bytes)";
    }
    const uint8_t* data = file->Data() + header;
    if (libdeflate_crc32(0, data, size) != crc)
    {
        return "fails its CRC-32 (corrupted)";
    }
    payload = {std::move(file), data, size};
    return "";
}

std::string
ReadCheckedFile(const std::string& path, const std::string& magic, const std::string& key,
                std::string& payload)
{
    CheckedPayload mapped;
    std::string problem = ReadCheckedFile(path, magic, key, mapped);
    if (problem.empty())
    {
        payload.assign(reinterpret_cast<const char*>(mapped.data), mapped.size);
    }
    return problem;
}

} // namespace tadlora
