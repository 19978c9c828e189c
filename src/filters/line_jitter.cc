#include "filters/line_jitter.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

#include "filters/frame.h"
#include "filters/halves.h"
#include "filters/resample.h"
#include "filters/simd.h"

namespace vidmill::filters {
namespace {

// Residuals (8-bit units) above this count with a capped (Huber) weight.
constexpr float kHuber = 8.0f;
// The ridge towards zero shift, as a fraction of the mean diagonal of the
// normal equations.
constexpr double kRidge = 0.02;
// The weight of the temporal term against the spatial one.
constexpr float kTemporalWeight = 1.0f;
// Passes of linearise, solve, resample after the first, with the reference.
constexpr int kPasses = 3;
// The first pass's line jitter (LineJitterRms) below which a picture is
// left as it is: on the training clips without line jitter it stays under
// 0.07 px, with 0.5 px RMS of line jitter it is above 0.22.
constexpr double kDetectRms = 0.1;
// The largest change of a line's shift in one pass, pixels.
constexpr double kMaxStep = 2.0;
// Columns left out at each end (their gradients see the replicated edge).
constexpr int kMargin = 8;
constexpr int64_t kThreadedPixels = 60000;

// Row y of `plane` as floats in 8-bit units.
void LoadRow(const PlaneView& plane, int y, float* out) {
  const float scale = 1.0f / static_cast<float>(1 << (plane.bit_depth - 8));
  if (plane.bit_depth > 8) {
    const uint16_t* row = plane.Row16(y);
    for (int x = 0; x < plane.width; ++x) out[x] = row[x] * scale;
  } else {
    const uint8_t* row = plane.Row8(y);
    for (int x = 0; x < plane.width; ++x) out[x] = row[x];
  }
}

// out[x] for x in [begin, end), where all four taps fall inside the row.
__attribute__((always_inline)) inline void ShiftInterior(const float* in, float* out, int whole,
                                                         const float* w, int begin, int end) {
  for (int x = begin; x < end; ++x) {
    const float* p = in + x + whole - 1;
    out[x] = w[0] * p[0] + w[1] * p[1] + w[2] * p[2] + w[3] * p[3];
  }
}
void ShiftInteriorPortable(const float* in, float* out, int whole, const float* w, int begin,
                           int end) {
  ShiftInterior(in, out, whole, w, begin, end);
}
#if defined(__x86_64__) || defined(__i386__)
// The same, compiled for AVX2 (each output the same sum in the same order).
VIDMILL_AVX2 void ShiftInteriorAvx2(const float* in, float* out, int whole, const float* w,
                                    int begin, int end) {
  ShiftInterior(in, out, whole, w, begin, end);
}
#endif

// out(x) = in(x + shift), Catmull-Rom, edge samples replicated.
void ShiftRow(const float* in, float* out, int width, float shift, bool avx2) {
  const int whole = static_cast<int>(std::floor(shift));
  float w[4];
  CatmullRomWeights(shift - static_cast<float>(whole), w);
  // Interior: x + whole − 1 ≥ 0 and x + whole + 2 ≤ width − 1.
  const int begin = std::clamp(1 - whole, 0, width);
  const int end = std::clamp(width - 2 - whole, begin, width);
  auto edge = [&](int x) {
    float sum = 0;
    for (int tap = 0; tap < 4; ++tap)
      sum += w[tap] * in[std::clamp(x + whole - 1 + tap, 0, width - 1)];
    out[x] = sum;
  };
  for (int x = 0; x < begin; ++x) edge(x);
#if defined(__x86_64__) || defined(__i386__)
  if (avx2) {
    ShiftInteriorAvx2(in, out, whole, w, begin, end);
  } else {
    ShiftInteriorPortable(in, out, whole, w, begin, end);
  }
#else
  ShiftInteriorPortable(in, out, whole, w, begin, end);
#endif
  for (int x = end; x < width; ++x) edge(x);
}

// The sums one line contributes: the spatial equation of line y couples
// (y − 1, y, y + 1) — six products of their coefficients and three with the
// residual — and the temporal one adds to line y's diagonal and right side.
struct LineSums {
  double cc[6] = {};  // (0,0) (0,1) (0,2) (1,1) (1,2) (2,2)
  double cr[3] = {};
  double temporal_cc = 0, temporal_cr = 0;
};

// The lines' float sums, eight lanes (lane i takes the columns x ≡ kMargin + i
// mod 8), in the order the terms are listed in LineSums.
struct Lanes {
  float sums[11][8] = {};
};

// Huber weight × kTemporalWeight, for the temporal term.
constexpr float kTemporalHuber = kTemporalWeight * kHuber;

// Columns [x0, min(x0 + 8, end)) of line `here`: the spatial term (against
// the midpoint of `up` and `down`) added to lanes 0–8 and, when `ref` is not
// null, the temporal term to lanes 9–10. The AVX2 loop below does whole
// groups of eight with the same operations in the same order on each lane,
// so both give the same sums.
void AddColumnsPortable(const float* up, const float* here, const float* down, const float* ref,
                        int x0, int end, Lanes* lanes) {
  for (int lane = 0; lane < 8 && x0 + lane < end; ++lane) {
    const int x = x0 + lane;
    const float g_here = 0.5f * (here[x + 1] - here[x - 1]);
    if (up != nullptr) {
      const float residual = here[x] - 0.5f * (up[x] + down[x]);
      const float magnitude = std::abs(residual);
      const float weight = magnitude <= kHuber ? 1.0f : kHuber / magnitude;
      const float c0 = -0.25f * (up[x + 1] - up[x - 1]), c1 = g_here;
      const float c2 = -0.25f * (down[x + 1] - down[x - 1]);
      const float w0 = weight * c0, w1 = weight * c1, w2 = weight * c2;
      lanes->sums[0][lane] += w0 * c0;
      lanes->sums[1][lane] += w0 * c1;
      lanes->sums[2][lane] += w0 * c2;
      lanes->sums[3][lane] += w1 * c1;
      lanes->sums[4][lane] += w1 * c2;
      lanes->sums[5][lane] += w2 * c2;
      lanes->sums[6][lane] += w0 * residual;
      lanes->sums[7][lane] += w1 * residual;
      lanes->sums[8][lane] += w2 * residual;
    }
    if (ref != nullptr) {
      const bool valid = ref[x] == ref[x];  // not NaN
      const float residual = valid ? here[x] - ref[x] : 0.0f;
      const float magnitude = std::abs(residual);
      float weight = magnitude <= kHuber ? kTemporalWeight : kTemporalHuber / magnitude;
      if (!valid) weight = 0.0f;
      const float wg = weight * g_here;
      lanes->sums[9][lane] += wg * g_here;
      lanes->sums[10][lane] += wg * residual;
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
// |v| and the Huber weight of v: `inside` where |v| ≤ kHuber, else
// `numerator` / |v|.
VIDMILL_AVX2 __m256 HuberWeight8(__m256 residual, __m256 inside, __m256 numerator) {
  const __m256 magnitude = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), residual);
  return _mm256_blendv_ps(_mm256_div_ps(numerator, magnitude), inside,
                          _mm256_cmp_ps(magnitude, _mm256_set1_ps(kHuber), _CMP_LE_OQ));
}

VIDMILL_AVX2 __m256 Difference8(const float* p, int x) {
  return _mm256_sub_ps(_mm256_loadu_ps(p + x + 1), _mm256_loadu_ps(p + x - 1));
}

// AddColumnsPortable for the whole groups of eight of [kMargin, end); returns
// where it stopped.
VIDMILL_AVX2 int AddColumnsAvx2(const float* up, const float* here, const float* down,
                                const float* ref, int end, Lanes* lanes) {
  __m256 sums[11];
  for (int k = 0; k < 11; ++k) sums[k] = _mm256_loadu_ps(lanes->sums[k]);
  const __m256 half = _mm256_set1_ps(0.5f), quarter = _mm256_set1_ps(-0.25f);
  const __m256 one = _mm256_set1_ps(1.0f), huber = _mm256_set1_ps(kHuber);
  const __m256 temporal = _mm256_set1_ps(kTemporalWeight);
  const __m256 temporal_huber = _mm256_set1_ps(kTemporalHuber);
  int x = kMargin;
  for (; x + 8 <= end; x += 8) {
    const __m256 middle = _mm256_loadu_ps(here + x);
    const __m256 g_here = _mm256_mul_ps(half, Difference8(here, x));
    if (up != nullptr) {
      const __m256 residual = _mm256_sub_ps(
          middle,
          _mm256_mul_ps(half, _mm256_add_ps(_mm256_loadu_ps(up + x), _mm256_loadu_ps(down + x))));
      const __m256 weight = HuberWeight8(residual, one, huber);
      const __m256 c0 = _mm256_mul_ps(quarter, Difference8(up, x));
      const __m256 c2 = _mm256_mul_ps(quarter, Difference8(down, x));
      const __m256 w0 = _mm256_mul_ps(weight, c0), w1 = _mm256_mul_ps(weight, g_here);
      const __m256 w2 = _mm256_mul_ps(weight, c2);
      sums[0] = _mm256_add_ps(sums[0], _mm256_mul_ps(w0, c0));
      sums[1] = _mm256_add_ps(sums[1], _mm256_mul_ps(w0, g_here));
      sums[2] = _mm256_add_ps(sums[2], _mm256_mul_ps(w0, c2));
      sums[3] = _mm256_add_ps(sums[3], _mm256_mul_ps(w1, g_here));
      sums[4] = _mm256_add_ps(sums[4], _mm256_mul_ps(w1, c2));
      sums[5] = _mm256_add_ps(sums[5], _mm256_mul_ps(w2, c2));
      sums[6] = _mm256_add_ps(sums[6], _mm256_mul_ps(w0, residual));
      sums[7] = _mm256_add_ps(sums[7], _mm256_mul_ps(w1, residual));
      sums[8] = _mm256_add_ps(sums[8], _mm256_mul_ps(w2, residual));
    }
    if (ref != nullptr) {
      const __m256 r = _mm256_loadu_ps(ref + x);
      const __m256 valid = _mm256_cmp_ps(r, r, _CMP_ORD_Q);
      const __m256 residual = _mm256_and_ps(_mm256_sub_ps(middle, r), valid);
      const __m256 weight = _mm256_and_ps(HuberWeight8(residual, temporal, temporal_huber), valid);
      const __m256 wg = _mm256_mul_ps(weight, g_here);
      sums[9] = _mm256_add_ps(sums[9], _mm256_mul_ps(wg, g_here));
      sums[10] = _mm256_add_ps(sums[10], _mm256_mul_ps(wg, residual));
    }
  }
  for (int k = 0; k < 11; ++k) _mm256_storeu_ps(lanes->sums[k], sums[k]);
  return x;
}
#endif

LineSums SumLine(const float* up, const float* here, const float* down, const float* ref, int width,
                 bool avx2) {
  Lanes lanes;
  const int end = width - kMargin;
  int x = kMargin;
#if defined(__x86_64__) || defined(__i386__)
  if (avx2) x = AddColumnsAvx2(up, here, down, ref, end, &lanes);
#endif
  for (; x < end; x += 8) AddColumnsPortable(up, here, down, ref, x, end, &lanes);
  double total[11] = {};
  for (int k = 0; k < 11; ++k) {
    for (int lane = 0; lane < 8; ++lane) total[k] += lanes.sums[k][lane];
  }
  LineSums line;
  for (int k = 0; k < 6; ++k) line.cc[k] = total[k];
  for (int k = 0; k < 3; ++k) line.cr[k] = total[6 + k];
  line.temporal_cc = total[9];
  line.temporal_cr = total[10];
  return line;
}

// Solves the symmetric pentadiagonal system (diagonal d, first and second
// off-diagonals e and f) in place into b, by LDLᵀ.
void SolvePentadiagonal(std::vector<double> d, std::vector<double> e, std::vector<double> f,
                        std::vector<double>* b) {
  const size_t n = d.size();
  std::vector<double> l1(n, 0), l2(n, 0), diag(n, 0);
  for (size_t i = 0; i < n; ++i) {
    double value = d[i];
    if (i >= 1) value -= l1[i - 1] * l1[i - 1] * diag[i - 1];
    if (i >= 2) value -= l2[i - 2] * l2[i - 2] * diag[i - 2];
    diag[i] = value;
    if (i + 1 < n) {
      double off = e[i];
      if (i >= 1) off -= l1[i - 1] * diag[i - 1] * l2[i - 1];
      l1[i] = off / value;
    }
    if (i + 2 < n) l2[i] = f[i] / value;
  }
  std::vector<double>& z = *b;
  for (size_t i = 0; i < n; ++i) {
    if (i >= 1) z[i] -= l1[i - 1] * z[i - 1];
    if (i >= 2) z[i] -= l2[i - 2] * z[i - 2];
  }
  for (size_t i = 0; i < n; ++i) z[i] /= diag[i];
  for (size_t i = n; i-- > 0;) {
    if (i + 1 < n) z[i] -= l1[i] * z[i + 1];
    if (i + 2 < n) z[i] -= l2[i] * z[i + 2];
  }
}

}  // namespace

std::vector<float> EstimateLineShifts(const PlaneView& luma,
                                      const std::function<void(float*)>& fill_reference) {
  const int width = luma.width, height = luma.height;
  std::vector<float> shifts(height, 0.0f);
  if (width < 4 * kMargin || height < 3) return shifts;
  const size_t samples = static_cast<size_t>(width) * height;
  std::vector<float, SampleAllocator<float>> source(samples), corrected(samples);
  const bool threaded = static_cast<int64_t>(width) * height >= kThreadedPixels;
  const bool avx2 = Avx2LoopsAllowed();
  RunInHalves(height, threaded, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) LoadRow(luma, y, &source[static_cast<size_t>(y) * width]);
  });
  std::vector<LineSums> sums(height);
  std::vector<float, SampleAllocator<float>> reference_samples;
  const float* reference = nullptr;
  for (int pass = 0; pass <= kPasses; ++pass) {
    if (pass == 1) {
      // The first pass, on the picture alone, decides whether there is line
      // jitter to remove.
      if (LineJitterRms(shifts) < kDetectRms) return std::vector<float>(height, 0.0f);
      if (fill_reference) {
        reference_samples.resize(samples);
        fill_reference(reference_samples.data());
        reference = reference_samples.data();
      }
    }
    // The lines as corrected so far (the first pass: as they came).
    const float* lines = pass == 0 ? source.data() : corrected.data();
    if (pass > 0) {
      RunInHalves(height, threaded, [&](int begin, int end) {
        for (int y = begin; y < end; ++y) {
          const size_t row = static_cast<size_t>(y) * width;
          ShiftRow(&source[row], &corrected[row], width, shifts[y], avx2);
        }
      });
    }
    RunInHalves(height, threaded, [&](int begin, int end) {
      for (int y = begin; y < end; ++y) {
        const float* here = lines + static_cast<size_t>(y) * width;
        const bool inner = y >= 1 && y + 1 < height;
        sums[y] =
            SumLine(inner ? here - width : nullptr, here, inner ? here + width : nullptr,
                    reference ? reference + static_cast<size_t>(y) * width : nullptr, width, avx2);
      }
    });
    // Assemble: line y's spatial equation adds to rows y − 1 … y + 1.
    std::vector<double> d(height, 0), e(height, 0), f(height, 0), b(height, 0);
    for (int y = 0; y < height; ++y) {
      const LineSums& line = sums[y];
      d[y] += line.temporal_cc;
      b[y] -= line.temporal_cr;
      if (y < 1 || y + 1 >= height) continue;
      d[y - 1] += line.cc[0];
      e[y - 1] += line.cc[1];
      f[y - 1] += line.cc[2];
      d[y] += line.cc[3];
      e[y] += line.cc[4];
      d[y + 1] += line.cc[5];
      b[y - 1] -= line.cr[0];
      b[y] -= line.cr[1];
      b[y + 1] -= line.cr[2];
    }
    double mean_diagonal = 0;
    for (double value : d) mean_diagonal += value;
    mean_diagonal /= height;
    if (mean_diagonal <= 0) break;  // a flat picture: nothing to measure
    const double ridge = kRidge * mean_diagonal;
    for (int y = 0; y < height; ++y) {
      d[y] += ridge;
      b[y] -= ridge * shifts[y];
    }
    SolvePentadiagonal(std::move(d), std::move(e), std::move(f), &b);
    for (int y = 0; y < height; ++y) {
      shifts[y] += static_cast<float>(std::clamp(b[y], -kMaxStep, kMaxStep));
    }
  }
  return shifts;
}

