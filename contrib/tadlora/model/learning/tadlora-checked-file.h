// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_CHECKED_FILE_H
#define TADLORA_CHECKED_FILE_H

#include <string>

/**
 * @file
 * Files that say what they are and whether they are whole: a text header (a magic line naming
 * the layout and its version, the key of what made the file, the payload's size and CRC-32),
 * then the payload. Written atomically. The cached bases and the runs' checkpoints use them.
 */

namespace tadlora
{

/**
 * @brief Write a checked file atomically: under a private name, then renamed over the path, so
 * that a concurrent or interrupted writer never leaves half a file.
 * @param path the file
 * @param magic the first line: the layout and its version
 * @param key what made the payload (one word)
 * @param payload the bytes
 * @throws std::runtime_error if it cannot be written
 */
void WriteCheckedFile(const std::string& path, const std::string& magic, const std::string& key,
                      const std::string& payload);

/**
 * @brief Read a checked file and check its header, key, size and CRC-32.
 * @param path the file
 * @param magic the first line it must have
 * @param key the key it must have
 * @param payload where its payload goes
 * @return empty if the payload was read whole and intact; otherwise why the file cannot be
 *         used, as the end of a sentence about it ("is truncated ...")
 */
std::string ReadCheckedFile(const std::string& path, const std::string& magic,
                            const std::string& key, std::string& payload);

} // namespace tadlora

#endif // TADLORA_CHECKED_FILE_H
