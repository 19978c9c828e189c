#include "filters/resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "filters/halves.h"

namespace vidmill::filters {
namespace {

float CatmullRom(float t) {
  t = std::fabs(t);
  if (t < 1) return 1.5f * t * t * t - 2.5f * t * t + 1;
  if (t < 2) return -0.5f * t * t * t + 2.5f * t * t - 4 * t + 2;
  return 0;
}

// For each output index: the first input index and its normalised weights.
struct Taps {
  int count = 0;
  std::vector<int> first;
  std::vector<float> weights;  // out × count
};

Taps MakeTaps(int in_size, int out_size) {
  Taps taps;
  const float ratio = static_cast<float>(in_size) / out_size;
  const float stretch = std::max(ratio, 1.0f);
  taps.count = static_cast<int>(std::ceil(2 * stretch)) * 2 + 1;
  taps.first.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.count, 0.0f);
  for (int o = 0; o < out_size; ++o) {
    const float center = (o + 0.5f) * ratio - 0.5f;
    const int first = static_cast<int>(std::floor(center)) - taps.count / 2;
    taps.first[o] = first;
    float sum = 0;
    float* w = &taps.weights[static_cast<size_t>(o) * taps.count];
    for (int k = 0; k < taps.count; ++k) {
      w[k] = CatmullRom((first + k - center) / stretch);
      sum += w[k];
    }
    for (int k = 0; k < taps.count; ++k) w[k] /= sum;
  }
  return taps;
}

}  // namespace

void ResamplePlane(const float* in, int in_width, int in_height, ptrdiff_t in_stride, float* out,
                   int out_width, int out_height, ptrdiff_t out_stride, int threads) {
  const Taps horizontal = MakeTaps(in_width, out_width);
  const Taps vertical = MakeTaps(in_height, out_height);
  // Horizontal pass into a temporary of out_width × in_height.
  std::vector<float> temp(static_cast<size_t>(out_width) * in_height);
  RunInHalves(in_height, threads >= 2 && in_height >= 64, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      const float* row = in + y * in_stride;
      float* dst = &temp[static_cast<size_t>(y) * out_width];
      for (int x = 0; x < out_width; ++x) {
        const float* w = &horizontal.weights[static_cast<size_t>(x) * horizontal.count];
        const int first = horizontal.first[x];
        float sum = 0;
        if (first >= 0 && first + horizontal.count <= in_width) {
          for (int k = 0; k < horizontal.count; ++k) sum += w[k] * row[first + k];
        } else {
          for (int k = 0; k < horizontal.count; ++k) {
            sum += w[k] * row[std::clamp(first + k, 0, in_width - 1)];
          }
        }
        dst[x] = sum;
      }
    }
  });
  RunInHalves(out_height, threads >= 2 && out_height >= 64, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      const float* w = &vertical.weights[static_cast<size_t>(y) * vertical.count];
      float* dst = out + y * out_stride;
      std::fill(dst, dst + out_width, 0.0f);
      for (int k = 0; k < vertical.count; ++k) {
        const int source = std::clamp(vertical.first[y] + k, 0, in_height - 1);
        const float* row = &temp[static_cast<size_t>(source) * out_width];
        const float weight = w[k];
        for (int x = 0; x < out_width; ++x) dst[x] += weight * row[x];
      }
    }
  });
}

}  // namespace vidmill::filters
