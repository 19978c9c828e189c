#pragma once
// Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past
// U+10FFFF. Text from clients (file names, URL paths) is checked or repaired
// with these before it goes into JSON or a header.

#include <cstddef>
#include <string>
#include <string_view>

namespace vidmill {

// The U+FFFD replacement character, in UTF-8.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

// Length of the well-formed UTF-8 sequence at the start of `text` (1–4), or
// 0 when it does not start with one (or is empty).
size_t Utf8SequenceLength(std::string_view text);

bool IsValidUtf8(std::string_view text);

// `text` with each byte that starts no well-formed sequence replaced by U+FFFD.
std::string ValidUtf8(std::string_view text);

}  // namespace vidmill
