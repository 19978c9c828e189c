#pragma once
// Identifiers for users, teams, projects, videos and jobs: random UUIDv4 text
// ("3f2b…-…"), 122 bits from the OS entropy source, so they cannot be guessed
// and can be minted on any node without coordination. Thread-safe.

#include <optional>
#include <string>
#include <string_view>

namespace vidmill {

std::string NewId();

// True for the canonical lower-case 36-character UUID form NewId() produces.
// Route handlers reject anything else before it reaches the store.
bool IsValidId(std::string_view id);

// The canonical form of an id a client sent: RFC 9562 §4 has UUIDs compared
// case-insensitively, so "3F2B…" names the same resource as "3f2b…". Empty for
// anything that is not a UUID in either case.
std::optional<std::string> CanonicalId(std::string_view id);

// `byte_count` random bytes from the OS entropy source (getrandom).
std::string RandomBytes(size_t byte_count);

std::string HexEncode(std::string_view bytes);

}  // namespace vidmill
