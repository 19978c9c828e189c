#pragma once
// Time: a Clock seam (tests advance a FakeClock instead of sleeping) and the
// API's date format.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace vidmill {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  int64_t NowMillis() const;
  int64_t NowSeconds() const;
};

// The wall clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static const SystemClock& Instance();
};

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis) : millis_(start_millis) {}
  TimePoint Now() const override;
  void Advance(std::chrono::milliseconds by) { millis_ += by.count(); }

 private:
  std::atomic<int64_t> millis_;
};

// "YYYY-MM-DD hh:mm:ss" in UTC, the format of every date in the API.
std::string FormatApiDate(int64_t epoch_millis);

// RFC 9110 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for HTTP headers.
std::string FormatHttpDate(int64_t epoch_seconds);

}  // namespace vidmill
