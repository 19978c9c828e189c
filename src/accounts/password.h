#pragma once
// Password hashing with Argon2id (libsodium), above the OWASP minimum
// (m = 19 MiB, t = 2). Hashing is deliberately expensive in memory, so at most
// `max_concurrent` hashes run at once: a flood of logins queues instead of
// exhausting memory. Thread-safe.

#include <semaphore>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vidmill::accounts {

inline constexpr size_t kMinPasswordBytes = 8;
inline constexpr size_t kMaxPasswordBytes = 1024;

class PasswordHasher {
 public:
  explicit PasswordHasher(int max_concurrent = 2);

  // 400 unless 8 to 1024 bytes.
  static Status ValidateNew(std::string_view password);

  Result<std::string> Hash(std::string_view password);

  // True when `password` matches `stored_hash`. With an empty stored_hash
  // (no such user) it verifies against a dummy hash and returns false, so an
  // unknown e-mail costs the same time as a wrong password.
  bool Verify(std::string_view password, const std::string& stored_hash);

 private:
  std::counting_semaphore<256> slots_;
  std::string dummy_hash_;
};

}  // namespace vidmill::accounts
