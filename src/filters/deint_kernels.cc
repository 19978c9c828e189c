#include "filters/deint_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "filters/simd.h"

namespace vidmill::filters::deint_internal {

void PaddedPlane::Resize(int width, int height) {
  width_ = width;
  height_ = height;
  // Rows padded to a multiple of 16 samples so 16-wide reads stay inside.
  stride_ = ((width + 2 * kPadX + 15) / 16) * 16;
  data_.assign(static_cast<size_t>(stride_) * (height + 2 * kPadY), 0);
}

void PaddedPlane::Scale(float ratio, int max_value) {
  for (uint16_t& sample : data_) {
    sample =
        static_cast<uint16_t>(std::min(std::lround(sample * ratio), static_cast<long>(max_value)));
  }
}

void PaddedPlane::ExtendRows(int row_begin, int row_end) {
  for (int y = row_begin; y < row_end; ++y) {
    uint16_t* row = Row(y);
    std::fill(row - kPadX, row, row[0]);
    std::fill(row + width_, row - kPadX + stride_, row[width_ - 1]);
  }
}

void PaddedPlane::ExtendTopBottom() {
  const size_t bytes = static_cast<size_t>(stride_) * sizeof(uint16_t);
  for (int y = 1; y <= kPadY; ++y) {
    std::memcpy(Row(-y) - kPadX, Row(0) - kPadX, bytes);
    std::memcpy(Row(height_ - 1 + y) - kPadX, Row(height_ - 1) - kPadX, bytes);
  }
}

namespace {

// The edge-directed prediction at x between the lines `up` and `down`
// (sample accessors): yadif's rule, the best of the directions −2…2 (times
// `step`) by 3-sample window SAD, the second step on a side only if the first
// one improved, linear along it.
template <typename Up, typename Down>
int EdgeDirected(const Up& up, const Down& down, int x, int step) {
  int score = std::abs(up(x - 1) - down(x - 1)) + std::abs(up(x) - down(x)) +
              std::abs(up(x + 1) - down(x + 1)) - 1;
  int prediction = (up(x) + down(x)) >> 1;
  auto check = [&](int k) {
    const int shift = step * k;
    const int candidate = std::abs(up(x - 1 + shift) - down(x - 1 - shift)) +
                          std::abs(up(x + shift) - down(x - shift)) +
                          std::abs(up(x + 1 + shift) - down(x + 1 - shift));
    if (candidate >= score) return false;
    score = candidate;
    prediction = (up(x + shift) + down(x - shift)) >> 1;
    return true;
  };
  if (check(-1)) check(-2);
  if (check(1)) check(2);
  return prediction;
}

template <typename T>
void EdgeErrorsPortable(const KeptRows<T>& rows, int x0, int x1, int width, int step,
                        int64_t* cubic_error, int64_t* edge_error, int64_t* blend_error) {
  auto clamped = [width](const T* r) {
    return [r, width](int x) -> int { return r[std::clamp(x, 0, width - 1)]; };
  };
  const auto up = clamped(rows.up);
  const auto down = clamped(rows.down);
  for (int x = x0; x < x1; x += 2) {
    const int cubic = Cubic(up(x) + down(x), clamped(rows.up3)(x) + clamped(rows.down3)(x));
    const int edge = EdgeDirected(up, down, x, step);
    const int line = clamped(rows.line)(x);
    if (cubic_error != nullptr) *cubic_error += std::abs(line - cubic);
    if (edge_error != nullptr) *edge_error += std::abs(line - edge);
    if (blend_error != nullptr) *blend_error += std::abs(line - Blend(cubic, edge));
  }
}

// ---------------------------------------------------------------------------
// Portable kernels.

template <typename T>
int SpatialEdge(const MaRows<T>& r, int x) {
  return EdgeDirected([&r](int i) -> int { return r.up[i]; },
                      [&r](int i) -> int { return r.down[i]; }, x, 1);
}

// One sample of the motion-adaptive estimate (the contract of ma_row*);
// `free`, when not null, gets the spatial prediction before the limits.
template <typename T>
T MaPixel(const MaRows<T>& r, Spatial spatial, int x, int width, int max_value, uint16_t* free) {
  const int c = r.up[x];
  const int e = r.down[x];
  int value;
  if (spatial == Spatial::kCubic) {
    value = Cubic(c + e, r.up3[x] + r.down3[x]);
  } else if (x >= 3 && x < width - 3) {
    value = SpatialEdge(r, x);
  } else {
    value = (c + e) >> 1;
  }
  if (free != nullptr) *free = static_cast<uint16_t>(std::clamp(value, 0, max_value));
  const int a = r.prev_line[x];
  const int b = r.next_line[x];
  const int temporal = (a + b + 1) >> 1;
  const int diff0 = std::abs(a - b) >> 1;
  const int diff1 = (std::abs(r.sb_up[x] - c) + std::abs(r.sb_down[x] - e)) >> 1;
  const int diff2 = (std::abs(r.sa_up[x] - c) + std::abs(r.sa_down[x] - e)) >> 1;
  int diff = std::max({diff0, diff1, diff2});
  if (diff == 0 && !r.lone) return static_cast<T>(temporal);
  // The temporal predictions of the kept lines above and below (b2, f2): where
  // the kept lines disagree with them the picture moves, however still the
  // missing line looked, and the band around the temporal value widens.
  const int b2 = (r.prev2_up[x] + r.next2_up[x] + 1) >> 1;
  const int f2 = (r.prev2_down[x] + r.next2_down[x] + 1) >> 1;
  const int max_v = std::max({temporal - e, temporal - c, std::min(b2 - c, f2 - e)});
  const int min_v = std::min({temporal - e, temporal - c, std::max(b2 - c, f2 - e)});
  diff = std::max({diff, min_v, -max_v});
  value = std::clamp(value, temporal - diff, temporal + diff);
  return static_cast<T>(std::clamp(value, 0, max_value));
}

// One sample of take_still*.
template <typename T>
void TakeStillPixel(const MaRows<T>& r, int x, int slack, uint16_t* samples) {
  const int a = r.prev_line[x];
  const int c = r.up[x];
  const int e = r.down[x];
  const int margin = std::abs(c - e) / 2 + slack;
  if (a == r.next_line[x] && r.sb_up[x] == c && r.sb_down[x] == e && r.sa_up[x] == c &&
      r.sa_down[x] == e && a >= std::min(c, e) - margin && a <= std::max(c, e) + margin) {
    samples[x] = static_cast<uint16_t>(a);
  }
}

template <typename T>
void TakeStillPortable(const MaRows<T>& r, int width, int max_value, uint16_t* samples) {
  for (int x = 0; x < width; ++x) TakeStillPixel(r, x, max_value / 128, samples);
}

template <typename T>
void MaRowPortable(const MaRows<T>& rows, Spatial spatial, int width, int max_value, T* dst) {
  for (int x = 0; x < width; ++x) dst[x] = MaPixel(rows, spatial, x, width, max_value, nullptr);
}

// One sample of luma_row*.
template <typename T>
void LumaPixel(const MaRows<T>& rows, int x, int width, int max_value, const uint8_t* free,
               uint16_t* cubic, uint16_t* edge, uint16_t* blend) {
  uint16_t cubic_free, edge_free;
  const int cubic_limited = MaPixel(rows, Spatial::kCubic, x, width, max_value, &cubic_free);
  const int edge_limited = MaPixel(rows, Spatial::kEdge, x, width, max_value, &edge_free);
  cubic[x] = static_cast<uint16_t>(free[x] ? cubic_free : cubic_limited);
  edge[x] = static_cast<uint16_t>(free[x] ? edge_free : edge_limited);
  blend[x] = static_cast<uint16_t>(Blend(cubic[x], edge[x]));
}

template <typename T>
void LumaRowPortable(const MaRows<T>& rows, int width, int max_value, const uint8_t* free,
                     uint16_t* cubic, uint16_t* edge, uint16_t* blend) {
  for (int x = 0; x < width; ++x) LumaPixel(rows, x, width, max_value, free, cubic, edge, blend);
}

// mc128 at one position: the horizontal pass (scale 128) on four rows, the
// vertical pass (scale 16384), rounded back to scale 128.
inline int Warp128(const PaddedPlane& prev, int x, int y, int dxq, int dyq) {
  const int* wx = kQuarterTaps[dxq & 3];
  const int* wy = kQuarterTaps[dyq & 3];
  const int sx = x + (dxq >> 2) - kTapsBefore;
  const int sy = y + (dyq >> 2) - kTapsBefore;
  int sum = 0;
  for (int j = 0; j < kTaps; ++j) {
    const uint16_t* row = prev.Row(sy + j) + sx;
    int line = 0;
    for (int i = 0; i < kTaps; ++i) line += wx[i] * row[i];
    sum += wy[j] * line;
  }
  return (sum + 64) >> 7;
}

int64_t SparseErrorPortable(const PaddedPlane& prev, const PaddedPlane& cur, int x0, int x1,
                            int y_first, int y1, int row_step, int dxq, int dyq) {
  int64_t sum = 0;
  for (int y = y_first; y < y1; y += row_step) {
    const uint16_t* row = cur.Row(y);
    for (int x = x0; x < x1; x += 2) {
      sum += std::abs(128 * row[x] - Warp128(prev, x, y, dxq, dyq));
    }
  }
  return sum;
}

void SparseErrorsPortable(const PaddedPlane& prev, const PaddedPlane& cur, int x0, int x1,
                          int y_first, int y1, int row_step, int dxq, const int* dyqs, int count,
                          int64_t* errors) {
  for (int i = 0; i < count; ++i) {
    errors[i] = SparseErrorPortable(prev, cur, x0, x1, y_first, y1, row_step, dxq, dyqs[i]);
  }
}

void MixPortable(const int32_t* warped, const uint16_t* spatial, int count, int weight,
                 int max_value, uint16_t* out) {
  for (int i = 0; i < count; ++i) {
    // int64: at 16 bits the interpolation's overshoot can take the sum past 2^31.
    const int64_t value =
        (int64_t{weight} * warped[i] + int64_t{256 - weight} * 128 * spatial[i] + (1 << 14)) >> 15;
    out[i] = static_cast<uint16_t>(std::clamp<int64_t>(value, 0, max_value));
  }
}

void Warp16Portable(const PaddedPlane& prev, int x, int y, int dxq, int dyq, int32_t* out) {
  for (int i = 0; i < 16; ++i) out[i] = Warp128(prev, x + i, y, dxq, dyq);
}

// ---------------------------------------------------------------------------
// AVX2 kernels: the same arithmetic, 16 samples (int16 lanes) or 8 (int32) at
// a time.

VIDMILL_AVX2 inline __m256i Load16(const uint8_t* p) {
  return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
VIDMILL_AVX2 inline __m256i Load16(const uint16_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
VIDMILL_AVX2 inline void Store16(uint8_t* p, __m256i v) {
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0x08);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
}
VIDMILL_AVX2 inline void Store16(uint16_t* p, __m256i v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}
VIDMILL_AVX2 inline __m256i AbsDiff(__m256i a, __m256i b) {
  return _mm256_abs_epi16(_mm256_sub_epi16(a, b));
}
// (a + b) >> 1 of non-negative int16 lanes, rounded down.
VIDMILL_AVX2 inline __m256i HalfSum(__m256i a, __m256i b) {
  return _mm256_srli_epi16(_mm256_add_epi16(a, b), 1);
}

// The SAD of the 3-sample windows of `up` shifted by k and `down` by −k.
template <typename T>
VIDMILL_AVX2 inline __m256i EdgeWindow(const T* up, const T* down, int k) {
  return _mm256_add_epi16(_mm256_add_epi16(AbsDiff(Load16(up - 1 + k), Load16(down - 1 - k)),
                                           AbsDiff(Load16(up + k), Load16(down - k))),
                          AbsDiff(Load16(up + 1 + k), Load16(down + 1 - k)));
}

// The motion-adaptive band of 16 samples from x (c and e: the kept lines
// above and below): the temporal prediction, the band's half width and the
// samples that are still (which take the temporal prediction).
struct MaBand {
  __m256i temporal, diff, still;
};

template <typename T>
VIDMILL_AVX2 inline MaBand MaBandAt(const MaRows<T>& r, int x, __m256i c, __m256i e) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i a = Load16(r.prev_line + x);
  const __m256i b = Load16(r.next_line + x);
  MaBand band;
  band.temporal = _mm256_avg_epu16(a, b);
  const __m256i diff0 = _mm256_srli_epi16(AbsDiff(a, b), 1);
  const __m256i diff1 = _mm256_srli_epi16(
      _mm256_add_epi16(AbsDiff(Load16(r.sb_up + x), c), AbsDiff(Load16(r.sb_down + x), e)), 1);
  const __m256i diff2 = _mm256_srli_epi16(
      _mm256_add_epi16(AbsDiff(Load16(r.sa_up + x), c), AbsDiff(Load16(r.sa_down + x), e)), 1);
  const __m256i diff = _mm256_max_epi16(diff0, _mm256_max_epi16(diff1, diff2));
  band.still = r.lone ? zero : _mm256_cmpeq_epi16(diff, zero);
  const __m256i b2 = _mm256_avg_epu16(Load16(r.prev2_up + x), Load16(r.next2_up + x));
  const __m256i f2 = _mm256_avg_epu16(Load16(r.prev2_down + x), Load16(r.next2_down + x));
  const __m256i t_minus_e = _mm256_sub_epi16(band.temporal, e);
  const __m256i t_minus_c = _mm256_sub_epi16(band.temporal, c);
  const __m256i b2_minus_c = _mm256_sub_epi16(b2, c);
  const __m256i f2_minus_e = _mm256_sub_epi16(f2, e);
  const __m256i max_v = _mm256_max_epi16(_mm256_max_epi16(t_minus_e, t_minus_c),
                                         _mm256_min_epi16(b2_minus_c, f2_minus_e));
  const __m256i min_v = _mm256_min_epi16(_mm256_min_epi16(t_minus_e, t_minus_c),
                                         _mm256_max_epi16(b2_minus_c, f2_minus_e));
  band.diff = _mm256_max_epi16(_mm256_max_epi16(diff, min_v), _mm256_sub_epi16(zero, max_v));
  return band;
}

// A prediction held to 0…max.
VIDMILL_AVX2 inline __m256i Clamped(__m256i value, __m256i max) {
  return _mm256_min_epi16(_mm256_max_epi16(value, _mm256_setzero_si256()), max);
}

// A spatial prediction held to the band, then to 0…max; the still samples
// take the temporal prediction.
VIDMILL_AVX2 inline __m256i Limited(__m256i value, const MaBand& band, __m256i max) {
  value = _mm256_max_epi16(value, _mm256_sub_epi16(band.temporal, band.diff));
  value = _mm256_min_epi16(value, _mm256_add_epi16(band.temporal, band.diff));
  return _mm256_blendv_epi8(Clamped(value, max), band.temporal, band.still);
}

template <typename T>
VIDMILL_AVX2 inline __m256i CubicAt(const MaRows<T>& r, int x, __m256i c, __m256i e) {
  const __m256i cubic_weights = _mm256_set1_epi32((-kCubicFar << 16) | kCubicNear);
  const __m256i round = _mm256_set1_epi32(4096);
  const __m256i near = _mm256_add_epi16(c, e);
  const __m256i far = _mm256_add_epi16(Load16(r.up3 + x), Load16(r.down3 + x));
  const __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(near, far), cubic_weights);
  const __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(near, far), cubic_weights);
  return _mm256_packs_epi32(_mm256_srai_epi32(_mm256_add_epi32(lo, round), 13),
                            _mm256_srai_epi32(_mm256_add_epi32(hi, round), 13));
}

