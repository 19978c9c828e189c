#include "filters/denoise.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numbers>

#include "filters/halves.h"
#include "filters/median.h"
#include "filters/resample.h"
#include "filters/simd.h"

namespace vidmill::filters {
namespace {

// Pictures on each side of the current one.
constexpr int kRadius = 2;
// Luma block of the vector field, and the largest vector searched (pixels).
constexpr int kBlock = 16;
constexpr int kMaxVector = 64;
// Temporal weight of an aligned sample against z = (3×3 mean squared
// difference) / (2σ²): 1 up to kFullWeightZ, 0 from kZeroWeightZ, linear
// between. On the training photos, (1, 3) → (1.5, 5) gained 0.1–0.6 dB (most
// on film grain); wider was flat.
constexpr float kFullWeightZ = 1.5f;
constexpr float kZeroWeightZ = 5.0f;
// Noise variance per unit of the median block mean squared difference to the
// aligned neighbour: 0.5 if the two were independent noise of equal power
// (the aligned one is in fact slightly smoothed by the interpolation; larger
// factors traded σ = 5 against film grain on the training photos).
constexpr float kVarianceFactor = 0.5f;
// Spatial stage: DCT coefficients below kThreshold × the residual σ are
// dropped; kStride is the step between overlapping 8×8 blocks.
// Training photos: 2.4 / 2.7 / 3.0 within 0.3 dB of each other (lower helps
// σ = 5, higher σ = 20 and grain); a stride of 2 gains 0.5–0.7 dB but costs
// 40 % more time, which the 1080p speed target cannot afford.
constexpr float kThreshold = 2.8f;
constexpr int kStride = 4;

// A plane of float samples.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<float, SampleAllocator<float>> data;

  // The samples are left as they were: every user overwrites all of them.
  // The storage only grows: the workspace's images go from luma to chroma
  // size and back every picture (regrowing had cost a tenth of denoise's time
  // at 576p). New storage is not zeroed either (SampleAllocator): a
  // std::allocator's zeroing ran on one thread and touched each new page
  // first, and the first pictures of a 1080p clip allocate about 260 MB, so
  // an 8-picture clip spent a third of its CPU time there while the other
  // thread waited. Left unset, the pages are first touched by the threads
  // that write them.
  void Resize(int w, int h) {
    width = w;
    height = h;
    const size_t size = static_cast<size_t>(w) * h;
    if (data.size() < size) data.resize(size);
  }
  float* Row(int y) { return data.data() + static_cast<size_t>(y) * width; }
  const float* Row(int y) const { return data.data() + static_cast<size_t>(y) * width; }
  float Clamped(int x, int y) const {
    return Row(std::clamp(y, 0, height - 1))[std::clamp(x, 0, width - 1)];
  }
};

// Rows [begin, end) of `plane` into `image` (already the plane's size).
void ToImageRows(const PlaneView& plane, int begin, int end, Image* image) {
  for (int y = begin; y < end; ++y) {
    float* dst = image->Row(y);
    if (plane.bit_depth > 8) {
      const uint16_t* src = plane.Row16(y);
      for (int x = 0; x < plane.width; ++x) dst[x] = src[x];
    } else {
      const uint8_t* src = plane.Row8(y);
      for (int x = 0; x < plane.width; ++x) dst[x] = src[x];
    }
  }
}

void ToImage(const PlaneView& plane, Image* image) {
  image->Resize(plane.width, plane.height);
  ToImageRows(plane, 0, plane.height, image);
}

double EstimateSigma(const Image& image) {
  if (image.width < 2 || image.height < 2) return 0;
  std::vector<float> details;
  details.reserve(static_cast<size_t>(image.width / 2) * (image.height / 2));
  for (int y = 0; y + 1 < image.height; y += 2) {
    const float* a = image.Row(y);
    const float* b = image.Row(y + 1);
    for (int x = 0; x + 1 < image.width; x += 2) {
      details.push_back(std::abs(a[x] - a[x + 1] - b[x] + b[x + 1]) * 0.5f);
    }
  }
  return Median(std::move(details)) / 0.6745;
}

// [1 2 1] / 4 in both directions, edges clamped, and the result at half size
// (2×2 means), for the motion search. In two steps, each on rows that two
// threads split: SmoothAcross (rows [begin, end) of `in` into `across`), then
// SmoothDownAndHalve (rows [begin, end) of `half`, from all of `across`).
void SmoothAcross(const Image& in, int begin, int end, Image* across) {
  const int last = in.width - 1;
  for (int y = begin; y < end; ++y) {
    const float* src = in.Row(y);
    float* dst = across->Row(y);
    auto at = [&](int x, float left, float right) {
      dst[x] = 0.25f * (left + right) + 0.5f * src[x];
    };
    at(0, src[0], src[std::min(1, last)]);
    for (int x = 1; x < last; ++x) dst[x] = 0.25f * (src[x - 1] + src[x + 1]) + 0.5f * src[x];
    if (last > 0) at(last, src[last - 1], src[last]);
  }
}

void SmoothDownAndHalve(const Image& across, int begin, int end, Image* smooth, Image* half) {
  const int height = across.height;
  for (int y = 2 * begin; y < std::min(2 * end, height); ++y) {
    const float* up = across.Row(std::max(y - 1, 0));
    const float* mid = across.Row(y);
    const float* down = across.Row(std::min(y + 1, height - 1));
    float* dst = smooth->Row(y);
    for (int x = 0; x < across.width; ++x) dst[x] = 0.25f * (up[x] + down[x]) + 0.5f * mid[x];
  }
  for (int y = begin; y < end; ++y) {
    const float* a = smooth->Row(2 * y);
    const float* b = smooth->Row(std::min(2 * y + 1, height - 1));
    float* dst = half->Row(y);
    for (int x = 0; x < half->width; ++x) {
      const int x1 = std::min(2 * x + 1, smooth->width - 1);
      dst[x] = 0.25f * (a[2 * x] + a[x1] + b[2 * x] + b[x1]);
    }
  }
}

// The compensation's interpolation: six taps, at offsets −2 … 3 from the
// sample left of (or above) the position.
constexpr int kTaps = 6;
constexpr int kTapsBefore = kTaps / 2 - 1;

// The taps' weights for a fraction t ∈ [0, 1): Lanczos-3 (normalised to sum
// 1) × sharpness + Catmull-Rom (the middle four taps) × (1 − sharpness).
// Lanczos keeps the detail Catmull-Rom blurs, which matters when the noise
// is small; Catmull-Rom's blur also smooths the neighbours' noise, which is
// worth more when the noise is strong.
void TapWeights(float t, float sharpness, float* w) {
  double lanczos[kTaps], sum = 0;
  for (int i = 0; i < kTaps; ++i) {
    const double x = (i - kTapsBefore - t) * std::numbers::pi;
    lanczos[i] = std::abs(x) < 1e-9 ? 1.0 : std::sin(x) / x * std::sin(x / 3) / (x / 3);
    sum += lanczos[i];
  }
  float cubic[4];
  CatmullRomWeights(t, cubic);
  for (int i = 0; i < kTaps; ++i) {
    const float inner = i >= 1 && i <= 4 ? cubic[i - 1] : 0.0f;
    w[i] = static_cast<float>(sharpness * lanczos[i] / sum) + (1 - sharpness) * inner;
  }
}

using Vector = Denoiser::Vector;

// A rectangle of a plane.
struct Rect {
  int x0, y0, width, height;
};

// The vectors searched for `rect` in a plane of width × height: at most
// `limit`, and keeping about half the block or more inside the plane (so that
// blocks at the edges can match content that moved in or out).
struct Range {
  int x_lo, x_hi, y_lo, y_hi;
};
Range VectorRange(const Rect& rect, int width, int height, int limit) {
  return Range{std::max(-rect.x0 - rect.width / 2, -limit),
               std::min(width - 1 - (rect.x0 + rect.width) + rect.width / 2, limit),
               std::max(-rect.y0 - rect.height / 2, -limit),
               std::min(height - 1 - (rect.y0 + rect.height) + rect.height / 2, limit)};
}

// The part of `rect` whose samples moved by (dx, dy), plus `extra` samples
// right and down (for interpolation), stay inside a plane of width × height.
inline Rect Clip(const Rect& rect, int dx, int dy, int extra, int width, int height) {
  const int x_begin = std::max(rect.x0, -dx);
  const int x_end = std::min(rect.x0 + rect.width, width - extra - dx);
  const int y_begin = std::max(rect.y0, -dy);
  const int y_end = std::min(rect.y0 + rect.height, height - extra - dy);
  return Rect{x_begin, y_begin, std::max(x_end - x_begin, 0), std::max(y_end - y_begin, 0)};
}

// The hot loops are written once as always-inline bodies with eight
// independent lanes (so the compiler vectorises them without reordering any
// sum) and compiled twice: for AVX2, chosen at run time when the CPU has it,
// and for baseline x86-64. Neither reorders a float operation, so both give
// the same pictures bit for bit (denoise_test.cc compares them).
#define VIDMILL_INLINE [[gnu::always_inline]] inline
// Whether the AVX2 loops run: set when a denoiser is created, from the CPU
// and VIDMILL_NO_SIMD (which selects the portable loops, for comparisons).
// Both give the same pictures, so a change under a running filter is
// harmless.
std::atomic<bool> g_avx2{false};
bool UseAvx2() { return g_avx2.load(std::memory_order_relaxed); }
void ChooseLoops() { g_avx2.store(Avx2LoopsAllowed(), std::memory_order_relaxed); }

// Sum of absolute differences between `rect` of `cur` and of `ref` moved by an
// integer vector (inside the plane), on every `row_step`-th row.
VIDMILL_INLINE float IntegerCostBody(const Image& cur, const Image& ref, const Rect& rect, int vx,
                                     int vy, int row_step) {
  float lanes[8] = {};
  for (int y = 0; y < rect.height; y += row_step) {
    const float* a = cur.Row(rect.y0 + y) + rect.x0;
    const float* b = ref.Row(rect.y0 + y + vy) + rect.x0 + vx;
    int x = 0;
    for (; x + 8 <= rect.width; x += 8) {
      for (int i = 0; i < 8; ++i) lanes[i] += std::abs(a[x + i] - b[x + i]);
    }
    for (; x < rect.width; ++x) lanes[0] += std::abs(a[x] - b[x]);
  }
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// The same with a fractional vector, bilinear, on every other row: on the
// training photos that cost 0.03–0.06 dB and saves a tenth of the time.
VIDMILL_INLINE float FractionalCostBody(const Image& cur, const Image& ref, const Rect& rect,
                                        Vector v) {
  const int ix = static_cast<int>(std::floor(v.dx)), iy = static_cast<int>(std::floor(v.dy));
  const float fx = v.dx - ix, fy = v.dy - iy;
  const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
  float lanes[8] = {};
  for (int y = 0; y < rect.height; y += 2) {
    const float* a = cur.Row(rect.y0 + y) + rect.x0;
    const float* b0 = ref.Row(rect.y0 + y + iy) + rect.x0 + ix;
    const float* b1 = b0 + ref.width;
    int x = 0;
    for (; x + 8 <= rect.width; x += 8) {
      for (int i = 0; i < 8; ++i) {
        const int k = x + i;
        lanes[i] +=
            std::abs(a[k] - ((w00 * b0[k] + w01 * b0[k + 1]) + (w10 * b1[k] + w11 * b1[k + 1])));
      }
    }
    for (; x < rect.width; ++x) {
      lanes[0] +=
          std::abs(a[x] - ((w00 * b0[x] + w01 * b0[x + 1]) + (w10 * b1[x] + w11 * b1[x + 1])));
    }
  }
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

#if defined(__x86_64__) || defined(__i386__)
VIDMILL_AVX2 float HorizontalSum(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

VIDMILL_AVX2 float IntegerCostAvx2(const Image& cur, const Image& ref, const Rect& rect, int vx,
                                   int vy, int row_step) {
  if (rect.width % 8) return IntegerCostBody(cur, ref, rect, vx, vy, row_step);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 acc = _mm256_setzero_ps();
  for (int y = 0; y < rect.height; y += row_step) {
    const float* a = cur.Row(rect.y0 + y) + rect.x0;
    const float* b = ref.Row(rect.y0 + y + vy) + rect.x0 + vx;
    for (int x = 0; x < rect.width; x += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + x), _mm256_loadu_ps(b + x));
      acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, d));
    }
  }
  return HorizontalSum(acc);
}