double LineJitterRms(const std::vector<float>& shifts) {
  const int n = static_cast<int>(shifts.size());
  double sum = 0;
  int count = 0;
  for (int y = 7; y + 7 < n; ++y) {
    double mean = 0;
    for (int k = y - 7; k <= y + 7; ++k) mean += shifts[k];
    mean /= 15;
    sum += (shifts[y] - mean) * (shifts[y] - mean);
    ++count;
  }
  return count ? std::sqrt(sum / count) : 0.0;
}

namespace {

template <typename T>
void StoreRow(const float* in, int width, float scale, float max_value, T* out) {
  for (int x = 0; x < width; ++x) {
    out[x] = static_cast<T>(std::clamp(in[x] * scale, 0.0f, max_value) + 0.5f);
  }
}

}  // namespace

void ShiftLines(const PlaneView& plane, const std::vector<float>& shifts) {
  const int width = plane.width;
  const float max_value = static_cast<float>((1 << plane.bit_depth) - 1);
  const float scale = static_cast<float>(1 << (plane.bit_depth - 8));
  const bool threaded = static_cast<int64_t>(width) * plane.height >= kThreadedPixels;
  const bool avx2 = Avx2LoopsAllowed();
  RunInHalves(plane.height, threaded, [&](int begin, int end) {
    std::vector<float> in(width), out(width);
    for (int y = begin; y < end; ++y) {
      if (shifts[y] == 0.0f) continue;
      LoadRow(plane, y, in.data());
      ShiftRow(in.data(), out.data(), width, shifts[y], avx2);
      if (plane.bit_depth > 8) {
        StoreRow(out.data(), width, scale, max_value, plane.Row16(y));
      } else {
        StoreRow(out.data(), width, scale, max_value, plane.Row8(y));
      }
    }
  });
}