// The edge-directed rule at x (3 samples either side are read).
template <typename T>
VIDMILL_AVX2 inline __m256i EdgeAt(const MaRows<T>& r, int x, __m256i c, __m256i e) {
  __m256i score = _mm256_sub_epi16(EdgeWindow(r.up + x, r.down + x, 0), _mm256_set1_epi16(1));
  __m256i value = HalfSum(c, e);
  // Each side: the second step only where the first one improved.
  for (int sign = -1; sign <= 1; sign += 2) {
    __m256i improved = _mm256_set1_epi16(-1);
    for (int k = sign; std::abs(k) <= 2; k += sign) {
      const __m256i candidate = EdgeWindow(r.up + x, r.down + x, k);
      improved = _mm256_and_si256(improved, _mm256_cmpgt_epi16(score, candidate));
      score = _mm256_blendv_epi8(score, candidate, improved);
      value = _mm256_blendv_epi8(value, HalfSum(Load16(r.up + x + k), Load16(r.down + x - k)),
                                 improved);
    }
  }
  return value;
}

template <typename T>
VIDMILL_AVX2 void MaRowAvx2(const MaRows<T>& r, Spatial spatial, int width, int max_value, T* dst) {
  // The edge-directed search reads 3 samples either side.
  const int begin = spatial == Spatial::kEdge ? 3 : 0;
  const int end = spatial == Spatial::kEdge ? width - 3 : width;
  for (int x = 0; x < std::min(begin, width); ++x)
    dst[x] = MaPixel(r, spatial, x, width, max_value, nullptr);
  const __m256i max = _mm256_set1_epi16(static_cast<int16_t>(max_value));
  int x = begin;
  for (; x + 16 <= end; x += 16) {
    const __m256i c = Load16(r.up + x);
    const __m256i e = Load16(r.down + x);
    const __m256i value = spatial == Spatial::kCubic ? CubicAt(r, x, c, e) : EdgeAt(r, x, c, e);
    Store16(dst + x, Limited(value, MaBandAt(r, x, c, e), max));
  }
  for (; x < width; ++x) dst[x] = MaPixel(r, spatial, x, width, max_value, nullptr);
}

