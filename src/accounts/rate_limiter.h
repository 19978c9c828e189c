#pragma once
// Slows down password guessing: failed logins are counted per key (an account
// e-mail, a client address). The first kFreeFailures cost nothing; each one
// after locks the key for a delay that doubles, up to kMaxDelaySeconds — never
// a permanent lock-out. A key with no failure for kForgetAfterSeconds is
// forgotten, and a success clears it. State is per process (each API node
// limits on its own). Thread-safe; memory bounded by kMaxKeys.

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vidmill::accounts {

class LoginRateLimiter {
 public:
  static constexpr int kFreeFailures = 5;
  static constexpr int64_t kMaxDelaySeconds = 900;
  static constexpr int64_t kForgetAfterSeconds = 3600;
  static constexpr size_t kMaxKeys = 100000;

  // Seconds the caller must still wait, or 0 when the key may try now.
  int64_t RetryAfterSeconds(const std::string& key, int64_t now_ms);
  void RecordFailure(const std::string& key, int64_t now_ms);
  void RecordSuccess(const std::string& key);

 private:
  struct Entry {
    int failures = 0;
    int64_t last_failure_ms = 0;
    int64_t locked_until_ms = 0;
  };
  void PruneLocked(int64_t now_ms);

  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace vidmill::accounts