VIDMILL_AVX2 float FractionalCostAvx2(const Image& cur, const Image& ref, const Rect& rect,
                                      Vector v) {
  if (rect.width % 8) return FractionalCostBody(cur, ref, rect, v);
  const int ix = static_cast<int>(std::floor(v.dx)), iy = static_cast<int>(std::floor(v.dy));
  const float fx = v.dx - ix, fy = v.dy - iy;
  const __m256 w00 = _mm256_set1_ps((1 - fx) * (1 - fy)), w01 = _mm256_set1_ps(fx * (1 - fy));
  const __m256 w10 = _mm256_set1_ps((1 - fx) * fy), w11 = _mm256_set1_ps(fx * fy);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 acc = _mm256_setzero_ps();
  for (int y = 0; y < rect.height; y += 2) {
    const float* a = cur.Row(rect.y0 + y) + rect.x0;
    const float* b0 = ref.Row(rect.y0 + y + iy) + rect.x0 + ix;
    const float* b1 = b0 + ref.width;
    for (int x = 0; x < rect.width; x += 8) {
      const __m256 top = _mm256_add_ps(_mm256_mul_ps(w00, _mm256_loadu_ps(b0 + x)),
                                       _mm256_mul_ps(w01, _mm256_loadu_ps(b0 + x + 1)));
      const __m256 bottom = _mm256_add_ps(_mm256_mul_ps(w10, _mm256_loadu_ps(b1 + x)),
                                          _mm256_mul_ps(w11, _mm256_loadu_ps(b1 + x + 1)));
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + x), _mm256_add_ps(top, bottom));
      acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, d));
    }
  }
  return HorizontalSum(acc);
}
#else
float IntegerCostAvx2(const Image& cur, const Image& ref, const Rect& rect, int vx, int vy,
                      int row_step) {
  return IntegerCostBody(cur, ref, rect, vx, vy, row_step);
}
float FractionalCostAvx2(const Image& cur, const Image& ref, const Rect& rect, Vector v) {
  return FractionalCostBody(cur, ref, rect, v);
}
#endif
float IntegerCostGeneric(const Image& cur, const Image& ref, const Rect& rect, int vx, int vy,
                         int row_step) {
  return IntegerCostBody(cur, ref, rect, vx, vy, row_step);
}
float FractionalCostGeneric(const Image& cur, const Image& ref, const Rect& rect, Vector v) {
  return FractionalCostBody(cur, ref, rect, v);
}

// The costs the search compares, written once and compiled twice like the
// loops above: the AVX2 instance calls the AVX2 sums directly (and rounds
// with one instruction), which saves the dispatch around every candidate.
//
// Mean absolute difference over the part of `rect` that stays inside `ref`
// when moved by (vx, vy); the largest float when none does.
template <bool kAvx2>
VIDMILL_INLINE float IntegerCostOf(const Image& cur, const Image& ref, const Rect& rect, int vx,
                                   int vy) {
  const Rect inside = Clip(rect, vx, vy, 0, ref.width, ref.height);
  if (inside.width == 0 || inside.height == 0) return std::numeric_limits<float>::max();
  const float sum = kAvx2 ? IntegerCostAvx2(cur, ref, inside, vx, vy, 1)
                          : IntegerCostGeneric(cur, ref, inside, vx, vy, 1);
  return sum / static_cast<float>(inside.width * inside.height);
}
// The same for a fractional vector (bilinear, every other row). A whole
// vector's bilinear weights are 1, 0, 0, 0, which add exactly nothing, so the
// integer sum over the same rows is the same number at a quarter of the loads.
template <bool kAvx2>
VIDMILL_INLINE float FractionalCostOf(const Image& cur, const Image& ref, const Rect& rect,
                                      Vector v) {
  const int ix = static_cast<int>(std::floor(v.dx)), iy = static_cast<int>(std::floor(v.dy));
  const Rect inside = Clip(rect, ix, iy, 1, ref.width, ref.height);
  if (inside.width == 0 || inside.height == 0) return std::numeric_limits<float>::max();
  float sum;
  if (v.dx == ix && v.dy == iy) {
    sum = kAvx2 ? IntegerCostAvx2(cur, ref, inside, ix, iy, 2)
                : IntegerCostGeneric(cur, ref, inside, ix, iy, 2);
  } else {
    sum = kAvx2 ? FractionalCostAvx2(cur, ref, inside, v)
                : FractionalCostGeneric(cur, ref, inside, v);
  }
  return sum / static_cast<float>(inside.width * ((inside.height + 1) / 2));
}
VIDMILL_AVX2 float IntegerCostViaAvx2(const Image& cur, const Image& ref, const Rect& rect, int vx,
                                      int vy) {
  return IntegerCostOf<true>(cur, ref, rect, vx, vy);
}
VIDMILL_AVX2 float FractionalCostViaAvx2(const Image& cur, const Image& ref, const Rect& rect,
                                         Vector v) {
  return FractionalCostOf<true>(cur, ref, rect, v);
}
float IntegerCost(const Image& cur, const Image& ref, const Rect& rect, int vx, int vy) {
  return UseAvx2() ? IntegerCostViaAvx2(cur, ref, rect, vx, vy)
                   : IntegerCostOf<false>(cur, ref, rect, vx, vy);
}
float FractionalCost(const Image& cur, const Image& ref, const Rect& rect, Vector v) {
  return UseAvx2() ? FractionalCostViaAvx2(cur, ref, rect, v)
                   : FractionalCostOf<false>(cur, ref, rect, v);
}

}  // namespace

struct Denoiser::Picture {
  int64_t pts = 0;
  std::array<Image, 3> planes;
  Image smooth;  // luma, [1 2 1]²
  Image half;    // smooth at half resolution
};

namespace {
constexpr int kBins = 8;
// The fewest 8×8 blocks a median over blocks (noise, match and detail levels,
// drift, brightness ratio) is taken from; with fewer the estimate falls back.
constexpr size_t kMinBlocks = 16;
// A neighbour whose brightness differs from the current picture's by more than
// this (as a ratio) is treated as flicker: brightness-matched search and drift
// correction. Steady video's ratios stay within a few tenths of a percent.
constexpr float kFlicker = 0.01f;

// A value given per intensity bin (bins `bin_width` wide), linearly
// interpolated between the bins' centres at `intensity`.
float BinValue(const float values[kBins], float bin_width, float intensity) {
  const float position = intensity / bin_width - 0.5f;
  const int bin = std::clamp(static_cast<int>(std::floor(position)), 0, kBins - 2);
  const float t = std::clamp(position - bin, 0.0f, 1.0f);
  return values[bin] + t * (values[bin + 1] - values[bin]);
}

// The noise of one plane: its variance as a function of the (luma) intensity,
// and the shape of its spectrum over the 8×8 DCT coefficients (mean 1; all 1
// for white noise).
struct NoiseModel {
  float variance[kBins];
  float shape[8][8];
  float bin_width = 32;

  void SetWhite(float sigma) {
    std::fill(std::begin(variance), std::end(variance), sigma * sigma);
    for (auto& row : shape) std::fill(std::begin(row), std::end(row), 1.0f);
  }
  float Variance(float intensity) const { return BinValue(variance, bin_width, intensity); }
};

}  // namespace

struct Denoiser::Workspace {
  std::vector<Image> aligned, squares, distance;
  Image temporal, residual, result;
  Image smooth_rows;  // the luma smoothed across, before it is smoothed down (Push)
  // A flickering neighbour's luma images brought to the current picture's
  // brightness, for the search (FindNeighbours; one neighbour at a time).
  Picture flicker_ref;
  // The spatial stage's sums, one pair per half of the rows.
  std::vector<float> accumulators[2], weights[2];
  // The previous picture's noise models (per plane) and its best neighbour's
  // match level, and the detail levels (both forms, see ChooseNeighbours) of
  // the last four pictures, newest first (luma): for telling a picture that
  // matches no neighbour.
  NoiseModel last_model[3];
  bool have_last_model = false;
  float last_level = 0;
  std::array<float, 4> recent_detail[2] = {};
};

namespace {

using Picture = Denoiser::Picture;

// `count` values for each whole 8×8 block of a plane of width × height:
// values(x0, y0, out) writes the block's out[0 … count − 1], which land in
// result[0 … count − 1], the blocks row by row. The two halves of the block
// rows are computed on two threads (these per-picture statistics otherwise
// ran on one while the other waited).
template <typename Values>
std::vector<std::vector<float>> BlockValues(size_t count, int width, int height,
                                            const Values& values) {
  const int across = width / 8, down = height / 8;
  std::vector<std::vector<float>> result(count,
                                         std::vector<float>(static_cast<size_t>(across) * down));
  RunInHalves(down, true, [&](int begin, int end) {
    std::vector<float> out(count);
    for (int by = begin; by < end; ++by) {
      for (int bx = 0; bx < across; ++bx) {
        values(bx * 8, by * 8, out.data());
        const size_t index = static_cast<size_t>(by) * across + bx;
        for (size_t k = 0; k < count; ++k) result[k][index] = out[k];
      }
    }
  });
  return result;
}

// The same for one value per block, value(x0, y0).
template <typename Value>
std::vector<float> BlockValues(int width, int height, const Value& value) {
  return std::move(
      BlockValues(1, width, height, [&](int x0, int y0, float* out) { *out = value(x0, y0); })[0]);
}

// The sums of `a` and of `b` over the 8×8 block at (x0, y0).
void BlockSums(const Image& a, const Image& b, int x0, int y0, float* sum_a, float* sum_b) {
  *sum_a = 0;
  *sum_b = 0;
  for (int j = 0; j < 8; ++j) {
    const float* row_a = a.Row(y0 + j) + x0;
    const float* row_b = b.Row(y0 + j) + x0;
    for (int i = 0; i < 8; ++i) {
      *sum_a += row_a[i];
      *sum_b += row_b[i];
    }
  }
}

// `out` = `in` × ratio, rows split between the threads.
void ScaledCopy(const Image& in, float ratio, Image* out) {
  out->Resize(in.width, in.height);
  RunInHalves(in.height, true, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      const float* src = in.Row(y);
      float* dst = out->Row(y);
      for (int x = 0; x < in.width; ++x) dst[x] = src[x] * ratio;
    }
  });
}