VIDMILL_AVX2 void MaRow8Avx2(const MaRows<uint8_t>& rows, Spatial spatial, int width, int max_value,
                             uint8_t* dst) {
  MaRowAvx2(rows, spatial, width, max_value, dst);
}
VIDMILL_AVX2 void MaRow16Avx2(const MaRows<uint16_t>& rows, Spatial spatial, int width,
                              int max_value, uint16_t* dst) {
  MaRowAvx2(rows, spatial, width, max_value, dst);
}

// Both rules share the band: one pass makes the cubic, the edge-directed
// and the blend row.
template <typename T>
VIDMILL_AVX2 void LumaRowAvx2(const MaRows<T>& r, int width, int max_value, const uint8_t* free,
                              uint16_t* cubic, uint16_t* edge, uint16_t* blend) {
  const int end = width - 3;  // the edge-directed search reads 3 samples either side
  int x = 0;
  for (; x < std::min(3, width); ++x) LumaPixel(r, x, width, max_value, free, cubic, edge, blend);
  const __m256i max = _mm256_set1_epi16(static_cast<int16_t>(max_value));
  const __m256i zero = _mm256_setzero_si256();
  for (; x < end; x += 16) {
    // The last 16 end at `end`, again over samples already made (the same
    // values), rather than one at a time.
    if (x + 16 > end) {
      if (end - 16 < 3) break;
      x = end - 16;
    }
    const __m256i c = Load16(r.up + x);
    const __m256i e = Load16(r.down + x);
    const MaBand band = MaBandAt(r, x, c, e);
    const __m256i cubic_value = CubicAt(r, x, c, e);
    const __m256i edge_value = EdgeAt(r, x, c, e);
    const __m256i unlimited = _mm256_cmpgt_epi16(
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(free + x))), zero);
    const __m256i cubic_out =
        _mm256_blendv_epi8(Limited(cubic_value, band, max), Clamped(cubic_value, max), unlimited);
    const __m256i edge_out =
        _mm256_blendv_epi8(Limited(edge_value, band, max), Clamped(edge_value, max), unlimited);
    Store16(cubic + x, cubic_out);
    Store16(edge + x, edge_out);
    Store16(blend + x, _mm256_avg_epu16(cubic_out, edge_out));
  }
  for (; x < width; ++x) LumaPixel(r, x, width, max_value, free, cubic, edge, blend);
}

