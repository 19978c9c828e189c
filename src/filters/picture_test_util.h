#pragma once
// Whole-picture comparisons shared by the filters' tests. Header-only, tests
// only.

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

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

}  // namespace vidmill::filters