// The brightness ratio of `cur` to `ref` (flicker), on the half-resolution
// smoothed luma: the median over 8×8 blocks (16×16 at full resolution) of the
// ratio of their means, blocks at the same place (motion of a few pixels
// moves a block's mean little, and the median ignores the blocks it does
// move); 1 with fewer than 16 blocks that are not black.
float BrightnessRatio(const Image& cur, const Image& ref) {
  constexpr float kBlack = -1;
  std::vector<float> ratios = BlockValues(cur.width, cur.height, [&](int x0, int y0) {
    float sum_c, sum_r;
    BlockSums(cur, ref, x0, y0, &sum_c, &sum_r);
    return sum_r > 8 * 8 * 8 ? sum_c / sum_r : kBlack;  // mean above 8: not black
  });
  std::erase(ratios, kBlack);
  return ratios.size() < kMinBlocks ? 1.0f : Median(std::move(ratios));
}

// The vector field from `cur` to `ref` (one vector per kBlock² luma block).
// `previous` is the same field for the picture before (may be empty), `twice`
// the field to the picture half as far (may be empty).
void EstimateMotion(const Picture& cur, const Picture& ref, const std::vector<Vector>& previous,
                    const std::vector<Vector>& twice, int blocks_x, int blocks_y,
                    std::vector<Vector>* field) {
  field->assign(static_cast<size_t>(blocks_x) * blocks_y, Vector{});
  const Image& full = cur.smooth;
  auto search_rows = [&](int row_begin, int row_end) {
    for (int by = row_begin; by < row_end; ++by) {
      for (int bx = 0; bx < blocks_x; ++bx) {
        const size_t index = static_cast<size_t>(by) * blocks_x + bx;
        const Rect rect{bx * kBlock, by * kBlock, std::min(kBlock, full.width - bx * kBlock),
                        std::min(kBlock, full.height - by * kBlock)};
        // Half resolution: integer search from the best candidate.
        const Rect half_rect{rect.x0 / 2, rect.y0 / 2,
                             std::max(1, std::min(kBlock / 2, cur.half.width - rect.x0 / 2)),
                             std::max(1, std::min(kBlock / 2, cur.half.height - rect.y0 / 2))};
        const Range half_range =
            VectorRange(half_rect, cur.half.width + 1, cur.half.height + 1, kMaxVector / 2);
        int best_x = 0, best_y = 0;
        float best = IntegerCost(cur.half, ref.half, half_rect, 0, 0);
        auto consider = [&](int vx, int vy) {
          if (vx < half_range.x_lo || vx > half_range.x_hi || vy < half_range.y_lo ||
              vy > half_range.y_hi) {
            return;
          }
          const float cost = IntegerCost(cur.half, ref.half, half_rect, vx, vy);
          if (cost < best) {
            best = cost;
            best_x = vx;
            best_y = vy;
          }
        };
        auto consider_vector = [&](Vector v) {
          consider(static_cast<int>(std::lround(v.dx / 2)),
                   static_cast<int>(std::lround(v.dy / 2)));
        };
        if (!previous.empty()) consider_vector(previous[index]);
        if (!twice.empty()) consider_vector(Vector{2 * twice[index].dx, 2 * twice[index].dy});
        if (bx > 0) consider_vector((*field)[index - 1]);
        if (by > row_begin) consider_vector((*field)[index - blocks_x]);
        // Steepest descent over the 8 neighbours. A point of the previous
        // step's square was costed already and lost, so it is not costed again.
        int last_x = best_x, last_y = best_y;
        for (int step = 0; step < 16; ++step) {
          const int center_x = best_x, center_y = best_y;
          for (int dy = -1; dy <= 1; ++dy) {
            for (int dx = -1; dx <= 1; ++dx) {
              const int x = center_x + dx, y = center_y + dy;
              if (step > 0 && std::abs(x - last_x) <= 1 && std::abs(y - last_y) <= 1) continue;
              if (dx || dy) consider(x, y);
            }
          }
          if (best_x == center_x && best_y == center_y) break;
          last_x = center_x;
          last_y = center_y;
        }
        // Full resolution: integer, then half and quarter pixel.
        const Range range = VectorRange(rect, full.width, full.height, kMaxVector);
        if (range.x_lo > range.x_hi || range.y_lo > range.y_hi) {
          (*field)[index] = Vector{};
          continue;
        }
        Vector v{std::clamp(2.0f * best_x, static_cast<float>(range.x_lo),
                            static_cast<float>(range.x_hi)),
                 std::clamp(2.0f * best_y, static_cast<float>(range.y_lo),
                            static_cast<float>(range.y_hi))};
        float best_cost = FractionalCost(full, ref.smooth, rect, v);
        for (float step : {1.0f, 0.5f, 0.25f}) {
          Vector last = v;
          for (int round = 0; round < (step == 1.0f ? 2 : 1); ++round) {
            const Vector center = v;
            for (int dy = -1; dy <= 1; ++dy) {
              for (int dx = -1; dx <= 1; ++dx) {
                if (!dx && !dy) continue;
                const Vector candidate{center.dx + dx * step, center.dy + dy * step};
                if (round > 0 && std::abs(candidate.dx - last.dx) <= step &&
                    std::abs(candidate.dy - last.dy) <= step) {
                  continue;  // costed in the round before
                }
                if (candidate.dx < range.x_lo || candidate.dx > range.x_hi ||
                    candidate.dy < range.y_lo || candidate.dy > range.y_hi) {
                  continue;
                }
                const float cost = FractionalCost(full, ref.smooth, rect, candidate);
                if (cost < best_cost) {
                  best_cost = cost;
                  v = candidate;
                }
              }
            }
            if (v.dx == center.dx && v.dy == center.dy) break;
            last = center;
          }
        }
        (*field)[index] = v;
      }
    }
  };
  RunInHalves(blocks_y, true, search_rows);
}

// One block of Compensate, both passes. `src` holds the out_rows + kTaps − 1
// source rows the block needs, each pointing at its leftmost tap; the rows
// pass, rows[r][x] = Σ_i wx[i] src[r][x + i], goes into `rows` (kBlock
// apart), then the columns pass, out[y][x] = Σ_j wy[j] rows[y + j][x].
VIDMILL_INLINE void FilterBlockBody(const float* const* src, int out_rows, int width,
                                    const float* wx, const float* wy, int x, float* rows,
                                    float* const* out) {
  for (int r = 0; r < out_rows + kTaps - 1; ++r) {
    float* dst = rows + r * kBlock;
    for (int i = x; i < width; ++i) {
      float sum = wx[0] * src[r][i];
      for (int k = 1; k < kTaps; ++k) sum += wx[k] * src[r][i + k];
      dst[i] = sum;
    }
  }
  for (int y = 0; y < out_rows; ++y) {
    for (int i = x; i < width; ++i) {
      float sum = wy[0] * rows[y * kBlock + i];
      for (int k = 1; k < kTaps; ++k) sum += wy[k] * rows[(y + k) * kBlock + i];
      out[y][i] = sum;
    }
  }
}

void FilterBlockGeneric(const float* const* src, int out_rows, int width, const float* wx,
                        const float* wy, float* rows, float* const* out) {
  FilterBlockBody(src, out_rows, width, wx, wy, 0, rows, out);
}

// FilterBlockBody eight samples at a time (the same sums in the same order),
// the columns beyond the last multiple of eight by the body.
#if defined(__x86_64__) || defined(__i386__)
VIDMILL_AVX2 void FilterBlockAvx2(const float* const* src, int out_rows, int width, const float* wx,
                                  const float* wy, float* rows, float* const* out) {
  const int vector_width = width & ~7;
  __m256 wxv[kTaps], wyv[kTaps];
  for (int k = 0; k < kTaps; ++k) {
    wxv[k] = _mm256_set1_ps(wx[k]);
    wyv[k] = _mm256_set1_ps(wy[k]);
  }
  for (int r = 0; r < out_rows + kTaps - 1; ++r) {
    for (int i = 0; i < vector_width; i += 8) {
      __m256 sum = _mm256_mul_ps(wxv[0], _mm256_loadu_ps(src[r] + i));
      for (int k = 1; k < kTaps; ++k) {
        sum = _mm256_add_ps(sum, _mm256_mul_ps(wxv[k], _mm256_loadu_ps(src[r] + i + k)));
      }
      _mm256_storeu_ps(rows + r * kBlock + i, sum);
    }
  }
  for (int y = 0; y < out_rows; ++y) {
    for (int i = 0; i < vector_width; i += 8) {
      __m256 sum = _mm256_mul_ps(wyv[0], _mm256_loadu_ps(rows + y * kBlock + i));
      for (int k = 1; k < kTaps; ++k) {
        sum =
            _mm256_add_ps(sum, _mm256_mul_ps(wyv[k], _mm256_loadu_ps(rows + (y + k) * kBlock + i)));
      }
      _mm256_storeu_ps(out[y] + i, sum);
    }
  }
  if (vector_width < width) FilterBlockBody(src, out_rows, width, wx, wy, vector_width, rows, out);
}
#else
void FilterBlockAvx2(const float* const* src, int out_rows, int width, const float* wx,
                     const float* wy, float* rows, float* const* out) {
  FilterBlockGeneric(src, out_rows, width, wx, wy, rows, out);
}
#endif

}  // namespace

// TapWeights at one sharpness, tabulated at sixteenths of a sample (the
// vectors are in quarter luma samples, eighths of a subsampled chroma
// sample) once per picture; other fractions are computed.
struct Denoiser::CompensationTaps {
  static constexpr int kSteps = 16;
  float sharpness;
  float table[kSteps][kTaps];

  explicit CompensationTaps(float sharpness_value) : sharpness(sharpness_value) {
    for (int k = 0; k < kSteps; ++k)
      TapWeights(static_cast<float>(k) / kSteps, sharpness, table[k]);
  }
  void At(float t, float* w) const {
    const float step = t * kSteps;
    if (step == std::floor(step)) {
      std::copy_n(table[static_cast<int>(step)], kTaps, w);
    } else {
      TapWeights(t, sharpness, w);
    }
  }
};