namespace {

// Row y of the reference: out[x] = bilinear sample of `plane` (floats, width
// × height, in 8-bit units) at map(x, y); NaN outside. Columns [x,
// width) — the AVX2 loop below does the first groups of eight with the same
// operations in the same order.
struct WarpInputs {
  const float* plane;
  int width, height;
  float a00, a01, a10, a11, t0, t1;
};

void WarpReferenceRow(const WarpInputs& in, int y, int x, float* out) {
  const float yf = static_cast<float>(y);
  const float row_x = in.a01 * yf + in.t0, row_y = in.a11 * yf + in.t1;
  const float x_limit = static_cast<float>(in.width - 1);
  const float y_limit = static_cast<float>(in.height - 1);
  for (; x < in.width; ++x) {
    const float xf = static_cast<float>(x);
    const float sx = in.a00 * xf + row_x, sy = in.a10 * xf + row_y;
    if (!(sx >= 0 && sy >= 0 && sx < x_limit && sy < y_limit)) {
      out[x] = std::nanf("");
      continue;
    }
    const int ix = static_cast<int>(sx), iy = static_cast<int>(sy);
    const float fx = sx - static_cast<float>(ix), fy = sy - static_cast<float>(iy);
    const float* a = in.plane + static_cast<size_t>(iy) * in.width + ix;
    const float* b = a + in.width;
    const float top = a[0] + fx * (a[1] - a[0]);
    const float bottom = b[0] + fx * (b[1] - b[0]);
    out[x] = top + fy * (bottom - top);
  }
}

#if defined(__x86_64__) || defined(__i386__)
VIDMILL_AVX2 int WarpReferenceRowAvx2(const WarpInputs& in, int y, float* out) {
  const int end = in.width / 8 * 8;
  const float yf = static_cast<float>(y);
  const __m256 row_x = _mm256_set1_ps(in.a01 * yf + in.t0);
  const __m256 row_y = _mm256_set1_ps(in.a11 * yf + in.t1);
  const __m256 a00 = _mm256_set1_ps(in.a00), a10 = _mm256_set1_ps(in.a10);
  const __m256 x_limit = _mm256_set1_ps(static_cast<float>(in.width - 1));
  const __m256 y_limit = _mm256_set1_ps(static_cast<float>(in.height - 1));
  const __m256 zero = _mm256_setzero_ps(), nan = _mm256_set1_ps(std::nanf(""));
  const __m256i one = _mm256_set1_epi32(1), down = _mm256_set1_epi32(in.width);
  const __m256i stride = _mm256_set1_epi32(in.width);
  const __m256 lanes = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  for (int x = 0; x < end; x += 8) {
    const __m256 xf = _mm256_add_ps(_mm256_set1_ps(static_cast<float>(x)), lanes);
    __m256 sx = _mm256_add_ps(_mm256_mul_ps(a00, xf), row_x);
    __m256 sy = _mm256_add_ps(_mm256_mul_ps(a10, xf), row_y);
    const __m256 valid = _mm256_and_ps(
        _mm256_and_ps(_mm256_cmp_ps(sx, zero, _CMP_GE_OQ), _mm256_cmp_ps(sy, zero, _CMP_GE_OQ)),
        _mm256_and_ps(_mm256_cmp_ps(sx, x_limit, _CMP_LT_OQ),
                      _mm256_cmp_ps(sy, y_limit, _CMP_LT_OQ)));
    sx = _mm256_blendv_ps(zero, sx, valid);
    sy = _mm256_blendv_ps(zero, sy, valid);
    const __m256i ix = _mm256_cvttps_epi32(sx), iy = _mm256_cvttps_epi32(sy);
    const __m256 fx = _mm256_sub_ps(sx, _mm256_cvtepi32_ps(ix));
    const __m256 fy = _mm256_sub_ps(sy, _mm256_cvtepi32_ps(iy));
    const __m256i i = _mm256_add_epi32(_mm256_mullo_epi32(iy, stride), ix);
    const __m256 a0 = _mm256_i32gather_ps(in.plane, i, 4);
    const __m256 a1 = _mm256_i32gather_ps(in.plane, _mm256_add_epi32(i, one), 4);
    const __m256i i_down = _mm256_add_epi32(i, down);
    const __m256 b0 = _mm256_i32gather_ps(in.plane, i_down, 4);
    const __m256 b1 = _mm256_i32gather_ps(in.plane, _mm256_add_epi32(i_down, one), 4);
    const __m256 top = _mm256_add_ps(a0, _mm256_mul_ps(fx, _mm256_sub_ps(a1, a0)));
    const __m256 bottom = _mm256_add_ps(b0, _mm256_mul_ps(fx, _mm256_sub_ps(b1, b0)));
    const __m256 value = _mm256_add_ps(top, _mm256_mul_ps(fy, _mm256_sub_ps(bottom, top)));
    _mm256_storeu_ps(out + x, _mm256_blendv_ps(nan, value, valid));
  }
  return end;
}
#endif

}  // namespace

void WarpReference(const PlaneView& plane, const AffineMap& map, float* out) {
  const int width = plane.width, height = plane.height;
  std::vector<float, SampleAllocator<float>> samples(static_cast<size_t>(width) * height);
  const WarpInputs inputs{samples.data(),
                          width,
                          height,
                          static_cast<float>(map.a[0][0]),
                          static_cast<float>(map.a[0][1]),
                          static_cast<float>(map.a[1][0]),
                          static_cast<float>(map.a[1][1]),
                          static_cast<float>(map.t[0]),
                          static_cast<float>(map.t[1])};
  const bool threaded = static_cast<int64_t>(width) * height >= kThreadedPixels;
  const bool avx2 = Avx2LoopsAllowed();
  RunInHalves(height, threaded, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) LoadRow(plane, y, &samples[static_cast<size_t>(y) * width]);
  });
  RunInHalves(height, threaded, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      float* row = out + static_cast<size_t>(y) * width;
      int x = 0;
#if defined(__x86_64__) || defined(__i386__)
      if (avx2) x = WarpReferenceRowAvx2(inputs, y, row);
#endif
      WarpReferenceRow(inputs, y, x, row);
    }
  });
}

}  // namespace vidmill::filters
