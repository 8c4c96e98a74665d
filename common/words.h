/* Words of hsmbak's one-line state files (.hsmbak/sequence,
 * .hsmbak/transcript-pin): single spaces between words, nothing else. */
#ifndef HSMBAK_COMMON_WORDS_H
#define HSMBAK_COMMON_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The next word of [*p, end): *w, *n (not NUL-terminated); *p moves past it
 * and its one space. False at the end or on an empty word (two spaces). */
bool hb_word_next(const char **p, const char *end, const char **w, size_t *n);

/* hb_word_next into out (cap bytes with its NUL); false if it does not fit. */
bool hb_word_copy(const char **p, const char *end, char *out, size_t cap);

/* The word is exactly lit. */
bool hb_word_is(const char *w, size_t n, const char *lit);

/* The word is a decimal 0..max: digits only, no sign, no leading zero but "0". */
bool hb_word_u64(const char *w, size_t n, uint64_t max, uint64_t *out);

#endif