namespace {

// `ref`'s plane moved along the field onto the current picture (`taps`,
// separable: rows first, then columns; positions outside the plane take its
// edge), rows [row_begin, row_end) of the plane.
void Compensate(const Image& ref, const std::vector<Vector>& field, int blocks_x, int shift_x,
                int shift_y, const Denoiser::CompensationTaps& taps, int row_begin, int row_end,
                Image* out) {
  const int block_w = kBlock >> shift_x, block_h = kBlock >> shift_y;
  if (row_begin >= row_end) return;
  const int plane_bx = (ref.width + block_w - 1) / block_w;
  constexpr int kMaxRows = kBlock + kTaps - 1;
  // The rows pass's output, and for blocks whose taps reach past the plane's
  // left or right edge, their source rows with the edge repeated.
  std::vector<float> rows(static_cast<size_t>(kMaxRows) * kBlock);
  std::vector<float> padded(static_cast<size_t>(kMaxRows) * (kBlock + kTaps - 1));
  const auto filter_block = UseAvx2() ? FilterBlockAvx2 : FilterBlockGeneric;
  for (int by = row_begin / block_h; by * block_h < row_end; ++by) {
    const int y_begin = std::max(row_begin, by * block_h);
    const int out_rows = std::min({row_end, (by + 1) * block_h, ref.height}) - y_begin;
    float* out_row[kBlock];
    for (int y = 0; y < out_rows; ++y) out_row[y] = out->Row(y_begin + y);
    for (int bx = 0; bx < plane_bx; ++bx) {
      const Vector& v = field[static_cast<size_t>(by) * blocks_x + bx];
      const float dx = v.dx / (1 << shift_x), dy = v.dy / (1 << shift_y);
      const int ix = static_cast<int>(std::floor(dx)), iy = static_cast<int>(std::floor(dy));
      float wx[kTaps], wy[kTaps];
      taps.At(dx - ix, wx);
      taps.At(dy - iy, wy);
      const int x0 = bx * block_w, width = std::min(block_w, ref.width - x0);
      const int left = x0 + ix - kTapsBefore, span = width + kTaps - 1;
      const int first = y_begin + iy - kTapsBefore;
      const float* src[kMaxRows];
      for (int r = 0; r < out_rows + kTaps - 1; ++r) {
        const float* row = ref.Row(std::clamp(first + r, 0, ref.height - 1));
        if (left >= 0 && left + span <= ref.width) {
          src[r] = row + left;
        } else {
          float* copy = padded.data() + static_cast<size_t>(r) * (kBlock + kTaps - 1);
          for (int i = 0; i < span; ++i) copy[i] = row[std::clamp(left + i, 0, ref.width - 1)];
          src[r] = copy;
        }
      }
      float* dst[kBlock];
      for (int y = 0; y < out_rows; ++y) dst[y] = out_row[y] + x0;
      filter_block(src, out_rows, width, wx, wy, rows.data(), dst);
    }
  }
}

// The 2-D DCT of the spatial stage and of the noise model: the orthonormal
// 8-point DCT-II by its even and odd halves (Chen's factorisation: 48
// operations instead of the matrix's 120), applied along the block's columns
// and then, after a transpose, along its rows. Eight lanes travel together —
// columns in the first pass, rows in the second — in a GCC vector of eight
// floats: AVX registers where the caller is compiled for AVX2, pairs of SSE
// registers in the portable build. Both run the same operations in the same
// order (no FMA contraction: neither build enables FMA), so they give the
// same pictures bit for bit.
typedef float Lanes8 __attribute__((vector_size(32)));
typedef int LaneMask8 __attribute__((vector_size(32)));

// sqrt(1/8); ½cos(π/8), ½cos(3π/8); kDctOdd[k][n] = ½cos((2n+1)(2k+1)π/16).
constexpr float kDctQ = 0.35355339059327378f;
constexpr float kDctE1 = 0.46193976625564337f, kDctE2 = 0.19134171618254492f;
constexpr float kDctOdd[4][4] = {
    {0.49039264020161522f, 0.41573480615127262f, 0.27778511650980114f, 0.09754516100806417f},
    {0.41573480615127262f, -0.09754516100806417f, -0.49039264020161522f, -0.27778511650980114f},
    {0.27778511650980114f, -0.49039264020161522f, 0.09754516100806417f, 0.41573480615127262f},
    {0.09754516100806417f, -0.27778511650980114f, 0.41573480615127262f, -0.49039264020161522f}};

// v[n] (sample n of eight signals, one per lane) → v[k] (their coefficient k).
VIDMILL_INLINE void Dct8(Lanes8 v[8]) {
  const Lanes8 s0 = v[0] + v[7], s1 = v[1] + v[6], s2 = v[2] + v[5], s3 = v[3] + v[4];
  const Lanes8 d[4] = {v[0] - v[7], v[1] - v[6], v[2] - v[5], v[3] - v[4]};
  const Lanes8 a0 = s0 + s3, a1 = s1 + s2, b0 = s0 - s3, b1 = s1 - s2;
  v[0] = (a0 + a1) * kDctQ;
  v[4] = (a0 - a1) * kDctQ;
  v[2] = b0 * kDctE1 + b1 * kDctE2;
  v[6] = b0 * kDctE2 - b1 * kDctE1;
  for (int k = 0; k < 4; ++k) {
    v[2 * k + 1] = (d[0] * kDctOdd[k][0] + d[1] * kDctOdd[k][1]) +
                   (d[2] * kDctOdd[k][2] + d[3] * kDctOdd[k][3]);
  }
}

// The inverse of Dct8.
VIDMILL_INLINE void Idct8(Lanes8 v[8]) {
  const Lanes8 t0 = (v[0] + v[4]) * kDctQ, t1 = (v[0] - v[4]) * kDctQ;
  const Lanes8 r0 = v[2] * kDctE1 + v[6] * kDctE2, r1 = v[2] * kDctE2 - v[6] * kDctE1;
  const Lanes8 even[4] = {t0 + r0, t1 + r1, t1 - r1, t0 - r0};
  Lanes8 odd[4];
  for (int n = 0; n < 4; ++n) {
    odd[n] = (v[1] * kDctOdd[0][n] + v[3] * kDctOdd[1][n]) +
             (v[5] * kDctOdd[2][n] + v[7] * kDctOdd[3][n]);
  }
  for (int n = 0; n < 4; ++n) {
    v[n] = even[n] + odd[n];
    v[7 - n] = even[n] - odd[n];
  }
}

// r[i][j] ↔ r[j][i] (the unpack / shuffle / lane-swap ladder of AVX).
VIDMILL_INLINE void Transpose8(Lanes8 r[8]) {
  Lanes8 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[2 * i + 1] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
    u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
    u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    r[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

// The 2-D DCT of an 8×8 block (the noise model's).
void ForwardDct(const float block[8][8], float coef[8][8]) {
  Lanes8 rows[8];
  __builtin_memcpy(rows, block, sizeof rows);
  Dct8(rows);
  Transpose8(rows);
  Dct8(rows);  // rows[u][v]: coefficient (v, u)
  Transpose8(rows);
  __builtin_memcpy(coef, rows, sizeof rows);
}

// The spatial stage's thresholds, transposed for the shrinkage: by_u[u][v] is
// threshold (v, u) in units of the block's noise RMS; the DC's is 0 (always
// kept).
struct ShrinkThresholds {
  Lanes8 by_u[8];
  explicit ShrinkThresholds(const float threshold[8][8]) {
    for (int u = 0; u < 8; ++u) {
      for (int v = 0; v < 8; ++v) by_u[u][v] = u == 0 && v == 0 ? 0.0f : threshold[v][u];
    }
  }
};

// Hard-thresholds one 8×8 block in place: coefficient (v, u) is kept when
// |c| ≥ scale × threshold (v, u). Returns the number of kept coefficients.
VIDMILL_INLINE int ShrinkBlockBody(float block[8][8], const ShrinkThresholds& thresholds,
                                   float scale) {
  Lanes8 rows[8];
  __builtin_memcpy(rows, block, sizeof rows);
  Dct8(rows);
  Transpose8(rows);
  Dct8(rows);  // rows[u][v]: coefficient (v, u)
  LaneMask8 kept = {};
  for (int u = 0; u < 8; ++u) {
    const Lanes8 magnitude = rows[u] < 0 ? -rows[u] : rows[u];
    const LaneMask8 keep = magnitude >= thresholds.by_u[u] * scale;
    rows[u] = reinterpret_cast<Lanes8>(reinterpret_cast<LaneMask8>(rows[u]) & keep);
    kept -= keep;  // a kept lane is −1
  }
  Idct8(rows);
  Transpose8(rows);
  Idct8(rows);
  __builtin_memcpy(block, rows, sizeof rows);
  return ((kept[0] + kept[1]) + (kept[2] + kept[3])) + ((kept[4] + kept[5]) + (kept[6] + kept[7]));
}

VIDMILL_AVX2 int ShrinkBlockAvx2(float block[8][8], const ShrinkThresholds& thresholds,
                                 float scale) {
  return ShrinkBlockBody(block, thresholds, scale);
}
int ShrinkBlock(float block[8][8], const ShrinkThresholds& thresholds, float scale) {
  return ShrinkBlockBody(block, thresholds, scale);
}

// Copies the 8×8 block at (x0, y0) of `in` and returns the sum of `residual`
// over it (eight lanes, one per column, so both builds add in one order).
VIDMILL_INLINE float GatherBlockBody(const Image& in, const Image& residual, int x0, int y0,
                                     float block[8][8]) {
  float lanes[8] = {};
  for (int j = 0; j < 8; ++j) {
    const float* src = in.Row(y0 + j) + x0;
    const float* res = residual.Row(y0 + j) + x0;
    for (int i = 0; i < 8; ++i) {
      block[j][i] = src[i];
      lanes[i] += res[i];
    }
  }
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// Adds w × rows [j_begin, j_end) of the block into the sums and w into the
// weights; `acc` and `weight` point at row j_begin's, rows `stride` apart.
VIDMILL_INLINE void AccumulateBlockBody(const float block[8][8], float w, int j_begin, int j_end,
                                        int stride, float* acc, float* weight) {
  for (int j = j_begin; j < j_end; ++j) {
    float* a = acc + static_cast<ptrdiff_t>(j - j_begin) * stride;
    float* s = weight + static_cast<ptrdiff_t>(j - j_begin) * stride;
    for (int i = 0; i < 8; ++i) {
      a[i] += w * block[j][i];
      s[i] += w;
    }
  }
}

VIDMILL_AVX2 float GatherBlockAvx2(const Image& in, const Image& residual, int x0, int y0,
                                   float block[8][8]) {
  return GatherBlockBody(in, residual, x0, y0, block);
}
float GatherBlockGeneric(const Image& in, const Image& residual, int x0, int y0,
                         float block[8][8]) {
  return GatherBlockBody(in, residual, x0, y0, block);
}
VIDMILL_AVX2 void AccumulateBlockAvx2(const float block[8][8], float w, int j_begin, int j_end,
                                      int stride, float* acc, float* weight) {
  AccumulateBlockBody(block, w, j_begin, j_end, stride, acc, weight);
}
void AccumulateBlockGeneric(const float block[8][8], float w, int j_begin, int j_end, int stride,
                            float* acc, float* weight) {
  AccumulateBlockBody(block, w, j_begin, j_end, stride, acc, weight);
}

// Block positions 0, kStride, … and the last one flush with the edge.
std::vector<int> BlockStarts(int size) {
  std::vector<int> starts;
  for (int p = 0; p + 8 <= size; p += kStride) starts.push_back(p);
  if (!starts.empty() && starts.back() + 8 < size) starts.push_back(size - 8);
  return starts;
}

// Spatial stage on rows [row_begin, row_end): `in` denoised by overlapping DCT
// shrinkage into `out`. A block's coefficient (v, u) is dropped below
// its threshold × the RMS over the block of `residual` (the noise variance
// left per sample).
void SpatialRows(const Image& in, const Image& residual, const ShrinkThresholds& thresholds,
                 int row_begin, int row_end, std::vector<float>* acc_buffer,
                 std::vector<float>* weight_buffer, Image* out) {
  if (in.width < 8 || in.height < 8) {
    for (int y = row_begin; y < row_end; ++y)
      std::copy(in.Row(y), in.Row(y) + in.width, out->Row(y));
    return;
  }
  const std::vector<int> xs = BlockStarts(in.width), ys = BlockStarts(in.height);
  const int rows = row_end - row_begin;
  std::vector<float>& acc = *acc_buffer;
  std::vector<float>& weight = *weight_buffer;
  acc.assign(static_cast<size_t>(rows) * in.width, 0.0f);
  weight.assign(acc.size(), 0.0f);
  float block[8][8];
  for (int y0 : ys) {
    if (y0 + 8 <= row_begin || y0 >= row_end) continue;
    const int j_begin = std::max(row_begin - y0, 0), j_end = std::min(row_end - y0, 8);
    // The sums' row of the block's row j_begin.
    const size_t first = static_cast<size_t>(y0 + j_begin - row_begin) * in.width;
    float* acc_row = acc.data() + first;
    float* weight_row = weight.data() + first;
    for (int x0 : xs) {
      const float variance = UseAvx2() ? GatherBlockAvx2(in, residual, x0, y0, block)
                                       : GatherBlockGeneric(in, residual, x0, y0, block);
      const float scale = std::sqrt(variance / 64);
      const int kept = UseAvx2() ? ShrinkBlockAvx2(block, thresholds, scale)
                                 : ShrinkBlock(block, thresholds, scale);
      const float w = 1.0f / (1 + kept);
      if (UseAvx2()) {
        AccumulateBlockAvx2(block, w, j_begin, j_end, in.width, acc_row + x0, weight_row + x0);
      } else {
        AccumulateBlockGeneric(block, w, j_begin, j_end, in.width, acc_row + x0, weight_row + x0);
      }
    }
  }
  for (int y = row_begin; y < row_end; ++y) {
    const float* a = acc.data() + static_cast<size_t>(y - row_begin) * in.width;
    const float* s = weight.data() + static_cast<size_t>(y - row_begin) * in.width;
    float* dst = out->Row(y);
    for (int x = 0; x < in.width; ++x) dst[x] = a[x] / s[x];
  }
}

// The mean squared difference of `center` and `aligned` over the 8×8 block at
// (x0, y0).
float BlockMsd(const Image& center, const Image& aligned, int x0, int y0) {
  float msd = 0;
  for (int j = 0; j < 8; ++j) {
    const float* c = center.Row(y0 + j) + x0;
    const float* a = aligned.Row(y0 + j) + x0;
    for (int i = 0; i < 8; ++i) msd += (c[i] - a[i]) * (c[i] - a[i]);
  }
  return msd / 64;
}

// The intensity bin (bins `bin_width` wide) of `intensity`.
int IntensityBin(float intensity, float bin_width) {
  return std::clamp(static_cast<int>(intensity / bin_width), 0, kBins - 1);
}

// The luma (full resolution) at the centre of the 8×8 block at (x0, y0) of a
// plane subsampled by (shift_x, shift_y).
float BlockCentreLuma(const Image& luma, int x0, int y0, int shift_x, int shift_y) {
  return luma.Clamped(((x0 + 4) << shift_x), ((y0 + 4) << shift_y));
}

// Each block's value (values[0]) into the list of its bin (values[1]).
void SplitByBin(const std::vector<std::vector<float>>& values, std::vector<float> per_bin[kBins]) {
  for (size_t b = 0; b < values[0].size(); ++b) {
    per_bin[static_cast<int>(values[1][b])].push_back(values[0][b]);
  }
}

// The brightness drift from `aligned` to `center` — film flicker, exposure
// changes — per intensity bin: the median over the 8×8 blocks of the
// difference of their means (blocks that motion did not explain are the
// minority). A block's bin is its intensity in `luma` (full resolution) for a
// chroma plane, the mean of both blocks for the luma (`is_luma`). Bins with
// fewer than 16 blocks take the median of all; no drift when the plane has
// fewer than 16 blocks.
void EstimateDrift(const Image& center, const Image& aligned, bool is_luma, const Image& luma,
                   int shift_x, int shift_y, float bin_width, float offset[kBins]) {
  // Per block: the difference of the means, and its intensity bin.
  std::vector<std::vector<float>> blocks =
      BlockValues(2, center.width, center.height, [&](int x0, int y0, float* out) {
        float sum_c, sum_a;
        BlockSums(center, aligned, x0, y0, &sum_c, &sum_a);
        // The luma's blocks are binned by the mean of both pictures: binned
        // by the current picture alone, its own noise would decide the bin
        // (dark bins collect the blocks whose noise is negative) and the
        // medians would see a drift that is not there.
        const float intensity =
            is_luma ? (sum_c + sum_a) / 128 : BlockCentreLuma(luma, x0, y0, shift_x, shift_y);
        out[0] = (sum_c - sum_a) / 64;
        out[1] = static_cast<float>(IntensityBin(intensity, bin_width));
      });
  const std::vector<float>& all = blocks[0];
  std::vector<float> per_bin[kBins];
  SplitByBin(blocks, per_bin);
  // A median is kept only when it stands out of its own uncertainty (3 ×
  // 1.4826 × the median absolute deviation / √n): without drift the estimate
  // is noise, which heavy or grainy noise made large enough to cost 0.1–0.2
  // dB on the training clips.
  auto significant_median = [](std::vector<float> values) {
    if (values.size() < kMinBlocks) return std::numeric_limits<float>::quiet_NaN();
    const float middle = Median(values);
    for (float& value : values) value = std::abs(value - middle);
    const float uncertainty =
        3 * 1.4826f * Median(values) / std::sqrt(static_cast<float>(values.size()));
    return std::abs(middle) > uncertainty ? middle : 0.0f;
  };
  float overall = significant_median(all);
  if (std::isnan(overall)) overall = 0;
  for (int bin = 0; bin < kBins; ++bin) {
    offset[bin] = significant_median(per_bin[bin]);
    if (std::isnan(offset[bin])) offset[bin] = overall;
  }
}

// kVarianceFactor × the median of a plane's per-block values (BlockValues);
// −1 when the plane has fewer than kMinBlocks.
float LevelOverBlocks(std::vector<float> values) {
  if (values.size() < kMinBlocks) return -1;
  return kVarianceFactor * Median(std::move(values));
}

// How well each of `aligned` matches `center`: over the blocks, their mean
// squared difference (LevelOverBlocks), the noise variance it would imply
// (EstimateNoiseModel's overall level).
std::vector<float> MatchLevels(const Image& center, const std::vector<Image>& aligned,
                               size_t count) {
  std::vector<std::vector<float>> msd =
      BlockValues(count, center.width, center.height, [&](int x0, int y0, float* out) {
        for (size_t k = 0; k < count; ++k) out[k] = BlockMsd(center, aligned[k], x0, y0);
      });
  std::vector<float> levels;
  for (std::vector<float>& values : msd) levels.push_back(LevelOverBlocks(std::move(values)));
  return levels;
}

// The same for the difference's detail: per block the variance of
// center − gain × aligned (its mean square less its squared mean). With the
// brightness ratio for `gain`, flicker and fades change it only through the
// noise: not at all where they scaled the noise with the picture (a fade made
// in editing), by (1 + gain²) / 2 where the noise came after them.
float DetailLevel(const Image& center, const Image& aligned, float gain) {
  return LevelOverBlocks(BlockValues(center.width, center.height, [&](int x0, int y0) {
    float sum = 0, squares = 0;
    for (int j = 0; j < 8; ++j) {
      const float* c = center.Row(y0 + j) + x0;
      const float* a = aligned.Row(y0 + j) + x0;
      for (int i = 0; i < 8; ++i) {
        const float d = c[i] - gain * a[i];
        sum += d;
        squares += d * d;
      }
    }
    const float mean = sum / 64;
    return squares / 64 - mean * mean;
  }));
}

// Estimates the noise of `center` from its difference to `aligned` (the
// nearest neighbour moved onto it): per 8×8 block the mean squared difference
// and the mean luma (`luma`, at full resolution); per intensity bin the median
// over the blocks is taken as twice the noise variance (blocks that motion did
// not explain are the minority and do not move the median much); the spectrum
// shape is the mean DCT power of the difference over the blocks at or below
// their bin's median. Bins with few blocks take the median of all. Works for
// spatially correlated and intensity-dependent noise (film grain), which a
// single-picture estimate misjudges. False when the plane has too few blocks
// (the caller then assumes white noise).
bool EstimateNoiseModel(const Image& center, const Image& aligned, const Image& luma, int shift_x,
                        int shift_y, NoiseModel* out) {
  NoiseModel& model = *out;
  // Per block: the mean squared difference, and the bin of its luma.
  const std::vector<std::vector<float>> blocks =
      BlockValues(2, center.width, center.height, [&](int x0, int y0, float* out) {
        out[0] = BlockMsd(center, aligned, x0, y0);
        out[1] = static_cast<float>(
            IntensityBin(BlockCentreLuma(luma, x0, y0, shift_x, shift_y), model.bin_width));
      });
  const std::vector<float>& msd = blocks[0];
  const std::vector<float>& bins = blocks[1];
  if (msd.size() < kMinBlocks) return false;
  const int across = center.width / 8;
  std::vector<float> per_bin[kBins];
  SplitByBin(blocks, per_bin);
  const float overall = Median(msd);
  float bin_median[kBins];
  for (int bin = 0; bin < kBins; ++bin) {
    bin_median[bin] = per_bin[bin].size() >= kMinBlocks ? Median(per_bin[bin]) : overall;
    model.variance[bin] = kVarianceFactor * bin_median[bin];
  }
  // The DCT power of the blocks at or below their bin's median, summed by
  // each half of the block rows on its own thread, then the two sums added
  // (an order that may change the shape's last bits against one running sum;
  // no picture changed in the checks of docs/filters.md, "Both cores kept
  // busy").
  double power[2][8][8] = {};
  size_t used[2] = {};
  const int down = center.height / 8;
  RunInHalves(down, true, [&](int begin, int end) {
    const int half = begin == 0 ? 0 : 1;
    for (size_t b = static_cast<size_t>(begin) * across; b < static_cast<size_t>(end) * across;
         ++b) {
      if (msd[b] > bin_median[static_cast<int>(bins[b])]) continue;
      const int x0 = static_cast<int>(b % across) * 8, y0 = static_cast<int>(b / across) * 8;
      float diff[8][8], coef[8][8];
      for (int j = 0; j < 8; ++j) {
        const float* c = center.Row(y0 + j) + x0;
        const float* a = aligned.Row(y0 + j) + x0;
        for (int i = 0; i < 8; ++i) diff[j][i] = c[i] - a[i];
      }
      ForwardDct(diff, coef);
      for (int v = 0; v < 8; ++v) {
        for (int u = 0; u < 8; ++u) power[half][v][u] += coef[v][u] * coef[v][u];
      }
      ++used[half];
    }
  });
  double total = 0;
  for (int v = 0; v < 8; ++v) {
    for (int u = 0; u < 8; ++u) {
      power[0][v][u] += power[1][v][u];
      total += power[0][v][u];
    }
  }
  if (used[0] + used[1] < kMinBlocks || total <= 0) return false;
  for (int v = 0; v < 8; ++v) {
    for (int u = 0; u < 8; ++u) model.shape[v][u] = static_cast<float>(64 * power[0][v][u] / total);
  }
  return true;
}

void FuseRowGeneric(int x_begin, int width, size_t count, const float* center,
                    const float* const* aligned, const float* const* distance,
                    const float* variance, float* out, float* residual) {
  const float slope = 1.0f / (kZeroWeightZ - kFullWeightZ);
  for (int x = x_begin; x < width; ++x) {
    const float inv_noise = 0.5f / std::max(variance[x], 1e-6f);
    float sum = center[x], total = 1, total_squared = 1;
    for (size_t k = 0; k < count; ++k) {
      const float w =
          std::min(std::max((kZeroWeightZ - distance[k][x] * inv_noise) * slope, 0.0f), 1.0f);
      sum += w * aligned[k][x];
      total += w;
      total_squared += w * w;
    }
    out[x] = sum / total;
    residual[x] = variance[x] * total_squared / (total * total);
  }
}

#if defined(__x86_64__) || defined(__i386__)
VIDMILL_AVX2 void FuseRowAvx2(int width, size_t count, const float* center,
                              const float* const* aligned, const float* const* distance,
                              const float* variance, float* out, float* residual) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  const __m256 half = _mm256_set1_ps(0.5f), tiny = _mm256_set1_ps(1e-6f);
  const __m256 zero_z = _mm256_set1_ps(kZeroWeightZ);
  const __m256 slope = _mm256_set1_ps(1.0f / (kZeroWeightZ - kFullWeightZ));
  int x = 0;
  for (; x + 8 <= width; x += 8) {
    const __m256 var = _mm256_loadu_ps(variance + x);
    const __m256 inv_noise = _mm256_div_ps(half, _mm256_max_ps(var, tiny));
    __m256 sum = _mm256_loadu_ps(center + x), total = one, total_squared = one;
    for (size_t k = 0; k < count; ++k) {
      const __m256 z = _mm256_mul_ps(_mm256_loadu_ps(distance[k] + x), inv_noise);
      const __m256 w =
          _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_sub_ps(zero_z, z), slope), zero), one);
      sum = _mm256_add_ps(sum, _mm256_mul_ps(w, _mm256_loadu_ps(aligned[k] + x)));
      total = _mm256_add_ps(total, w);
      total_squared = _mm256_add_ps(total_squared, _mm256_mul_ps(w, w));
    }
    _mm256_storeu_ps(out + x, _mm256_div_ps(sum, total));
    _mm256_storeu_ps(residual + x,
                     _mm256_div_ps(_mm256_mul_ps(var, total_squared), _mm256_mul_ps(total, total)));
  }
  FuseRowGeneric(x, width, count, center, aligned, distance, variance, out, residual);
}
#endif

