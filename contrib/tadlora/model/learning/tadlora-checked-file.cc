// SPDX-License-Identifier: GPL-2.0-only
#include "tadlora-checked-file.h"

#include <libdeflate.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <unistd.h>

namespace tadlora
{

void
WriteCheckedFile(const std::string& path, const std::string& magic, const std::string& key,
                 const std::string& payload)
{
    const uint32_t crc = libdeflate_crc32(0, payload.data(), payload.size());
    const std::string partial = path + ".partial-" + std::to_string(getpid());
    {
        std::ofstream out(partial, std::ios::binary);
        out << magic << "\nkey " << key << "\nbytes " << payload.size() << "\ncrc32 " << crc << "\n"
            << payload;
        if (!out.flush())
        {
            throw std::runtime_error("cannot write " + partial);
        }
    }
    std::filesystem::rename(partial, path);
}

std::string
ReadCheckedFile(const std::string& path, const std::string& magic, const std::string& key,
                std::string& payload)
{
    std::ifstream in(path, std::ios::binary);
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
    payload.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (payload.size() != bytes)
    {
        return "is truncated or padded (" + std::to_string(payload.size()) + " of " +
               std::to_string(bytes) + " bytes)";
    }
    if (libdeflate_crc32(0, payload.data(), payload.size()) != crc)
    {
        return "fails its CRC-32 (corrupted)";
    }
    return "";
}

} // namespace tadlora