VIDMILL_AVX2 void LumaRow8Avx2(const MaRows<uint8_t>& rows, int width, int max_value,
                               const uint8_t* free, uint16_t* cubic, uint16_t* edge,
                               uint16_t* blend) {
  LumaRowAvx2(rows, width, max_value, free, cubic, edge, blend);
}
VIDMILL_AVX2 void LumaRow16Avx2(const MaRows<uint16_t>& rows, int width, int max_value,
                                const uint8_t* free, uint16_t* cubic, uint16_t* edge,
                                uint16_t* blend) {
  LumaRowAvx2(rows, width, max_value, free, cubic, edge, blend);
}

template <typename T>
VIDMILL_AVX2 void TakeStillAvx2(const MaRows<T>& r, int width, int max_value, uint16_t* samples) {
  if (width < 16) {
    TakeStillPortable(r, width, max_value, samples);
    return;
  }
  const __m256i slack = _mm256_set1_epi16(static_cast<int16_t>(max_value / 128));
  for (int x = 0; x < width; x += 16) {
    x = std::min(x, width - 16);  // the last 16 end at width (taking twice changes nothing)
    const __m256i a = Load16(r.prev_line + x);
    const __m256i c = Load16(r.up + x);
    const __m256i e = Load16(r.down + x);
    __m256i still = _mm256_cmpeq_epi16(a, Load16(r.next_line + x));
    still = _mm256_and_si256(still, _mm256_cmpeq_epi16(c, Load16(r.sb_up + x)));
    still = _mm256_and_si256(still, _mm256_cmpeq_epi16(e, Load16(r.sb_down + x)));
    still = _mm256_and_si256(still, _mm256_cmpeq_epi16(c, Load16(r.sa_up + x)));
    still = _mm256_and_si256(still, _mm256_cmpeq_epi16(e, Load16(r.sa_down + x)));
    // Between the kept lines, give or take (int16 lanes: samples ≤ 12 bits).
    const __m256i margin = _mm256_add_epi16(_mm256_srli_epi16(AbsDiff(c, e), 1), slack);
    const __m256i low = _mm256_sub_epi16(_mm256_min_epi16(c, e), margin);
    const __m256i high = _mm256_add_epi16(_mm256_max_epi16(c, e), margin);
    still = _mm256_andnot_si256(
        _mm256_or_si256(_mm256_cmpgt_epi16(low, a), _mm256_cmpgt_epi16(a, high)), still);
    __m256i* out = reinterpret_cast<__m256i*>(samples + x);
    _mm256_storeu_si256(out, _mm256_blendv_epi8(_mm256_loadu_si256(out), a, still));
  }
}
VIDMILL_AVX2 void TakeStill8Avx2(const MaRows<uint8_t>& rows, int width, int max_value,
                                 uint16_t* samples) {
  TakeStillAvx2(rows, width, max_value, samples);
}
VIDMILL_AVX2 void TakeStill16Avx2(const MaRows<uint16_t>& rows, int width, int max_value,
                                  uint16_t* samples) {
  TakeStillAvx2(rows, width, max_value, samples);
}

