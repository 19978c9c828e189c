#include "accounts/rate_limiter.h"

#include <algorithm>

namespace vidmill::accounts {

int64_t LoginRateLimiter::Begin(const std::string& key, int64_t now_ms) {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + turn_wait_;
  bool waited = false;
  while (true) {
    if (entries_.size() >= kMaxKeys) PruneLocked(now_ms);
    Entry& entry = entries_[key];
    if (waited) {
      if (entry.waiting > 0) entry.waiting--;
      waiting_--;
      waited = false;
    }
    if (entry.locked_until_ms > now_ms) return (entry.locked_until_ms - now_ms + 999) / 1000;
    if (now_ms - entry.last_failure_ms > kForgetAfterSeconds * 1000) entry.failures = 0;
    if (entry.in_flight < std::max(1, free_failures_ - entry.failures)) {
      entry.in_flight++;
      return 0;
    }
    if (entry.waiting >= kMaxWaitingPerKey || waiting_ >= kMaxWaiting ||
        std::chrono::steady_clock::now() >= deadline) {
      return kBusy;
    }
    entry.waiting++;
    waiting_++;
    waited = true;
    turn_.wait_until(lock, deadline);
  }
}

void LoginRateLimiter::Finish(const std::string& key, int64_t now_ms, Outcome outcome) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;  // forgotten under a flood of keys (PruneLocked)
  Entry& entry = it->second;
  if (entry.in_flight > 0) entry.in_flight--;
  if (outcome == Outcome::kFailed) {
    CountFailureLocked(entry, now_ms);
  } else if (outcome == Outcome::kSucceeded) {
    entry.failures = 0;
    entry.locked_until_ms = 0;
  }
  if (entry.in_flight == 0 && entry.waiting == 0 && entry.failures == 0) entries_.erase(it);
  turn_.notify_all();
}

void LoginRateLimiter::CountFailureLocked(Entry& entry, int64_t now_ms) {
  if (now_ms - entry.last_failure_ms > kForgetAfterSeconds * 1000) entry.failures = 0;
  entry.failures++;
  entry.last_failure_ms = now_ms;
  if (entry.failures > free_failures_) {
    int excess = std::min(entry.failures - free_failures_ - 1, 20);
    int64_t delay = std::min<int64_t>(int64_t{1} << excess, kMaxDelaySeconds);
    entry.locked_until_ms = now_ms + delay * 1000;
  }
}

void LoginRateLimiter::PruneLocked(int64_t now_ms) {
  std::erase_if(entries_, [&](const auto& item) {
    return now_ms - item.second.last_failure_ms > kForgetAfterSeconds * 1000 &&
           item.second.locked_until_ms <= now_ms && item.second.in_flight == 0 &&
           item.second.waiting == 0;
  });
  if (entries_.size() >= kMaxKeys) entries_.clear();  // under attack: forget, stay bounded
}

}  // namespace vidmill::accounts
