#pragma once
// Whole-picture comparisons shared by the filters' tests. Header-only, tests
// only.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

#include "filters/filter.h"
#include "filters/frame.h"

namespace vidmill::filters {

// `a` and `b` have the same format and every sample of every plane equal;
// `what` names the picture in a failure.
inline void ExpectSamePicture(const OwnedFrame& a, const OwnedFrame& b,
                              const std::string& what = "") {
  ASSERT_TRUE(a.format() == b.format()) << what;
  for (int plane = 0; plane < 3; ++plane) {
    const PlaneView pa = a.plane(plane), pb = b.plane(plane);
    for (int y = 0; y < pa.height; ++y) {
      for (int x = 0; x < pa.width; ++x) {
        ASSERT_EQ(pa.At(x, y), pb.At(x, y))
            << what << " plane " << plane << " at " << x << "," << y;
      }
    }
  }
}

// The same for two sequences, picture by picture (stops at the first that
// differs).
inline void ExpectSamePictures(const std::vector<OwnedFrame>& a, const std::vector<OwnedFrame>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t n = 0; n < a.size() && !::testing::Test::HasFatalFailure(); ++n) {
    ExpectSamePicture(a[n], b[n], "picture " + std::to_string(n));
  }
}

// `run()` (a filter run giving pictures) gives the same pictures with the
// portable loops (VIDMILL_NO_SIMD) as with the AVX2 ones, and on one thread
// (VIDMILL_ONE_THREAD) as on two; returns the portable run's pictures.
template <typename Run>
std::vector<OwnedFrame> ExpectSameOnEveryPath(const Run& run) {
  setenv("VIDMILL_NO_SIMD", "1", 1);
  std::vector<OwnedFrame> portable = run();
  unsetenv("VIDMILL_NO_SIMD");
  ExpectSamePictures(portable, run());
  setenv("VIDMILL_ONE_THREAD", "1", 1);
  const std::vector<OwnedFrame> one_thread = run();
  unsetenv("VIDMILL_ONE_THREAD");
  ExpectSamePictures(portable, one_thread);
  return portable;
}

// Runs filter `name` over `input` (pts = index × pts_step), pulling after
// each picture, flushes, and returns all it put out; a Push after the Flush
// must fail.
inline std::vector<OwnedFrame> RunFilterOver(const std::string& name, const FilterConfig& config,
                                             const std::vector<OwnedFrame>& input,
                                             int64_t pts_step = 1) {
  auto filter = MakeFilter(name, config);
  EXPECT_TRUE(filter.ok()) << filter.status().ToString();
  std::vector<OwnedFrame> out;
  if (!filter.ok()) return out;
  for (size_t index = 0; index < input.size(); ++index) {
    EXPECT_TRUE((*filter)->Push(input[index].view(), static_cast<int64_t>(index) * pts_step).ok());
    EXPECT_TRUE((*filter)->Pull(&out).ok());
  }
  EXPECT_TRUE((*filter)->Flush().ok());
  EXPECT_TRUE((*filter)->Pull(&out).ok());
  if (!input.empty()) EXPECT_FALSE((*filter)->Push(input[0].view(), 0).ok());
  return out;
}

}  // namespace vidmill::filters