// An int32 lane pair (w0, w1) for _mm256_madd_epi16.
VIDMILL_AVX2 inline __m256i TapPair(int w0, int w1) {
  return _mm256_set1_epi32(static_cast<int32_t>((static_cast<uint32_t>(w1) << 16) |
                                                (static_cast<uint32_t>(w0) & 0xffff)));
}

// The horizontal pass of WarpEven8 on one source row (scale 128).
VIDMILL_AVX2 inline __m256i WarpRowEven8(const uint16_t* row, __m256i w01, __m256i w23,
                                         __m256i w45) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2));
  const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 4));
  return _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(a, w01), _mm256_madd_epi16(b, w23)),
                          _mm256_madd_epi16(c, w45));
}

// The taps of a warp by (dxq, dyq) quarter pixels, for the 8 even samples
// from x on row y: the horizontal pass takes the sample pairs (x − 2, x − 1),
// (x, x + 1) and (x + 2, x + 3) with one madd each, from column `sx`; the
// vertical pass the six rows from `sy`.
struct WarpTaps {
  __m256i w01, w23, w45;
  int sx, sy;

  VIDMILL_AVX2 WarpTaps(int x, int y, int dxq, int dyq) {
    static_assert(kTaps == 6, "three tap pairs");
    const int* wx = kQuarterTaps[dxq & 3];
    w01 = TapPair(wx[0], wx[1]);
    w23 = TapPair(wx[2], wx[3]);
    w45 = TapPair(wx[4], wx[5]);
    sx = x + (dxq >> 2) - kTapsBefore;
    sy = y + (dyq >> 2) - kTapsBefore;
  }
  // The horizontal pass on source row `r` (scale 128).
  VIDMILL_AVX2 __m256i Row(const PaddedPlane& prev, int r) const {
    return WarpRowEven8(prev.Row(r) + sx, w01, w23, w45);
  }
  // A vertical pass's sum (scale 16384) rounded back to scale 128.
  VIDMILL_AVX2 static __m256i Round(__m256i sum) {
    return _mm256_srai_epi32(_mm256_add_epi32(sum, _mm256_set1_epi32(64)), 7);
  }
};

VIDMILL_AVX2 inline __m256i Times(__m256i v, int weight) {
  return _mm256_mullo_epi32(v, _mm256_set1_epi32(weight));
}

// Σ kQuarterTaps[kPhase][j] · rows[j] over the six rows (int32 lanes), with
// as few multiplies as the taps' shape allows: phase 0 is one tap of 128,
// phase 2 is symmetric (three products of pair sums), phases 1 and 3 are
// mirrors whose outer taps are 4 and 1. The same integers as the plain sum.
template <int kPhase>
VIDMILL_AVX2 inline __m256i VerticalSum(const __m256i* rows) {
  constexpr const int* w = kQuarterTaps[kPhase];
  if constexpr (kPhase == 0) {
    static_assert(w[0] == 0 && w[1] == 0 && w[2] == 128 && w[3] == 0 && w[4] == 0 && w[5] == 0);
    return _mm256_slli_epi32(rows[2], 7);
  } else if constexpr (kPhase == 2) {
    static_assert(w[0] == w[5] && w[1] == w[4] && w[2] == w[3]);
    return _mm256_add_epi32(_mm256_add_epi32(Times(_mm256_add_epi32(rows[0], rows[5]), w[0]),
                                             Times(_mm256_add_epi32(rows[1], rows[4]), w[1])),
                            Times(_mm256_add_epi32(rows[2], rows[3]), w[2]));
  } else {
    constexpr int four = kPhase == 1 ? 0 : 5, one = 5 - four;  // the outer taps 4 and 1
    static_assert(w[four] == 4 && w[one] == 1);
    const __m256i outer = _mm256_add_epi32(_mm256_slli_epi32(rows[four], 2), rows[one]);
    return _mm256_add_epi32(
        _mm256_add_epi32(outer, _mm256_add_epi32(Times(rows[1], w[1]), Times(rows[2], w[2]))),
        _mm256_add_epi32(Times(rows[3], w[3]), Times(rows[4], w[4])));
  }
}

// VerticalSum for a phase known at run time.
VIDMILL_AVX2 inline __m256i VerticalSumAt(int phase, const __m256i* rows) {
  switch (phase) {
    case 0:
      return VerticalSum<0>(rows);
    case 1:
      return VerticalSum<1>(rows);
    case 2:
      return VerticalSum<2>(rows);
    default:
      return VerticalSum<3>(rows);
  }
}

// mc128 at x, x + 2, …, x + 14 of row y (8 int32 lanes).
VIDMILL_AVX2 inline __m256i WarpEven8(const PaddedPlane& prev, int x, int y, int dxq, int dyq) {
  const WarpTaps taps(x, y, dxq, dyq);
  if ((dyq & 3) == 0) return WarpTaps::Round(_mm256_slli_epi32(taps.Row(prev, taps.sy + 2), 7));
  __m256i rows[kTaps];
  for (int j = 0; j < kTaps; ++j) rows[j] = taps.Row(prev, taps.sy + j);
  return WarpTaps::Round(VerticalSumAt(dyq & 3, rows));
}

// The lanes of samples x0, x0 + 2, …, x0 + 14 that lie before x1 (all ones).
VIDMILL_AVX2 inline __m256i EvenLanesBefore(int x0, int x1) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(x1 - x0),
                            _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
}

