#include "filters/resample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace vidmill::filters {
namespace {

// The resampling ResamplePlane documents, written out plainly in double:
// Catmull-Rom, stretched by the ratio when shrinking, centres aligned,
// edges replicated, weights normalised. One axis of `in` (count samples
// `step` apart, `lines` of them `pitch` apart) to out_size samples.
std::vector<double> ResampleAxis(const std::vector<double>& in, int size, int lines, int out_size,
                                 bool along_rows) {
  const auto kernel = [](double t) {
    t = std::fabs(t);
    if (t < 1) return 1.5 * t * t * t - 2.5 * t * t + 1;
    if (t < 2) return -0.5 * t * t * t + 2.5 * t * t - 4 * t + 2;
    return 0.0;
  };
  const double ratio = static_cast<double>(size) / out_size;
  const double stretch = std::max(ratio, 1.0);
  const int reach = static_cast<int>(std::ceil(2 * stretch)) + 1;
  std::vector<double> out(static_cast<size_t>(out_size) * lines);
  for (int line = 0; line < lines; ++line) {
    for (int o = 0; o < out_size; ++o) {
      const double center = (o + 0.5) * ratio - 0.5;
      double sum = 0, weights = 0;
      for (int i = static_cast<int>(std::floor(center)) - reach;
           i <= static_cast<int>(std::floor(center)) + reach; ++i) {
        const double w = kernel((i - center) / stretch);
        const int source = std::clamp(i, 0, size - 1);
        sum += w * in[along_rows ? static_cast<size_t>(line) * size + source
                                 : static_cast<size_t>(source) * lines + line];
        weights += w;
      }
      out[along_rows ? static_cast<size_t>(line) * out_size + o
                     : static_cast<size_t>(o) * lines + line] = sum / weights;
    }
  }
  return out;
}

// Every output sample matches the plain double computation, for the
// integer upscales that take the periodic (vectorised) horizontal pass —
// including rows too short to have an interior — and for the ratios that
// do not, on one thread and two.
TEST(ResamplePlaneTest, MatchesThePlainComputationAtEveryRatioAndSize) {
  struct Case {
    int in_w, in_h, out_w, out_h;
  };
  const Case cases[] = {{37, 11, 74, 22},   {640, 72, 1280, 144}, {9, 5, 36, 20}, {1, 3, 2, 6},
                        {2, 2, 4, 4},       {3, 70, 6, 140},      {5, 4, 20, 16}, {10, 4, 30, 12},
                        {100, 66, 37, 100}, {64, 64, 80, 48},     {7, 9, 7, 9}};
  std::mt19937 random(7);
  std::uniform_real_distribution<float> value(0.0f, 255.0f);
  for (const Case& c : cases) {
    std::vector<float> in(static_cast<size_t>(c.in_w + 3) * c.in_h);  // stride in_w + 3
    for (float& v : in) v = value(random);
    std::vector<double> plain(static_cast<size_t>(c.in_w) * c.in_h);
    for (int y = 0; y < c.in_h; ++y) {
      for (int x = 0; x < c.in_w; ++x) {
        plain[static_cast<size_t>(y) * c.in_w + x] = in[static_cast<size_t>(y) * (c.in_w + 3) + x];
      }
    }
    const std::vector<double> expected = ResampleAxis(
        ResampleAxis(plain, c.in_w, c.in_h, c.out_w, true), c.in_h, c.out_w, c.out_h, false);
    for (int threads : {1, 2}) {
      std::vector<float> out(static_cast<size_t>(c.out_w + 1) * c.out_h, -1.0f);
      ResamplePlane(in.data(), c.in_w, c.in_h, c.in_w + 3, out.data(), c.out_w, c.out_h,
                    c.out_w + 1, threads);
      double worst = 0;
      for (int y = 0; y < c.out_h; ++y) {
        for (int x = 0; x < c.out_w; ++x) {
          worst = std::max(worst, std::fabs(out[static_cast<size_t>(y) * (c.out_w + 1) + x] -
                                            expected[static_cast<size_t>(y) * c.out_w + x]));
        }
      }
      EXPECT_LT(worst, 1e-3) << c.in_w << "x" << c.in_h << " -> " << c.out_w << "x" << c.out_h
                             << ", " << threads << " thread(s)";
    }
  }
}

}  // namespace
}  // namespace vidmill::filters
