#include "filters/clarity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "filters/sr_test_util.h"

namespace vidmill::filters {
namespace {

constexpr ClarityBoost kLevels[] = {
    ClarityBoost::kNone,   ClarityBoost::kMarginal, ClarityBoost::kVeryLow, ClarityBoost::kLow,
    ClarityBoost::kMedium, ClarityBoost::kHigh,     ClarityBoost::kVeryHigh};

// Contrast measures of docs/filters.md.
double MeanAbsLaplacian(const std::vector<float>& p, int w, int h) {
  double sum = 0;
  for (int y = 1; y + 1 < h; ++y) {
    for (int x = 1; x + 1 < w; ++x) {
      sum += std::fabs(4 * p[y * w + x] - p[y * w + x - 1] - p[y * w + x + 1] - p[(y - 1) * w + x] -
                       p[(y + 1) * w + x]);
    }
  }
  return sum / ((w - 2) * (h - 2));
}

double MeanLocalStdDev(const std::vector<float>& p, int w, int h) {
  double total = 0;
  int count = 0;
  for (int y = 2; y + 2 < h; ++y) {
    for (int x = 2; x + 2 < w; ++x) {
      double s = 0, ss = 0;
      for (int j = -2; j <= 2; ++j) {
        for (int i = -2; i <= 2; ++i) {
          const double v = p[(y + j) * w + x + i];
          s += v;
          ss += v * v;
        }
      }
      total += std::sqrt(std::max(ss / 25 - (s / 25) * (s / 25), 0.0));
      ++count;
    }
  }
  return total / count;
}

// The largest excursion of `boosted` beyond the 5 × 5 min/max of `original`.
double Overshoot(const std::vector<float>& original, const std::vector<float>& boosted, int w,
                 int h) {
  double worst = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      float lo = 1e9f, hi = -1e9f;
      for (int j = -2; j <= 2; ++j) {
        for (int i = -2; i <= 2; ++i) {
          const float v = original[std::clamp(y + j, 0, h - 1) * w + std::clamp(x + i, 0, w - 1)];
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
      }
      const float v = boosted[y * w + x];
      worst = std::max({worst, static_cast<double>(lo - v), static_cast<double>(v - hi)});
    }
  }
  return worst;
}

// A photo crop, and a soft synthetic edge where an unsharp mask would ring.
std::vector<std::vector<float>> Pictures(int* w, int* h) {
  *w = 128;
  *h = 128;
  std::vector<std::vector<float>> pictures;
  std::vector<float> photo;
  if (LoadPhotoCrop("FallenLeaf", 128, &photo)) pictures.push_back(photo);
  std::vector<float> edge(128 * 128);
  for (int y = 0; y < 128; ++y) {
    for (int x = 0; x < 128; ++x) edge[y * 128 + x] = 120 + 80 * std::tanh((x + y / 3.0f - 64) / 4);
  }
  pictures.push_back(edge);
  return pictures;
}

TEST(ClarityTest, ContrastRisesMonotonicallyWithTheLevel) {
  int w = 0, h = 0;
  for (const std::vector<float>& picture : Pictures(&w, &h)) {
    double last_laplacian = -1, last_std = -1;
    for (ClarityBoost level : kLevels) {
      std::vector<float> boosted = picture;
      ApplyClarity(boosted.data(), w, h, w, level, 2);
      const double laplacian = MeanAbsLaplacian(boosted, w, h);
      const double local_std = MeanLocalStdDev(boosted, w, h);
      if (level == ClarityBoost::kNone) {
        EXPECT_EQ(boosted, picture);
      } else {
        EXPECT_GT(laplacian, last_laplacian) << static_cast<int>(level);
        EXPECT_GT(local_std, last_std) << static_cast<int>(level);
      }
      last_laplacian = laplacian;
      last_std = local_std;
    }
  }
}

TEST(ClarityTest, NoHaloBeyondTheLocalRangeOfTheUnboostedPicture) {
  int w = 0, h = 0;
  for (const std::vector<float>& picture : Pictures(&w, &h)) {
    for (ClarityBoost level : kLevels) {
      std::vector<float> boosted = picture;
      ApplyClarity(boosted.data(), w, h, w, level, 2);
      EXPECT_LE(Overshoot(picture, boosted, w, h), 1e-4) << static_cast<int>(level);
    }
  }
  // The same measure catches a plain unsharp mask's halo on the edge (1.5 ×
  // the difference to a 15-pixel horizontal mean, unlimited).
  std::vector<float> edge = Pictures(&w, &h).back(), unsharp = edge;
  for (int y = 0; y < h; ++y) {
    for (int x = 7; x + 7 < w; ++x) {
      float mean = 0;
      for (int k = -7; k <= 7; ++k) mean += edge[y * w + x + k] / 15;
      unsharp[y * w + x] = edge[y * w + x] + 1.5f * (edge[y * w + x] - mean);
    }
  }
  EXPECT_GT(Overshoot(edge, unsharp, w, h), 10);
}

}  // namespace
}  // namespace vidmill::filters