// The sum of eight int32 lanes.
VIDMILL_AVX2 inline int64_t SumLanes(__m256i v) {
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
  int64_t sum = 0;
  for (int32_t value : lanes) sum += value;
  return sum;
}

// total + |128 · current − warped| on the even samples of `current` (lanes
// outside `valid` add nothing).
VIDMILL_AVX2 inline __m256i AddError(const uint16_t* current, __m256i warped, __m256i valid,
                                     __m256i total) {
  const __m256i scaled = _mm256_madd_epi16(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(current)), TapPair(128, 0));
  const __m256i error = _mm256_abs_epi32(_mm256_sub_epi32(scaled, warped));
  return _mm256_add_epi32(total, _mm256_and_si256(error, valid));
}

// The error of `lines` lines row_step apart from y_first, each line's warp
// the vertical pass (the taps of kPhase) over six of the horizontally
// filtered source rows, the first line's from rows[0].
template <int kPhase>
VIDMILL_AVX2 inline int64_t ErrorOverRows(const __m256i* rows, const PaddedPlane& cur, int x0,
                                          int y_first, int lines, int row_step, __m256i valid) {
  __m256i total = _mm256_setzero_si256();
  for (int k = 0; k < lines; ++k) {
    const __m256i warped = WarpTaps::Round(VerticalSum<kPhase>(rows + k * row_step));
    total = AddError(cur.Row(y_first + k * row_step) + x0, warped, valid, total);
  }
  return SumLanes(total);
}

// ErrorOverRows for a vertical phase known at run time.
VIDMILL_AVX2 inline int64_t ErrorOverRowsAt(int phase, const __m256i* rows, const PaddedPlane& cur,
                                            int x0, int y_first, int lines, int row_step,
                                            __m256i valid) {
  switch (phase) {
    case 0:
      return ErrorOverRows<0>(rows, cur, x0, y_first, lines, row_step, valid);
    case 1:
      return ErrorOverRows<1>(rows, cur, x0, y_first, lines, row_step, valid);
    case 2:
      return ErrorOverRows<2>(rows, cur, x0, y_first, lines, row_step, valid);
    default:
      return ErrorOverRows<3>(rows, cur, x0, y_first, lines, row_step, valid);
  }
}

VIDMILL_AVX2 int64_t SparseErrorAvx2(const PaddedPlane& prev, const PaddedPlane& cur, int x0,
                                     int x1, int y_first, int y1, int row_step, int dxq, int dyq) {
  // Lane k holds x0 + 2k; lanes at or beyond x1 are masked out.
  const __m256i valid = EvenLanesBefore(x0, x1);
  __m256i total = _mm256_setzero_si256();
  if (((dxq | dyq) & 3) == 0) {
    // A whole-pixel vector (most of the search's integer steps): the phase-0
    // taps are 0, 0, 128, 0, 0, 0, so the warp is exactly 128 × the displaced
    // samples, and the error 128 × their absolute difference (int16 up to 12
    // bits), taken on the even samples by the multiply-add.
    const int dx = dxq >> 2, dy = dyq >> 2;
    for (int y = y_first; y < y1; y += row_step) {
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cur.Row(y) + x0));
      const __m256i p =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(prev.Row(y + dy) + x0 + dx));
      const __m256i error =
          _mm256_madd_epi16(_mm256_abs_epi16(_mm256_sub_epi16(c, p)), TapPair(128, 0));
      total = _mm256_add_epi32(total, _mm256_and_si256(error, valid));
    }
    return SumLanes(total);
  }
  // A fractional vertical vector takes six source rows per line, and lines
  // row_step apart share 6 − row_step of them: each source row's horizontal
  // pass is done once (integers, so the sums are WarpEven8's exactly).
  constexpr int kMaxSourceRows = 40;
  const int lines = y1 > y_first ? (y1 - y_first + row_step - 1) / row_step : 0;
  const int source_rows = (lines - 1) * row_step + kTaps;
  if ((dyq & 3) == 0 || lines < 2 || row_step >= kTaps || source_rows > kMaxSourceRows) {
    for (int y = y_first; y < y1; y += row_step) {
      total = AddError(cur.Row(y) + x0, WarpEven8(prev, x0, y, dxq, dyq), valid, total);
    }
    return SumLanes(total);
  }
  const WarpTaps taps(x0, y_first, dxq, dyq);
  __m256i rows[kMaxSourceRows];
  for (int r = 0; r < source_rows; ++r) rows[r] = taps.Row(prev, taps.sy + r);
  return ErrorOverRowsAt(dyq & 3, rows, cur, x0, y_first, lines, row_step, valid);
}

// SparseErrorAvx2 for vectors that share dxq: the source rows of all of them
// get their horizontal pass once (the integer sums SparseErrorAvx2 computes,
// whose whole-pixel and per-row shortcuts give the same values too).
VIDMILL_AVX2 void SparseErrorsAvx2(const PaddedPlane& prev, const PaddedPlane& cur, int x0, int x1,
                                   int y_first, int y1, int row_step, int dxq, const int* dyqs,
                                   int count, int64_t* errors) {
  constexpr int kMaxSourceRows = 48;
  const int lines = y1 > y_first ? (y1 - y_first + row_step - 1) / row_step : 0;
  int lowest = 0, highest = 0;
  for (int i = 0; i < count; ++i) {
    lowest = i == 0 ? dyqs[i] >> 2 : std::min(lowest, dyqs[i] >> 2);
    highest = i == 0 ? dyqs[i] >> 2 : std::max(highest, dyqs[i] >> 2);
  }
  const int source_rows = (lines - 1) * row_step + kTaps + (highest - lowest);
  if (count < 2 || lines < 1 || source_rows > kMaxSourceRows) {
    for (int i = 0; i < count; ++i) {
      errors[i] = SparseErrorAvx2(prev, cur, x0, x1, y_first, y1, row_step, dxq, dyqs[i]);
    }
    return;
  }
  const __m256i valid = EvenLanesBefore(x0, x1);
  const WarpTaps taps(x0, y_first, dxq, 4 * lowest);  // rows from the lowest vector's
  __m256i rows[kMaxSourceRows];
  for (int r = 0; r < source_rows; ++r) rows[r] = taps.Row(prev, taps.sy + r);
  for (int i = 0; i < count; ++i) {
    errors[i] = ErrorOverRowsAt(dyqs[i] & 3, rows + ((dyqs[i] >> 2) - lowest), cur, x0, y_first,
                                lines, row_step, valid);
  }
}

