#include "filters/resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "filters/frame.h"
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

// When out_size is in_size times an integer P (P ≤ kMaxPeriod) and the taps
// repeat every P outputs one input further on, as they do for 2× and 4×:
// that P. Else 0.
constexpr int kMaxPeriod = 4;
int Period(const Taps& taps, int in_size, int out_size) {
  if (in_size <= 0 || out_size % in_size != 0 || out_size / in_size > kMaxPeriod) return 0;
  const int period = out_size / in_size;
  for (int o = period; o < out_size; ++o) {
    const float* w = &taps.weights[static_cast<size_t>(o) * taps.count];
    if (taps.first[o] != taps.first[o - period] + 1 ||
        !std::equal(w, w + taps.count, w - static_cast<ptrdiff_t>(period) * taps.count)) {
      return 0;
    }
  }
  return period;
}

// One output row of the horizontal pass: output x is Σ_k w[x][k] ·
// row[first[x] + k], the terms added in k's order from 0.
void HorizontalRow(const Taps& taps, int period, const float* row, int in_width, float* dst,
                   int out_width) {
  const auto one = [&](int x) {
    const float* w = &taps.weights[static_cast<size_t>(x) * taps.count];
    const int first = taps.first[x];
    float sum = 0;
    if (first >= 0 && first + taps.count <= in_width) {
      for (int k = 0; k < taps.count; ++k) sum += w[k] * row[first + k];
    } else {
      for (int k = 0; k < taps.count; ++k)
        sum += w[k] * row[std::clamp(first + k, 0, in_width - 1)];
    }
    return sum;
  };
  if (period == 0) {
    for (int x = 0; x < out_width; ++x) dst[x] = one(x);
    return;
  }
  // Periodic taps: output period·i + p is phase p's filter at input i +
  // first[p]. The inputs i whose taps all lie inside the row, for every
  // phase, are done in blocks with the taps as the outer loop, so that the
  // loops over i vectorise (the same terms in the same order as `one`);
  // the rest one at a time.
  int lowest = taps.first[0], highest = taps.first[0];
  for (int p = 1; p < period; ++p) {
    lowest = std::min(lowest, taps.first[p]);
    highest = std::max(highest, taps.first[p]);
  }
  const int begin = std::clamp(-lowest, 0, in_width);
  const int end = std::clamp(in_width - highest - taps.count + 1, begin, in_width);
  for (int x = 0; x < begin * period; ++x) dst[x] = one(x);
  constexpr int kBlock = 64;
  float sums[kMaxPeriod][kBlock];
  for (int i0 = begin; i0 < end; i0 += kBlock) {
    const int n = std::min(kBlock, end - i0);
    for (int p = 0; p < period; ++p) {
      const float* w = &taps.weights[static_cast<size_t>(p) * taps.count];
      const float* source = row + taps.first[p] + i0;
      float* sum = sums[p];
      for (int i = 0; i < n; ++i) sum[i] = 0;
      for (int k = 0; k < taps.count; ++k) {
        const float weight = w[k];
        for (int i = 0; i < n; ++i) sum[i] += weight * source[i + k];
      }
    }
    float* out = dst + static_cast<ptrdiff_t>(i0) * period;
    if (period == 2) {
      for (int i = 0; i < n; ++i) {
        out[2 * i] = sums[0][i];
        out[2 * i + 1] = sums[1][i];
      }
    } else {
      for (int i = 0; i < n; ++i) {
        for (int p = 0; p < period; ++p) out[i * period + p] = sums[p][i];
      }
    }
  }
  for (int x = end * period; x < out_width; ++x) dst[x] = one(x);
}

}  // namespace

void ResamplePlane(const float* in, int in_width, int in_height, ptrdiff_t in_stride, float* out,
                   int out_width, int out_height, ptrdiff_t out_stride, int threads) {
  const Taps horizontal = MakeTaps(in_width, out_width);
  const Taps vertical = MakeTaps(in_height, out_height);
  // Horizontal pass into a temporary of out_width × in_height, every sample
  // written (left unset by SampleAllocator).
  std::vector<float, SampleAllocator<float>> temp(static_cast<size_t>(out_width) * in_height);
  const int period = Period(horizontal, in_width, out_width);
  RunInHalves(in_height, threads >= 2 && in_height >= 64, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      HorizontalRow(horizontal, period, in + y * in_stride, in_width,
                    &temp[static_cast<size_t>(y) * out_width], out_width);
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
