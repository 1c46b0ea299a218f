// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_CHECKED_FILE_H
#define TADLORA_CHECKED_FILE_H

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

/**
 * @file
 * Files that say what they are and whether they are whole: a text header (a magic line naming
 * the layout and its version, the key of what made the file, the payload's size and CRC-32),
 * then the payload. Written atomically. The cached bases and data, and the runs' checkpoints
 * use them.
 */

namespace tadlora
{

/**
 * @brief A whole file mapped read-only, its pages mapped at once (MAP_POPULATE). A file in the
 * page cache is then read in place, where reading it into memory of our own would first fault
 * that memory in: a fresh page costs about 14 us on this project's virtual machines (README,
 * "Performance").
 */
class MappedFile
{
public:
    /** @param path the file; Problem() says why it could not be mapped */
    explicit MappedFile(const std::string& path);
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    /** @return the file's bytes (nullptr if it is empty or could not be mapped) */
    const uint8_t* Data() const
    {
        return m_data;
    }

    /** @return the file's size in bytes */
    size_t Size() const
    {
        return m_size;
    }

    /** @return why the file could not be mapped ("cannot be opened (No such file ...)"), or "" */
    const std::string& Problem() const
    {
        return m_problem;
    }

private:
    const uint8_t* m_data = nullptr; //!< nullptr for an empty or unmapped file
    size_t m_size = 0;               //!< bytes
    std::string m_problem;           //!< empty once mapped
};

/** @brief A checked file's payload, in place in the mapped file. */
struct CheckedPayload
{
    std::shared_ptr<const MappedFile> file; //!< keeps the payload mapped
    const uint8_t* data = nullptr;          //!< the payload's first byte
    size_t size = 0;                        //!< the payload's bytes
};

/**
 * @brief Write a checked file atomically: under a private name, then renamed over the path, so
 * that a concurrent or interrupted writer never leaves half a file.
 * @param path the file
 * @param magic the first line: the layout and its version
 * @param key what made the payload (one word)
 * @param payload the payload's bytes, in pieces that follow each other
 * @throws std::runtime_error if it cannot be written
 */
void WriteCheckedFile(const std::string& path, const std::string& magic, const std::string& key,
                      std::initializer_list<std::string_view> payload);

/**
 * @brief Map a checked file and check its header, key, size and CRC-32.
 * @param path the file
 * @param magic the first line it must have
 * @param key the key it must have
 * @param payload where its payload is found
 * @return empty if the payload is whole and intact; otherwise why the file cannot be used, as
 *         the end of a sentence about it ("is truncated ...")
 */
std::string ReadCheckedFile(const std::string& path, const std::string& magic,
                            const std::string& key, CheckedPayload& payload);

/** @brief ReadCheckedFile(), the payload copied into a string */
std::string ReadCheckedFile(const std::string& path, const std::string& magic,
                            const std::string& key, std::string& payload);

} // namespace tadlora

#endif // TADLORA_CHECKED_FILE_H