VIDMILL_AVX2 void Warp16Avx2(const PaddedPlane& prev, int x, int y, int dxq, int dyq,
                             int32_t* out) {
  if (((dxq | dyq) & 3) == 0) {  // a whole-pixel vector: 128 × the displaced samples
    const uint16_t* p = prev.Row(y + (dyq >> 2)) + x + (dxq >> 2);
    for (int h = 0; h < 2; ++h) {
      const __m256i v =
          _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8 * h)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * h), _mm256_slli_epi32(v, 7));
    }
    return;
  }
  const __m256i even = WarpEven8(prev, x, y, dxq, dyq);
  const __m256i odd = WarpEven8(prev, x + 1, y, dxq, dyq);
  const __m256i lo = _mm256_unpacklo_epi32(even, odd);  // 0 1 2 3 | 8 9 10 11
  const __m256i hi = _mm256_unpackhi_epi32(even, odd);  // 4 5 6 7 | 12 13 14 15
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(lo, hi, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
}

// MixPortable in int32 lanes, which hold the sums up to 12 bits (the only
// depths the AVX2 kernels serve): 243 · 4095 · 128 · 1.5 + 256 · 128 · 4095
// < 2^31. Blocks of 8 or 16 (luma, 4:2:0 chroma); others take the portable loop.
VIDMILL_AVX2 void MixAvx2(const int32_t* warped, const uint16_t* spatial, int count, int weight,
                          int max_value, uint16_t* out) {
  if (count != 8 && count != 16) {
    MixPortable(warped, spatial, count, weight, max_value, out);
    return;
  }
  const __m256i w = _mm256_set1_epi32(weight);
  const __m256i w_spatial = _mm256_set1_epi32((256 - weight) * 128);
  const __m256i round = _mm256_set1_epi32(1 << 14);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i top = _mm256_set1_epi32(max_value);
  __m256i half[2] = {zero, zero};
  for (int h = 0; h < count / 8; ++h) {
    const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(warped + 8 * h));
    const __m256i s =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(spatial + 8 * h)));
    __m256i v = _mm256_add_epi32(_mm256_mullo_epi32(w, m), _mm256_mullo_epi32(w_spatial, s));
    v = _mm256_srai_epi32(_mm256_add_epi32(v, round), 15);
    half[h] = _mm256_min_epi32(_mm256_max_epi32(v, zero), top);
  }
  // Two lanes of eight int32 → sixteen uint16 in order.
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(half[0], half[1]), 0xd8);
  if (count == 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), packed);
  } else {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(packed));
  }
}

// Samples p[0], p[2], …, p[14] as eight int32 lanes.
VIDMILL_AVX2 inline __m256i Even8(const uint8_t* p) {
  const __m256i wide = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_and_si256(wide, _mm256_set1_epi32(0xffff));
}
VIDMILL_AVX2 inline __m256i Even8(const uint16_t* p) {
  return _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
                          _mm256_set1_epi32(0xffff));
}

// *sum += Σ |line − prediction| over the lanes of `valid`; nothing when `sum`
// is null (that error is not wanted).
VIDMILL_AVX2 inline void AddAbsErrors(__m256i line, __m256i prediction, __m256i valid,
                                      int64_t* sum) {
  if (sum == nullptr) return;
  *sum += SumLanes(_mm256_and_si256(_mm256_abs_epi32(_mm256_sub_epi32(line, prediction)), valid));
}

// |up(x − 1 + a) − down(x − 1 + b)| + … + |up(x + 1 + a) − down(x + 1 + b)|,
// with u[5 + o] = up(x + o) and d[5 + o] = down(x + o).
VIDMILL_AVX2 inline __m256i Sad3(const __m256i* u, const __m256i* d, int a, int b) {
  __m256i sum = _mm256_setzero_si256();
  for (int i = -1; i <= 1; ++i) {
    sum = _mm256_add_epi32(sum, _mm256_abs_epi32(_mm256_sub_epi32(u[5 + i + a], d[5 + i + b])));
  }
  return sum;
}

