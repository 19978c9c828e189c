#include "filters/clarity.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "filters/halves.h"

namespace vidmill::filters {
namespace {

constexpr int kBlurRadius = 4;   // Gaussian σ = 1.5, truncated at ±4
constexpr int kLimitRadius = 2;  // 5 × 5 min/max window

}  // namespace

float ClarityAmount(ClarityBoost level) {
  switch (level) {
    case ClarityBoost::kNone:
      return 0.0f;
    case ClarityBoost::kMarginal:
      return 0.2f;
    case ClarityBoost::kVeryLow:
      return 0.4f;
    case ClarityBoost::kLow:
      return 0.6f;
    case ClarityBoost::kMedium:
      return 0.9f;
    case ClarityBoost::kHigh:
      return 1.3f;
    case ClarityBoost::kVeryHigh:
      return 1.8f;
  }
  return 0.0f;
}

void ApplyClarity(float* plane, int width, int height, ptrdiff_t stride, ClarityBoost level,
                  int threads) {
  const float amount = ClarityAmount(level);
  if (amount == 0.0f) return;
  float kernel[2 * kBlurRadius + 1];
  float sum = 0;
  for (int k = -kBlurRadius; k <= kBlurRadius; ++k) {
    kernel[k + kBlurRadius] = std::exp(-(k * k) / (2 * 1.5f * 1.5f));
    sum += kernel[k + kBlurRadius];
  }
  for (float& weight : kernel) weight /= sum;
  const size_t size = static_cast<size_t>(width) * height;
  // Horizontal passes: blur, min and max of each row. Every sample of these
  // planes is written before it is read (SampleAllocator leaves them unset).
  using Floats = std::vector<float, SampleAllocator<float>>;
  Floats blur_h(size), min_h(size), max_h(size);
  RunInHalves(height, threads >= 2 && height >= 64, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      const float* row = plane + y * stride;
      const size_t offset = static_cast<size_t>(y) * width;
      for (int x = 0; x < width; ++x) {
        float acc = 0;
        for (int k = -kBlurRadius; k <= kBlurRadius; ++k) {
          acc += kernel[k + kBlurRadius] * row[std::clamp(x + k, 0, width - 1)];
        }
        float lo = row[x], hi = row[x];
        for (int k = -kLimitRadius; k <= kLimitRadius; ++k) {
          const float v = row[std::clamp(x + k, 0, width - 1)];
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        blur_h[offset + x] = acc;
        min_h[offset + x] = lo;
        max_h[offset + x] = hi;
      }
    }
  });
  // Vertical passes, and the limited boost; the rows written are not read again.
  Floats result(size);
  RunInHalves(height, threads >= 2 && height >= 64, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      const float* row = plane + y * stride;
      float* dst = &result[static_cast<size_t>(y) * width];
      for (int x = 0; x < width; ++x) {
        float blurred = 0;
        for (int k = -kBlurRadius; k <= kBlurRadius; ++k) {
          blurred += kernel[k + kBlurRadius] *
                     blur_h[static_cast<size_t>(std::clamp(y + k, 0, height - 1)) * width + x];
        }
        float lo = row[x], hi = row[x];
        for (int k = -kLimitRadius; k <= kLimitRadius; ++k) {
          const size_t at = static_cast<size_t>(std::clamp(y + k, 0, height - 1)) * width + x;
          lo = std::min(lo, min_h[at]);
          hi = std::max(hi, max_h[at]);
        }
        dst[x] = std::clamp(row[x] + amount * (row[x] - blurred), lo, hi);
      }
    }
  });
  for (int y = 0; y < height; ++y) {
    std::copy(&result[static_cast<size_t>(y) * width],
              &result[static_cast<size_t>(y) * width] + width, plane + y * stride);
  }
}

}  // namespace vidmill::filters