// One row of the temporal fusion: out = (c + Σ w_k a_k) / (1 + Σ w_k) with w_k
// from z = distance_k / (2 variance) (1 below kFullWeightZ, 0 above
// kZeroWeightZ); residual = variance × (1 + Σ w_k²) / (1 + Σ w_k)², the noise
// variance left if the aligned samples' noise were independent.
void FuseRow(int width, size_t count, const float* center, const float* const* aligned,
             const float* const* distance, const float* variance, float* out, float* residual) {
#if defined(__x86_64__) || defined(__i386__)
  if (UseAvx2()) {
    FuseRowAvx2(width, count, center, aligned, distance, variance, out, residual);
    return;
  }
#endif
  FuseRowGeneric(0, width, count, center, aligned, distance, variance, out, residual);
}

#if defined(__x86_64__) || defined(__i386__)
// The interior of SquaredDifferences; returns where it stopped.
VIDMILL_AVX2 int SquaredDifferencesAvx2(const float* c, const float* a, int width, float* d) {
  int x = 0;
  for (; x + 8 <= width; x += 8) {
    const __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(a + x), _mm256_loadu_ps(c + x));
    _mm256_storeu_ps(d + x, _mm256_mul_ps(diff, diff));
  }
  return x;
}
#endif

// d[x] = (a[x] − c[x])² for x in [0, width), eight at a time with AVX2.
void SquaredDifferences(const float* c, const float* a, int width, float* d) {
  int x = 0;
#if defined(__x86_64__) || defined(__i386__)
  if (UseAvx2()) x = SquaredDifferencesAvx2(c, a, width, d);
#endif
  for (; x < width; ++x) d[x] = (a[x] - c[x]) * (a[x] - c[x]);
}