// EdgeErrorsPortable on eight even samples at once; blocks whose taps would
// reach past the line's ends (or whose 16-sample loads would) take the
// portable loop.
template <typename T, int kStep>
VIDMILL_AVX2 inline void EdgeErrorsAvx2(const KeptRows<T>& rows, int x0, int x1, int width,
                                        int64_t* cubic_error, int64_t* edge_error,
                                        int64_t* blend_error) {
  if (x1 - x0 > 16) {
    EdgeErrorsPortable(rows, x0, x1, width, kStep, cubic_error, edge_error, blend_error);
    return;
  }
  // The samples read are [x0 − 5, x0 + 21); near the line's ends, a copy of
  // them with the end samples replicated, as the contract says.
  constexpr int kReach = 5, kSpan = 16 + 2 * kReach;
  if (x0 < kReach || x0 + 16 + kReach > width) {
    T copies[5][kSpan];
    const T* sources[5] = {rows.up3, rows.up, rows.line, rows.down, rows.down3};
    const int first = x0 - kReach;
    const int begin = std::max(first, 0), end = std::min(first + kSpan, width);
    for (int r = 0; r < 5; ++r) {
      std::fill(copies[r], copies[r] + (begin - first), sources[r][0]);
      std::copy(sources[r] + begin, sources[r] + end, copies[r] + (begin - first));
      std::fill(copies[r] + (end - first), copies[r] + kSpan, sources[r][width - 1]);
    }
    const KeptRows<T> near{copies[0], copies[1], copies[2], copies[3], copies[4]};
    EdgeErrorsAvx2<T, kStep>(near, kReach, kReach + x1 - x0, kSpan, cubic_error, edge_error,
                             blend_error);
    return;
  }
  const __m256i up = Even8(rows.up + x0), down = Even8(rows.down + x0);
  const __m256i cubic = _mm256_srai_epi32(
      _mm256_add_epi32(
          _mm256_sub_epi32(
              _mm256_mullo_epi32(_mm256_set1_epi32(kCubicNear), _mm256_add_epi32(up, down)),
              _mm256_mullo_epi32(_mm256_set1_epi32(kCubicFar),
                                 _mm256_add_epi32(Even8(rows.up3 + x0), Even8(rows.down3 + x0)))),
          _mm256_set1_epi32(4096)),
      13);
  const __m256i valid = EvenLanesBefore(x0, x1);
  const __m256i line = Even8(rows.line + x0);
  AddAbsErrors(line, cubic, valid, cubic_error);
  if (edge_error == nullptr && blend_error == nullptr) return;
  __m256i u[11], d[11];
  for (int i = 0; i < 11; ++i) {
    u[i] = Even8(rows.up + x0 + i - 5);
    d[i] = Even8(rows.down + x0 + i - 5);
  }
  __m256i score = _mm256_sub_epi32(Sad3(u, d, 0, 0), _mm256_set1_epi32(1));
  __m256i edge = _mm256_srai_epi32(_mm256_add_epi32(u[5], d[5]), 1);
  // A direction is tried only where the one before it on its side won.
  for (int side : {-1, 1}) {
    __m256i won = _mm256_set1_epi32(-1);
    for (int k = 1; k <= 2; ++k) {
      const int shift = kStep * k * side;
      const __m256i candidate = Sad3(u, d, shift, -shift);
      won = _mm256_and_si256(won, _mm256_cmpgt_epi32(score, candidate));
      score = _mm256_blendv_epi8(score, candidate, won);
      edge = _mm256_blendv_epi8(
          edge, _mm256_srai_epi32(_mm256_add_epi32(u[5 + shift], d[5 - shift]), 1), won);
    }
  }
  AddAbsErrors(line, edge, valid, edge_error);
  const __m256i blend =
      _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(cubic, edge), _mm256_set1_epi32(1)), 1);
  AddAbsErrors(line, blend, valid, blend_error);
}

// The direction step as a template argument (its shifts index registers).
template <typename T>
VIDMILL_AVX2 inline void EdgeErrorsAvx2(const KeptRows<T>& rows, int x0, int x1, int width,
                                        int step, int64_t* cubic_error, int64_t* edge_error,
                                        int64_t* blend_error) {
  if (step == 1) {
    EdgeErrorsAvx2<T, 1>(rows, x0, x1, width, cubic_error, edge_error, blend_error);
  } else if (step == 2) {
    EdgeErrorsAvx2<T, 2>(rows, x0, x1, width, cubic_error, edge_error, blend_error);
  } else {
    EdgeErrorsPortable(rows, x0, x1, width, step, cubic_error, edge_error, blend_error);
  }
}

VIDMILL_AVX2 void EdgeErrors8Avx2(const KeptRows<uint8_t>& rows, int x0, int x1, int width,
                                  int step, int64_t* cubic_error, int64_t* edge_error,
                                  int64_t* blend_error) {
  EdgeErrorsAvx2(rows, x0, x1, width, step, cubic_error, edge_error, blend_error);
}
VIDMILL_AVX2 void EdgeErrors16Avx2(const KeptRows<uint16_t>& rows, int x0, int x1, int width,
                                   int step, int64_t* cubic_error, int64_t* edge_error,
                                   int64_t* blend_error) {
  EdgeErrorsAvx2(rows, x0, x1, width, step, cubic_error, edge_error, blend_error);
}

}  // namespace

const Kernels& PortableKernels() {
  static const Kernels kernels{&MaRowPortable<uint8_t>,
                               &MaRowPortable<uint16_t>,
                               &LumaRowPortable<uint8_t>,
                               &LumaRowPortable<uint16_t>,
                               &TakeStillPortable<uint8_t>,
                               &TakeStillPortable<uint16_t>,
                               &SparseErrorPortable,
                               &SparseErrorsPortable,
                               &Warp16Portable,
                               &MixPortable,
                               &EdgeErrorsPortable<uint8_t>,
                               &EdgeErrorsPortable<uint16_t>};
  return kernels;
}

const Kernels* Avx2Kernels() {
  static const Kernels kernels{&MaRow8Avx2,      &MaRow16Avx2,      &LumaRow8Avx2,
                               &LumaRow16Avx2,   &TakeStill8Avx2,   &TakeStill16Avx2,
                               &SparseErrorAvx2, &SparseErrorsAvx2, &Warp16Avx2,
                               &MixAvx2,         &EdgeErrors8Avx2,  &EdgeErrors16Avx2};
  static const bool supported = __builtin_cpu_supports("avx2");
  return supported ? &kernels : nullptr;
}

const Kernels& BestKernels(int bit_depth) {
  // Beyond 12 bits the int16 lanes and int32 sums could overflow.
  if (bit_depth <= 12 && Avx2Kernels() != nullptr && Avx2LoopsAllowed()) {
    return *Avx2Kernels();
  }
  return PortableKernels();
}

}  // namespace vidmill::filters::deint_internal
