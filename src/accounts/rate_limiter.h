#pragma once
// Slows down password guessing: failed logins are counted per key (an account
// e-mail, a client address). The first `free_failures` cost nothing; each one
// after locks the key for a delay that doubles (1, 2, 4 … s), up to
// kMaxDelaySeconds — never a permanent lock-out. A key with no failure for
// kForgetAfterSeconds is forgotten, and a successful check clears it. State
// is per process (each API node limits on its own). Thread-safe; memory
// bounded by kMaxKeys.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vidmill::accounts {

class LoginRateLimiter {
 public:
  static constexpr int kDefaultFreeFailures = 5;
  static constexpr int64_t kMaxDelaySeconds = 900;
  static constexpr int64_t kForgetAfterSeconds = 3600;
  static constexpr size_t kMaxKeys = 100000;

  // How long a check waits for its turn behind the checks of its key in
  // flight, and how many may wait so, per key and in all (each holds a
  // request thread: a flood of guesses at many keys must not take them all).
  static constexpr std::chrono::milliseconds kDefaultTurnWait{2000};
  static constexpr int kMaxWaitingPerKey = 8;
  static constexpr int kMaxWaiting = 4;

  explicit LoginRateLimiter(int free_failures = kDefaultFreeFailures,
                            std::chrono::milliseconds turn_wait = kDefaultTurnWait)
      : free_failures_(free_failures), turn_wait_(turn_wait) {}

  // A password check for `key`, counted while it runs: Begin answers 0 when
  // it may run now, the seconds to wait when the key is locked, or kBusy.
  // Checks in flight count against the free failures left, and past them one
  // runs at a time: otherwise parallel guesses would all pass the lock before
  // the first of them fails (ten checked per lock window, not one). A check
  // over that count waits for its turn (up to the turn wait; kMaxWaitingPerKey
  // of a key, kMaxWaiting in all), so parallel logins with the right password
  // go through. Every Begin that answered 0 is followed by one Finish.
  // Begin's answer when no turn came (the key's checks stayed busy): not a
  // lock, so not "too many failed logins".
  static constexpr int64_t kBusy = -1;
  enum class Outcome { kFailed, kSucceeded, kNotChecked };
  int64_t Begin(const std::string& key, int64_t now_ms);
  void Finish(const std::string& key, int64_t now_ms, Outcome outcome);

 private:
  struct Entry {
    int failures = 0;
    int in_flight = 0;
    int waiting = 0;
    int64_t last_failure_ms = 0;
    int64_t locked_until_ms = 0;
  };
  void CountFailureLocked(Entry& entry, int64_t now_ms);
  void PruneLocked(int64_t now_ms);

  const int free_failures_;
  const std::chrono::milliseconds turn_wait_;
  std::mutex mu_;
  std::condition_variable turn_;  // a check of some key finished
  int waiting_ = 0;               // checks waiting for their turn, all keys
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace vidmill::accounts