// One row of the 3×3 mean from `x` on: the vertical sums of rows up, mid and
// down into `line` (samples [sum_from, width)), then the horizontal means of
// `line` into dst (samples [mean_from, width − 1)) and the right edge
// (clamped). The scalar part of BoxRows, after the AVX2 interior.
void BoxRowTail(const float* up, const float* mid, const float* down, int width, int sum_from,
                int mean_from, float* line, float* dst) {
  for (int x = sum_from; x < width; ++x) line[x] = up[x] + mid[x] + down[x];
  const int last = width - 1;
  dst[0] = (line[0] + line[0] + line[std::min(1, last)]) * (1.0f / 9);
  for (int x = std::max(mean_from, 1); x < last; ++x) {
    dst[x] = (line[x - 1] + line[x] + line[x + 1]) * (1.0f / 9);
  }
  if (last > 0) dst[last] = (line[last - 1] + line[last] + line[last]) * (1.0f / 9);
}

#if defined(__x86_64__) || defined(__i386__)
// BoxRowTail's sums eight at a time, in its order (the same sums bit for bit);
// the means of a row's interior after all of its sums.
VIDMILL_AVX2 void BoxRowAvx2(const float* up, const float* mid, const float* down, int width,
                             float* line, float* dst) {
  int x = 0;
  for (; x + 8 <= width; x += 8) {
    const __m256 sum =
        _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(up + x), _mm256_loadu_ps(mid + x)),
                      _mm256_loadu_ps(down + x));
    _mm256_storeu_ps(line + x, sum);
  }
  for (int i = x; i < width; ++i) line[i] = up[i] + mid[i] + down[i];
  const __m256 ninth = _mm256_set1_ps(1.0f / 9);
  int m = 1;
  for (; m + 8 <= width - 1; m += 8) {
    const __m256 sum =
        _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(line + m - 1), _mm256_loadu_ps(line + m)),
                      _mm256_loadu_ps(line + m + 1));
    _mm256_storeu_ps(dst + m, _mm256_mul_ps(sum, ninth));
  }
  BoxRowTail(up, mid, down, width, width, m, line, dst);
}
#endif

// 3×3 mean of a plane, rows [row_begin, row_end), edges clamped.
void BoxRows(const Image& in, int row_begin, int row_end, Image* out) {
  std::vector<float> line(static_cast<size_t>(in.width));
  for (int y = row_begin; y < row_end; ++y) {
    const float* up = in.Row(std::max(y - 1, 0));
    const float* mid = in.Row(y);
    const float* down = in.Row(std::min(y + 1, in.height - 1));
#if defined(__x86_64__) || defined(__i386__)
    if (UseAvx2()) {
      BoxRowAvx2(up, mid, down, in.width, line.data(), out->Row(y));
      continue;
    }
#endif
    BoxRowTail(up, mid, down, in.width, 0, 1, line.data(), out->Row(y));
  }
}

}  // namespace

double EstimateNoiseSigma(const PlaneView& plane) {
  Image image;
  ToImage(plane, &image);
  return EstimateSigma(image);
}

namespace {

// Interlaced video kept interlaced: each field is a picture of its own, and
// the two field streams are denoised separately (a field's temporal
// neighbours are the same-parity fields), so moving areas never mix the two
// field times. Both field denoisers take pictures of the top field's size
// (`field_format`); where a plane's height is odd its bottom field is a row
// shorter, and goes in with its last row repeated (taken off again on the way
// out).
class FieldDenoiser final : public VideoFilter {
 public:
  FieldDenoiser(const FilterConfig& config, const PixelFormat& field_format,
                std::unique_ptr<VideoFilter> top, std::unique_ptr<VideoFilter> bottom)
      : config_(config), field_format_(field_format), extended_(field_format) {
    fields_[0] = std::move(top);
    fields_[1] = std::move(bottom);
  }

  Status Push(const FrameView& in, int64_t pts) override {
    if (!(in.format == config_.input)) {
      return Status::InvalidArgument("denoise: frame format differs from the configured input");
    }
    for (int parity = 0; parity < 2; ++parity) {
      FrameView field = FieldOf(in, parity);
      if (!FitsFieldFormat(field)) {
        for (int plane = 0; plane < 3; ++plane) {
          CopyRowsExtending(field.planes[plane], extended_.plane(plane));
        }
        field = extended_.view();
      }
      field.format = field_format_;
      RETURN_IF_ERROR(fields_[parity]->Push(field, pts));
    }
    return Status::Ok();
  }
  Status Pull(std::vector<OwnedFrame>* out) override {
    std::vector<OwnedFrame> fields[2];
    for (int parity = 0; parity < 2; ++parity)
      RETURN_IF_ERROR(fields_[parity]->Pull(&fields[parity]));
    if (fields[0].size() != fields[1].size()) {
      return Status::Internal("denoise: the two field streams fell out of step");
    }
    for (size_t index = 0; index < fields[0].size(); ++index) {
      OwnedFrame frame = OwnedFrame::ForOverwrite(config_.input);
      frame.pts = fields[0][index].pts;
      for (int parity = 0; parity < 2; ++parity) {
        const FrameView field = FieldOf(frame.view(), parity);
        for (int plane = 0; plane < 3; ++plane) {
          CopyRowsExtending(fields[parity][index].plane(plane), field.planes[plane]);
        }
      }
      out->push_back(std::move(frame));
    }
    return Status::Ok();
  }
  Status Flush() override {
    for (auto& field : fields_) RETURN_IF_ERROR(field->Flush());
    return Status::Ok();
  }
  PixelFormat output_format() const override { return config_.input; }

 private:
  bool FitsFieldFormat(const FrameView& field) const {
    for (int plane = 0; plane < 3; ++plane) {
      if (field.planes[plane].height != field_format_.PlaneHeight(plane)) return false;
    }
    return true;
  }

  FilterConfig config_;
  PixelFormat field_format_;
  OwnedFrame extended_;  // a short bottom field, its last rows repeated
  std::unique_ptr<VideoFilter> fields_[2];
};

}  // namespace

Result<std::unique_ptr<VideoFilter>> Denoiser::Create(const FilterConfig& config) {
  RETURN_IF_ERROR(config.input.Validate());
  ChooseLoops();
  RETURN_IF_ERROR(CheckProperties(config, "denoise", {"sigma", "strength", "interlaced"}));
  ASSIGN_OR_RETURN(double sigma, DoubleProperty(config, "denoise", "sigma", 0.0, 0.0, 100.0));
  ASSIGN_OR_RETURN(double strength, DoubleProperty(config, "denoise", "strength", 1.0, 0.0, 4.0));
  ASSIGN_OR_RETURN(double interlaced, DoubleProperty(config, "denoise", "interlaced", 0, 0, 1));
  // Field mode needs a row of each field in every plane (the field pictures
  // take the top field's size).
  const int min_height = ChromaShiftY(config.input.chroma) ? 3 : 2;
  if (interlaced == 1 && config.input.height >= min_height) {
    FilterConfig field_config = config;
    field_config.properties.erase("interlaced");
    field_config.input.height = (config.input.height + 1) / 2;
    ASSIGN_OR_RETURN(auto top, Create(field_config));
    ASSIGN_OR_RETURN(auto bottom, Create(field_config));
    return std::unique_ptr<VideoFilter>(
        new FieldDenoiser(config, field_config.input, std::move(top), std::move(bottom)));
  }
  sigma *= config.input.max_value() / 255.0;
  return std::unique_ptr<VideoFilter>(new Denoiser(config, sigma, strength));
}

Denoiser::Denoiser(const FilterConfig& config, double sigma, double strength)
    : config_(config),
      fixed_sigma_(sigma),
      strength_(strength),
      workspace_(std::make_unique<Workspace>()) {}

Denoiser::~Denoiser() = default;

