#pragma once
// Password hashing with Argon2id (libsodium), at the OWASP minimum
// (m = 19 MiB, t = 2, p = 1).
//
// Hashing is deliberately expensive in memory and time, so it is admitted
// through a small gate: at most `max_concurrent` hashes run at once, at most
// `max_waiting` more wait for a turn, and anything beyond that is refused at
// once with 503 Unavailable and Retry-After. A flood of logins therefore can
// neither exhaust memory nor tie up every request-handler thread of the
// server in a queue.
//
// Thread-safe.

#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vidmill::accounts {

inline constexpr size_t kMinPasswordBytes = 8;
inline constexpr size_t kMaxPasswordBytes = 1024;

class PasswordHasher {
 public:
  // Computes a dummy hash up front (for unknown e-mails); throws only if
  // libsodium cannot initialise, which is a broken installation.
  explicit PasswordHasher(int max_concurrent = 2, int max_waiting = 8);

  // 400 unless 8 to 1024 bytes.
  static Status ValidateNew(std::string_view password);

  // "$argon2id$v=19$m=19456,t=2,p=1$…". Unavailable when the gate is full or
  // the hash cannot get its memory.
  Result<std::string> Hash(std::string_view password);

  // True when `password` matches `stored_hash`. With an empty stored_hash
  // (no such user) it verifies against the dummy hash and returns false, so an
  // unknown e-mail costs the same time as a wrong password. Unavailable when
  // the gate is full.
  Result<bool> Verify(std::string_view password, const std::string& stored_hash);

 private:
  class Turn;
  Status Enter();
  void Leave();

  const int max_concurrent_;
  const int max_waiting_;
  std::mutex mu_;
  std::condition_variable turn_free_;
  int running_ = 0;
  int waiting_ = 0;
  std::string dummy_hash_;
};

}  // namespace vidmill::accounts