Status Denoiser::Push(const FrameView& in, int64_t pts) {
  if (flushed_) return Status::InvalidArgument("denoise: Push after Flush");
  if (!(in.format == config_.input)) {
    return Status::InvalidArgument("denoise: frame format differs from the configured input");
  }
  std::unique_ptr<Picture> picture;
  if (!spare_.empty()) {
    picture = std::move(spare_.back());
    spare_.pop_back();
  } else {
    picture = std::make_unique<Picture>();
  }
  picture->pts = pts;
  Picture* p = picture.get();
  for (int plane = 0; plane < 3; ++plane) {
    p->planes[plane].Resize(in.planes[plane].width, in.planes[plane].height);
  }
  const int width = in.planes[0].width, height = in.planes[0].height;
  Image& across = workspace_->smooth_rows;
  across.Resize(width, height);
  p->smooth.Resize(width, height);
  p->half.Resize((width + 1) / 2, (height + 1) / 2);
  // Each thread converts its half of every plane's rows and smooths its
  // luma rows across; then each smooths down and halves its half of the
  // half-size rows (the luma rows they need). Split by plane instead, one
  // thread would make the luma and the other only the chroma, a third of the
  // work.
  RunInHalves(height, true, [&](int begin, int end) {
    ToImageRows(in.planes[0], begin, end, &p->planes[0]);
    SmoothAcross(p->planes[0], begin, end, &across);
    for (int plane = 1; plane < 3; ++plane) {
      const int rows = in.planes[plane].height;
      ToImageRows(in.planes[plane], begin == 0 ? 0 : rows / 2, end == height ? rows : rows / 2,
                  &p->planes[plane]);
    }
  });
  RunInHalves(p->half.height, true, [&](int begin, int end) {
    SmoothDownAndHalve(across, begin, end, &p->smooth, &p->half);
  });
  window_.push_back(std::move(picture));
  while (current_ + kRadius < window_.size()) {
    EmitCurrent();
    ++current_;
    while (current_ > static_cast<size_t>(kRadius)) {
      spare_.push_back(std::move(window_.front()));
      window_.pop_front();
      --current_;
    }
  }
  return Status::Ok();
}

Status Denoiser::Pull(std::vector<OwnedFrame>* out) { return MoveReadyFrames(&ready_, out); }

Status Denoiser::Flush() {
  if (flushed_) return Status::Ok();
  flushed_ = true;
  while (current_ < window_.size()) {
    EmitCurrent();
    ++current_;
  }
  window_.clear();
  current_ = 0;
  return Status::Ok();
}

// A neighbour of the current picture: where it sits, and how it moved.
struct Denoiser::Neighbour {
  int slot;  // index into previous_fields_: offsets −2, −1, +1, +2
  const Picture* picture;
  std::vector<Vector> field;
  bool flickers = false;  // its brightness differs from this picture's by over 1 %
  float ratio = 1;        // this picture's brightness over the neighbour's
};

std::vector<Denoiser::Neighbour> Denoiser::FindNeighbours(const Picture& cur) {
  const int blocks_x = (config_.input.width + kBlock - 1) / kBlock;
  const int blocks_y = (config_.input.height + kBlock - 1) / kBlock;
  // Nearest first, so that the far ones can start from twice the near one's
  // vectors.
  std::vector<Neighbour> neighbours;
  for (int offset : {-1, 1, -2, 2}) {
    const ptrdiff_t index = static_cast<ptrdiff_t>(current_) + offset;
    if (index < 0 || index >= static_cast<ptrdiff_t>(window_.size())) continue;
    const int slot = offset < 0 ? offset + 2 : offset + 1;
    const std::vector<Vector>* twice = nullptr;
    for (const Neighbour& near : neighbours) {
      if (std::abs(offset) == 2 && near.slot == (offset < 0 ? 1 : 2)) twice = &near.field;
    }
    Neighbour neighbour{slot, window_[index].get(), {}};
    std::vector<Vector>& previous = previous_fields_[slot];
    if (previous.size() != static_cast<size_t>(blocks_x) * blocks_y) previous.clear();
    // Flicker: when the neighbour's brightness differs from this picture's
    // by more than 1 %, the search compares a copy of its luma images scaled
    // to this picture's brightness (and the fusion takes out the remaining
    // drift, below). Below 1 % nothing changes.
    const Picture* search_ref = neighbour.picture;
    const float ratio = BrightnessRatio(cur.half, neighbour.picture->half);
    neighbour.flickers = std::abs(ratio - 1) > kFlicker;
    neighbour.ratio = ratio;
    if (neighbour.flickers) {
      Picture& scaled = workspace_->flicker_ref;
      ScaledCopy(neighbour.picture->smooth, ratio, &scaled.smooth);
      ScaledCopy(neighbour.picture->half, ratio, &scaled.half);
      search_ref = &scaled;
    }
    EstimateMotion(cur, *search_ref, previous, twice ? *twice : std::vector<Vector>{}, blocks_x,
                   blocks_y, &neighbour.field);
    neighbours.push_back(std::move(neighbour));
  }
  for (int slot = 0; slot < 4; ++slot) previous_fields_[slot].clear();
  for (const Neighbour& neighbour : neighbours) previous_fields_[neighbour.slot] = neighbour.field;
  return neighbours;
}

namespace {

// IntensityLevels (below) for samples [x, width) of row `intensity` (every
// 2^shift_x-th sample of it, the last one repeated past its end).
void IntensityLevelsFrom(const float* intensity, int intensity_width, int x, int width, int shift_x,
                         float lut_scale, uint8_t* levels) {
  for (; x < width; ++x) {
    const float level = intensity[std::min(x << shift_x, intensity_width - 1)];
    levels[x] = static_cast<uint8_t>(std::clamp(static_cast<int>(level * lut_scale), 0, 255));
  }
}

#if defined(__x86_64__) || defined(__i386__)
// The interior of IntensityLevels, eight samples at a time (the same
// multiplication and truncation); returns where it stopped.
VIDMILL_AVX2 int IntensityLevelsAvx2(const float* intensity, int intensity_width, int width,
                                     int shift_x, float lut_scale, uint8_t* levels) {
  if (shift_x > 1) return 0;
  const __m256 scale = _mm256_set1_ps(lut_scale);
  const __m256i zero = _mm256_setzero_si256(), top = _mm256_set1_epi32(255);
  const __m256i evens = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  int x = 0;
  // Source samples x << shift_x … (x + 7) << shift_x (+ 1) must lie inside the row.
  for (; ((x + 8) << shift_x) <= intensity_width && x + 8 <= width; x += 8) {
    __m256 v;
    if (shift_x == 0) {
      v = _mm256_loadu_ps(intensity + x);
    } else {
      const __m256 a = _mm256_loadu_ps(intensity + 2 * x);      // samples 0…7
      const __m256 b = _mm256_loadu_ps(intensity + 2 * x + 8);  // samples 8…15
      const __m256 lo = _mm256_permutevar8x32_ps(a, evens);     // 0 2 4 6 | 1 3 5 7
      const __m256 hi = _mm256_permutevar8x32_ps(b, evens);     // 8 10 12 14 | …
      v = _mm256_permute2f128_ps(lo, hi, 0x20);                 // 0 2 4 6 8 10 12 14
    }
    const __m256i level =
        _mm256_min_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(_mm256_mul_ps(v, scale)), zero), top);
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), level);
    for (int i = 0; i < 8; ++i) levels[x + i] = static_cast<uint8_t>(lanes[i]);
  }
  return x;
}
#endif

// The LUT index (256 steps over the code range, `lut_scale` per code value)
// of the luma intensity `smooth` at each sample of row y of a plane `width`
// wide, subsampled by (shift_x, shift_y).
void IntensityLevels(const Image& smooth, int y, int width, int shift_x, int shift_y,
                     float lut_scale, std::vector<uint8_t>* levels) {
  const float* intensity = smooth.Row(std::min(y << shift_y, smooth.height - 1));
  levels->resize(static_cast<size_t>(width));
  int x = 0;
#if defined(__x86_64__) || defined(__i386__)
  if (UseAvx2()) {
    x = IntensityLevelsAvx2(intensity, smooth.width, width, shift_x, lut_scale, levels->data());
  }
#endif
  IntensityLevelsFrom(intensity, smooth.width, x, width, shift_x, lut_scale, levels->data());
}

// The noise model of plane `plane` (`center`): from `source`, the neighbour
// ChooseNeighbours picked (nullptr when it left none), else — a picture
// unlike its neighbours (`has_neighbours`) — the previous picture's model, or
// white noise of the single-picture estimate (or of `fixed_sigma`), scaled
// by `strength`. Keeps what it estimated for the next picture in `ws`.
NoiseModel ChooseNoiseModel(int plane, const Image& center, const Image* source,
                            bool has_neighbours, const Image& luma, int shift_x, int shift_y,
                            float bin_width, double fixed_sigma, double strength,
                            Denoiser::Workspace* ws) {
  NoiseModel model;
  model.bin_width = bin_width;
  const bool from_neighbour = fixed_sigma == 0 && source != nullptr &&
                              EstimateNoiseModel(center, *source, luma, shift_x, shift_y, &model);
  if (!from_neighbour && fixed_sigma == 0 && has_neighbours && source == nullptr &&
      ws->have_last_model) {
    model = ws->last_model[plane];  // a picture unlike its neighbours: keep the noise it had
  } else if (!from_neighbour) {
    model.SetWhite(
        static_cast<float>(strength * (fixed_sigma > 0 ? fixed_sigma : EstimateSigma(center))));
  } else {
    const float scale = static_cast<float>(strength * strength);
    for (float& variance : model.variance) variance *= scale;
  }
  if (from_neighbour || fixed_sigma > 0) {
    ws->last_model[plane] = model;
    ws->have_last_model = plane == 2 || ws->have_last_model;
  }
  return model;
}

// The compensation's sharpness (TapWeights) for the current picture, from
// the noise σ the denoiser assumes for it in 8-bit code values (the previous
// picture's luma model, else the single-picture estimate or `fixed_sigma`,
// times `strength`): 1 up to σ = 6, 0 from σ = 14, linear between. On the
// training photos Lanczos gains 0.7 dB on clean video and 0.1 at σ = 5,
// breaks even at σ = 10 and loses 0.1 at σ = 20.
float CompensationSharpness(const Denoiser::Workspace& ws, const Image& luma, double fixed_sigma,
                            double strength, int max_value) {
  constexpr float kSharpUpTo = 6, kSmoothFrom = 14;
  float sigma;
  if (ws.have_last_model) {
    const NoiseModel& model = ws.last_model[0];
    sigma = std::sqrt(Median({std::begin(model.variance), std::end(model.variance)}));
  } else {
    sigma = static_cast<float>(strength * (fixed_sigma > 0 ? fixed_sigma : EstimateSigma(luma)));
  }
  sigma *= 255.0f / static_cast<float>(max_value);
  return std::clamp((kSmoothFrom - sigma) / (kSmoothFrom - kSharpUpTo), 0.0f, 1.0f);
}

// Samples [x, width) of a row, rounded and clamped to [0, max_value].
template <typename Sample>
void RoundRow(const float* src, int x, int width, float max_value, Sample* row) {
  for (; x < width; ++x) row[x] = static_cast<Sample>(std::clamp(src[x], 0.0f, max_value) + 0.5f);
}

#if defined(__x86_64__) || defined(__i386__)
// RoundRow eight at a time (the same truncation of the same sums); returns
// where it stopped.
template <typename Sample>
VIDMILL_AVX2 int RoundRowAvx2(const float* src, int width, float max_value, Sample* row) {
  const __m256 top = _mm256_set1_ps(max_value);
  int x = 0;
  for (; x + 8 <= width; x += 8) StoreRounded8(_mm256_loadu_ps(src + x), top, row + x);
  return x;
}
#endif

// `result`'s samples, rounded and clamped to [0, max_value], into `dst`.
void WritePlane(const Image& result, float max_value, const PlaneView& dst) {
  RunInHalves(dst.height, true, [&](int row_begin, int row_end) {
    for (int y = row_begin; y < row_end; ++y) {
      const float* src = result.Row(y);
      auto write = [&](auto* row) {
        int x = 0;
#if defined(__x86_64__) || defined(__i386__)
        if (UseAvx2()) x = RoundRowAvx2(src, dst.width, max_value, row);
#endif
        RoundRow(src, x, dst.width, max_value, row);
      };
      if (dst.bit_depth > 8) {
        write(dst.Row16(y));
      } else {
        write(dst.Row8(y));
      }
    }
  });
}

// Scene changes, decided on the luma (`center` and its `aligned` neighbours;
// narrows `used` and picks the neighbour the noise model comes from). A
// neighbour from another shot matches far worse than the nearest one of the
// same shot: it is left out, and the noise model comes from the better of
// the two nearest. Taken for noise, the other shot's difference would make the
// fusion blend that shot in (the first picture after a cut, 25 dB against 28
// for the noisy input). A picture that matches neither nearest neighbour (a
// flash, a one-picture shot) — its best match far worse than the previous
// picture's, or its detail level (the match level without the block means)
// over 1.2 × the highest of the last four pictures' — uses no neighbour and
// keeps the previous picture's noise model. The detail level tells a flash
// under heavy noise, where the other shot's difference adds little to the
// noise's (σ = 10: 3.3 × the previous level, σ = 20: 1.7 ×; detail 1.6 × and
// 1.3 ×; taken for noise, it would blend the shots to 6 dB below the noisy
// input), and flicker does not move it (steady pictures: within 2 %). Four
// pictures, because the levels of coded video swing with the picture type.
void ChooseNeighbours(const Image& center, const std::vector<Image>& aligned,
                      const std::vector<Denoiser::Neighbour>& neighbours, int max_value,
                      Denoiser::Workspace* workspace, std::vector<size_t>* used,
                      size_t* model_source) {
  constexpr float kSceneChange = 4;      // match level ratio (twice the σ)
  constexpr float kDetailChange = 1.2f;  // detail level ratio
  constexpr float kOneSided = 2;         // match level ratio of the two nearest
  const float depth_scale = static_cast<float>(max_value) / 255;
  const float level_floor = 0.25f * depth_scale * depth_scale;  // (½ code value)²
  // A flash adds its own difference, which is not small: the detail level
  // must also rise by (2 code values)². Coded video, whose pictures differ
  // by little (levels of 1–2 code values²), swings by more than 1.2 × between
  // picture types, and dvres's temporal stage took such pictures for flashes.
  const float detail_excess = 4 * depth_scale * depth_scale;
  Denoiser::Workspace& ws = *workspace;
  const std::vector<float> level = MatchLevels(center, aligned, neighbours.size());
  size_t best = 0;  // neighbours[0] is a nearest one
  for (size_t k = 0; k < neighbours.size(); ++k) {
    if (level[k] < 0) return;  // too small a picture to tell: all neighbours
    const bool nearest = neighbours[k].slot == 1 || neighbours[k].slot == 2;
    if (nearest && level[k] < level[best]) best = k;
  }
  if (neighbours.empty()) return;
  *model_source = best;
  const float reference = std::max(level[best], level_floor);
  used->clear();
  for (size_t k = 0; k < neighbours.size(); ++k) {
    if (level[k] <= kSceneChange * reference) used->push_back(k);
  }
  // The detail level as it is and as it would be for noise added after a
  // brightness change; a flash must stand out in both. It must also match
  // both nearest neighbours about alike: the first picture of a new shot
  // matches the next one far better than the last one of the old shot, and
  // its detail level is the new shot's (20 % above the old one's at a cut
  // between two held-out photos, which the detail rule alone took for a
  // flash).
  const float gain = neighbours[best].ratio;
  const float as_is = DetailLevel(center, aligned[best], gain);
  const float detail[2] = {as_is, as_is * 2 / (1 + gain * gain)};
  auto stands_out = [&](int way) {
    const float recent =
        *std::max_element(ws.recent_detail[way].begin(), ws.recent_detail[way].end());
    return detail[way] > kDetailChange * std::max(recent, level_floor) &&
           detail[way] > recent + detail_excess;
  };
  bool one_sided = false;  // the other nearest neighbour matches far worse
  for (size_t k = 0; k < neighbours.size(); ++k) {
    const bool nearest = neighbours[k].slot == 1 || neighbours[k].slot == 2;
    if (nearest && k != best && level[k] > kOneSided * reference) one_sided = true;
  }
  if (ws.last_level > 0 && (level[best] > kSceneChange * std::max(ws.last_level, level_floor) ||
                            (!one_sided && stands_out(0) && stands_out(1)))) {
    used->clear();
  }
  ws.last_level = level[best];
  for (int way = 0; way < 2; ++way) {
    std::array<float, 4>& recent = ws.recent_detail[way];
    std::copy_backward(recent.begin(), recent.end() - 1, recent.end());
    recent[0] = detail[way];
  }
}

}  // namespace

void Denoiser::EmitCurrent() {
  const Picture& cur = *window_[current_];
  const std::vector<Neighbour> neighbours = FindNeighbours(cur);
  OwnedFrame output = OwnedFrame::ForOverwrite(config_.input);  // WritePlane writes every sample
  output.pts = cur.pts;
  // The neighbours the planes use (all for the luma until ChooseNeighbours
  // has seen it) and the one the noise model comes from.
  std::vector<size_t> used(neighbours.size());
  for (size_t k = 0; k < used.size(); ++k) used[k] = k;
  size_t model_source = 0;
  const CompensationTaps taps(CompensationSharpness(*workspace_, cur.planes[0], fixed_sigma_,
                                                    strength_, config_.input.max_value()));
  for (int plane = 0; plane < 3; ++plane) {
    DenoisePlane(plane, cur, neighbours, taps, &used, &model_source, output.plane(plane));
  }
  ready_.push_back(std::move(output));
}

void Denoiser::DenoisePlane(int plane, const Picture& cur, const std::vector<Neighbour>& neighbours,
                            const CompensationTaps& taps, std::vector<size_t>* used_neighbours,
                            size_t* model_source, const PlaneView& dst) {
  const PixelFormat& format = config_.input;
  const int blocks_x = (format.width + kBlock - 1) / kBlock;
  const Image& center = cur.planes[plane];
  const std::vector<size_t>& used = *used_neighbours;
  const int width = center.width, height = center.height;
  const int shift_x = plane ? ChromaShiftX(format.chroma) : 0;
  const int shift_y = plane ? ChromaShiftY(format.chroma) : 0;
  const float max_value = static_cast<float>(format.max_value());
  const size_t count = neighbours.size();
  Workspace& ws = *workspace_;
  ws.aligned.resize(count);
  ws.squares.resize(count);
  ws.distance.resize(count);
  for (size_t k = 0; k < count; ++k) {
    ws.aligned[k].Resize(width, height);
    ws.squares[k].Resize(width, height);
    ws.distance[k].Resize(width, height);
  }
  std::vector<Image>& aligned = ws.aligned;
  std::vector<Image>& squares = ws.squares;
  std::vector<Image>& distance = ws.distance;
  Image& temporal = ws.temporal;
  Image& residual = ws.residual;
  Image& result = ws.result;
  temporal.Resize(width, height);
  residual.Resize(width, height);
  result.Resize(width, height);

  // Each half compensates its own rows; the drift needs the whole plane, and
  // the box filter, which reads one row beyond, runs once both are done.
  RunInHalves(height, true, [&](int row_begin, int row_end) {
    for (size_t k : used) {
      Compensate(neighbours[k].picture->planes[plane], neighbours[k].field, blocks_x, shift_x,
                 shift_y, taps, row_begin, row_end, &aligned[k]);
    }
  });
  // Scene changes are told on the neighbours as they are: taking out the
  // drift first brings another shot to this one's brightness and shrinks
  // the difference that tells them apart (the test's flash then passed).
  if (plane == 0) {
    ChooseNeighbours(center, aligned, neighbours, format.max_value(), workspace_.get(),
                     used_neighbours, model_source);
  }
  // Brightness drift: each aligned neighbour is brought to the current
  // picture's brightness, per luma intensity, before it is compared and
  // averaged. Film flicker of ±4 % otherwise made every neighbour differ by
  // more than the noise, and the fusion dropped them.
  const float bin_width = (max_value + 1) / kBins;
  const float lut_scale = 256.0f / (max_value + 1);
  std::vector<std::array<float, 256>> drift(count);
  std::vector<bool> drifts(count, false);  // some offset not zero
  for (size_t k : used) {
    if (!neighbours[k].flickers) continue;
    float offset[kBins];
    EstimateDrift(center, aligned[k], plane == 0, cur.smooth, shift_x, shift_y, bin_width, offset);
    for (float value : offset) drifts[k] = drifts[k] || value != 0;
    for (int level = 0; level < 256 && drifts[k]; ++level) {
      drift[k][level] = BinValue(offset, bin_width, (level + 0.5f) / lut_scale);
    }
  }
  auto intensity_levels = [&](int y, std::vector<uint8_t>* levels) {
    IntensityLevels(cur.smooth, y, width, shift_x, shift_y, lut_scale, levels);
  };
  RunInHalves(height, true, [&](int row_begin, int row_end) {
    std::vector<uint8_t> levels;
    const bool any = std::find(drifts.begin(), drifts.end(), true) != drifts.end();
    for (int y = row_begin; y < row_end; ++y) {
      if (any) intensity_levels(y, &levels);
      const float* c = center.Row(y);
      for (size_t k : used) {
        float* a = aligned[k].Row(y);
        float* d = squares[k].Row(y);
        if (drifts[k]) {
          for (int x = 0; x < width; ++x) a[x] += drift[k][levels[x]];
        }
        SquaredDifferences(c, a, width, d);
      }
    }
  });
  const NoiseModel model =
      ChooseNoiseModel(plane, center, used.empty() ? nullptr : &aligned[*model_source], count > 0,
                       cur.smooth, shift_x, shift_y, bin_width, fixed_sigma_, strength_, &ws);
  float threshold[8][8];
  for (int v = 0; v < 8; ++v) {
    for (int u = 0; u < 8; ++u) threshold[v][u] = kThreshold * std::sqrt(model.shape[v][u]);
  }
  const ShrinkThresholds thresholds(threshold);
  // The model's variance by intensity, in 256 steps.
  float variance_lut[256];
  for (int level = 0; level < 256; ++level) {
    variance_lut[level] = model.Variance((level + 0.5f) / lut_scale);
  }
  auto fuse_rows = [&](int row_begin, int row_end) {
    for (size_t k : used) BoxRows(squares[k], row_begin, row_end, &distance[k]);
    std::vector<float> variance(static_cast<size_t>(width));
    std::vector<uint8_t> levels;
    std::vector<const float*> aligned_rows(used.size()), distance_rows(used.size());
    for (int y = row_begin; y < row_end; ++y) {
      intensity_levels(y, &levels);
      for (int x = 0; x < width; ++x) variance[x] = variance_lut[levels[x]];
      for (size_t u = 0; u < used.size(); ++u) {
        aligned_rows[u] = aligned[used[u]].Row(y);
        distance_rows[u] = distance[used[u]].Row(y);
      }
      FuseRow(width, used.size(), center.Row(y), aligned_rows.data(), distance_rows.data(),
              variance.data(), temporal.Row(y), residual.Row(y));
    }
  };
  RunInHalves(height, true, fuse_rows);
  RunInHalves(height, true, [&](int row_begin, int row_end) {
    const int half = row_begin == 0 ? 0 : 1;
    SpatialRows(temporal, residual, thresholds, row_begin, row_end, &ws.accumulators[half],
                &ws.weights[half], &result);
  });
  WritePlane(result, max_value, dst);
}

}  // namespace vidmill::filters
