#include "filters/dejit.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "filters/halves.h"
#include "filters/line_jitter.h"
#include "filters/resample.h"
#include "filters/simd.h"

namespace vidmill::filters {
namespace {

// Level 0 of the motion pyramid is about this wide (an integer downscale).
constexpr int kMotionWidth = 480;

// Residuals (8-bit units) above this count with a capped (Huber) weight, so
// moving objects and occlusions pull the fit little.
constexpr double kHuber = 10.0;

// A frame pair is a cut when, after the fit, the mean absolute residual (8-bit
// units) stays above kCutResidual, or above kCutContrast × the next picture's
// own mean absolute deviation (and kCutFloor: flat, noisy pictures), or when
// the overlap is under a quarter of the picture. On the training clips' shaken
// pans the residual stays under 0.1 of the deviation.
constexpr double kCutResidual = 25.0;
constexpr double kCutContrast = 0.4;
constexpr double kCutFloor = 3.0;

// Planes at least this large are split across two threads.
constexpr int64_t kThreadedPixels = 60000;

// The four source indices (edge-replicated) and weights of each output
// position of one axis, tap by tap (index[tap][pos]): eight positions' taps
// load as one vector.
struct Taps {
  std::array<std::vector<int>, 4> index;
  std::array<std::vector<float>, 4> weight;
};

Taps MakeTaps(int size, double zoom, double offset) {
  Taps taps;
  for (int tap = 0; tap < 4; ++tap) {
    taps.index[tap].resize(size);
    taps.weight[tap].resize(size);
  }
  const double centre = (size - 1) / 2.0;
  for (int pos = 0; pos < size; ++pos) {
    const double source = centre + (pos - centre) / zoom + offset;
    const int base = static_cast<int>(std::floor(source));
    float weight[4];
    CatmullRomWeights(source - base, weight);
    for (int tap = 0; tap < 4; ++tap) {
      taps.index[tap][pos] = std::clamp(base - 1 + tap, 0, size - 1);
      taps.weight[tap][pos] = weight[tap];
    }
  }
  return taps;
}

// Output row y of the warp: the four source rows blended into `line` (float),
// then each output sample from four samples of `line`. Samples [x, width) —
// the AVX2 version below does the first ones eight at a time, with the same
// operations in the same order, so both give the same pictures.
template <typename T>
void WarpRowFrom(const T* const src[4], const float w[4], const Taps& columns, int width, int x,
                 float max_value, float* line, T* dst) {
  for (int i = x; i < width; ++i) {
    line[i] = w[0] * src[0][i] + w[1] * src[1][i] + w[2] * src[2][i] + w[3] * src[3][i];
  }
  for (int i = x; i < width; ++i) {
    const float value = columns.weight[0][i] * line[columns.index[0][i]] +
                        columns.weight[1][i] * line[columns.index[1][i]] +
                        columns.weight[2][i] * line[columns.index[2][i]] +
                        columns.weight[3][i] * line[columns.index[3][i]];
    dst[i] = static_cast<T>(std::clamp(value, 0.0f, max_value) + 0.5f);
  }
}

#if defined(__x86_64__) || defined(__i386__)

VIDMILL_AVX2 __m256 LoadSamples(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
VIDMILL_AVX2 __m256 LoadSamples(const uint16_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// Tap t's weight times its sample of `line`, for positions x … x + 7. (A
// function: GCC does not give a lambda its enclosing function's target.)
VIDMILL_AVX2 __m256 TapTimes(const Taps& taps, int t, int x, const float* line) {
  const __m256i index =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(taps.index[t].data() + x));
  return _mm256_mul_ps(_mm256_loadu_ps(taps.weight[t].data() + x),
                       _mm256_i32gather_ps(line, index, 4));
}

// The first multiple of eight samples of a row (the rest: WarpRowFrom); the
// whole vertical pass runs before the horizontal one reads `line`.
template <typename T>
VIDMILL_AVX2 int WarpRowAvx2(const T* const src[4], const float w[4], const Taps& columns,
                             int width, float max_value, float* line, T* dst) {
  const int end = width / 8 * 8;
  const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]);
  const __m256 w2 = _mm256_set1_ps(w[2]), w3 = _mm256_set1_ps(w[3]);
  for (int x = 0; x < end; x += 8) {
    __m256 sum = _mm256_add_ps(_mm256_mul_ps(w0, LoadSamples(src[0] + x)),
                               _mm256_mul_ps(w1, LoadSamples(src[1] + x)));
    sum = _mm256_add_ps(sum, _mm256_mul_ps(w2, LoadSamples(src[2] + x)));
    sum = _mm256_add_ps(sum, _mm256_mul_ps(w3, LoadSamples(src[3] + x)));
    _mm256_storeu_ps(line + x, sum);
  }
  for (int x = end; x < width; ++x) {  // the horizontal pass reads the whole line
    line[x] = w[0] * src[0][x] + w[1] * src[1][x] + w[2] * src[2][x] + w[3] * src[3][x];
  }
  const __m256 top = _mm256_set1_ps(max_value);
  for (int x = 0; x < end; x += 8) {
    __m256 value = _mm256_add_ps(TapTimes(columns, 0, x, line), TapTimes(columns, 1, x, line));
    value = _mm256_add_ps(value, TapTimes(columns, 2, x, line));
    value = _mm256_add_ps(value, TapTimes(columns, 3, x, line));
    StoreRounded8(value, top, dst + x);
  }
  return end;
}
#endif

template <typename T>
void WarpRows(const PlaneView& in, const PlaneView& out, const Taps& columns, const Taps& rows,
              bool avx2, int row_begin, int row_end) {
  const int width = in.width;
  const float max_value = static_cast<float>((1 << in.bit_depth) - 1);
  std::vector<float> line(width);
  for (int y = row_begin; y < row_end; ++y) {
    const T* src[4];
    float w[4];
    for (int tap = 0; tap < 4; ++tap) {
      src[tap] = reinterpret_cast<const T*>(in.data + in.stride * rows.index[tap][y]);
      w[tap] = rows.weight[tap][y];
    }
    T* dst = reinterpret_cast<T*>(out.data + out.stride * y);
    int x = 0;
#if defined(__x86_64__) || defined(__i386__)
    if (avx2) x = WarpRowAvx2(src, w, columns, width, max_value, line.data(), dst);
#endif
    WarpRowFrom(src, w, columns, width, x, max_value, line.data(), dst);
  }
}

// Exhaustive integer translation search on level 1: the (dx, dy) minimising the
// mean absolute difference of next(p) and previous(p + d), every other row.
void CoarseSearch(const MotionPyramid& previous, const MotionPyramid& next, int* best_dx,
                  int* best_dy) {
  const int width = next.width1, height = next.height1;
  const int range = std::min({12, width / 4, height / 4});
  *best_dx = 0;
  *best_dy = 0;
  if (range < 1) return;
  const int side = 2 * range + 1;
  std::vector<double> costs(static_cast<size_t>(side) * side);
  RunInHalves(side, static_cast<int64_t>(width) * height * 4 >= kThreadedPixels,
              [&](int begin, int end) {
                for (int dy = begin - range; dy < end - range; ++dy) {
                  for (int dx = -range; dx <= range; ++dx) {
                    double cost = 0;
                    for (int y = range; y < height - range; y += 2) {
                      const float* a = &next.level1[static_cast<size_t>(y) * width];
                      const float* b = &previous.level1[static_cast<size_t>(y + dy) * width + dx];
                      float row = 0;
                      for (int x = range; x < width - range; ++x) row += std::abs(a[x] - b[x]);
                      cost += row;
                    }
                    costs[static_cast<size_t>(dy + range) * side + dx + range] = cost;
                  }
                }
              });
  double best_cost = 1e300;
  for (int dy = -range; dy <= range; ++dy) {
    for (int dx = -range; dx <= range; ++dx) {
      // Prefer the smaller motion among equal costs (flat pictures).
      const double cost = costs[static_cast<size_t>(dy + range) * side + dx + range] +
                          1e-6 * (std::abs(dx) + std::abs(dy));
      if (cost < best_cost) {
        best_cost = cost;
        *best_dx = dx;
        *best_dy = dy;
      }
    }
  }
}

struct NormalEquations {
  double h[4][4] = {};
  double g[4] = {};
  double abs_residual = 0;
  int64_t count = 0;

  void Add(const NormalEquations& other) {
    for (int r = 0; r < 4; ++r) {
      g[r] += other.g[r];
      for (int c = 0; c <= r; ++c) h[r][c] += other.h[r][c];
    }
    abs_residual += other.abs_residual;
    count += other.count;
  }
};

// What one Gauss-Newton pass reads: the previous picture and its gradients,
// the next picture, and the parameters (as floats) of the current estimate.
struct FitInputs {
  const float* previous;
  const float* grad_x;
  const float* grad_y;
  const float* next;
  int width, height;
  float cx, cy;
  float p[4];
};

// One row's sums, eight pixels at a time in eight float lanes (lane i takes
// the pixels x ≡ i mod 8): g (4), the lower triangle of h (10) and the
// absolute residuals, then the count. The AVX2 loop and the portable one do
// the same float operations in the same order on each lane, so they give
// the same sums; a row's lanes are then added in order, in double.
struct RowLanes {
  float sums[15][8] = {};
  int64_t count = 0;
};

// The portable lanes for pixels x0 … x0 + 7 of row y (those < width).
void FitPixelsPortable(const FitInputs& in, int y, int x0, RowLanes* lanes) {
  const float yf = static_cast<float>(y), ry = yf - in.cy;
  const int w = in.width;
  for (int lane = 0; lane < 8; ++lane) {
    const int x = x0 + lane;
    if (x >= w) break;
    const float xf = static_cast<float>(x), rx = xf - in.cx;
    float sx = ((xf + in.p[0]) + in.p[2] * rx) - in.p[3] * ry;
    float sy = ((yf + in.p[1]) + in.p[3] * rx) + in.p[2] * ry;
    const bool valid = sx >= 1 && sy >= 1 && sx < static_cast<float>(w - 2) &&
                       sy < static_cast<float>(in.height - 2);
    if (!valid) sx = sy = 1;  // a sample inside, whose terms get weight 0
    const int ix = static_cast<int>(sx), iy = static_cast<int>(sy);
    const float fx = sx - static_cast<float>(ix), fy = sy - static_cast<float>(iy);
    const size_t i = static_cast<size_t>(iy) * w + ix;
    auto bilinear = [&](const float* plane) {
      const float top = plane[i] + fx * (plane[i + 1] - plane[i]);
      const float bottom = plane[i + w] + fx * (plane[i + w + 1] - plane[i + w]);
      return top + fy * (bottom - top);
    };
    const float residual = bilinear(in.previous) - in.next[static_cast<size_t>(y) * w + x];
    const float gx = bilinear(in.grad_x), gy = bilinear(in.grad_y);
    const float jacobian[4] = {gx, gy, gx * rx + gy * ry, gy * rx - gx * ry};
    const float magnitude = std::abs(residual);
    float weight =
        magnitude <= static_cast<float>(kHuber) ? 1.0f : static_cast<float>(kHuber) / magnitude;
    if (!valid) weight = 0;
    float weighted[4];
    for (int r = 0; r < 4; ++r) weighted[r] = weight * jacobian[r];
    int k = 0;
    for (int r = 0; r < 4; ++r) lanes->sums[k++][lane] += weighted[r] * residual;
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c <= r; ++c) lanes->sums[k++][lane] += weighted[r] * jacobian[c];
    }
    lanes->sums[k][lane] += valid ? magnitude : 0.0f;
    lanes->count += valid;
  }
}

#if defined(__x86_64__) || defined(__i386__)
VIDMILL_AVX2 __m256 Bilinear8(const float* plane, __m256i i, int w, __m256 fx, __m256 fy) {
  const __m256i one = _mm256_set1_epi32(1), down = _mm256_set1_epi32(w);
  const __m256 a = _mm256_i32gather_ps(plane, i, 4);
  const __m256 b = _mm256_i32gather_ps(plane, _mm256_add_epi32(i, one), 4);
  const __m256i i_down = _mm256_add_epi32(i, down);
  const __m256 c = _mm256_i32gather_ps(plane, i_down, 4);
  const __m256 d = _mm256_i32gather_ps(plane, _mm256_add_epi32(i_down, one), 4);
  const __m256 top = _mm256_add_ps(a, _mm256_mul_ps(fx, _mm256_sub_ps(b, a)));
  const __m256 bottom = _mm256_add_ps(c, _mm256_mul_ps(fx, _mm256_sub_ps(d, c)));
  return _mm256_add_ps(top, _mm256_mul_ps(fy, _mm256_sub_ps(bottom, top)));
}

// FitPixelsPortable for the whole groups of eight of row y; returns where it
// stopped.
VIDMILL_AVX2 int FitRowAvx2(const FitInputs& in, int y, RowLanes* lanes) {
  const int w = in.width, end = w / 8 * 8;
  const float yf = static_cast<float>(y), ry_scalar = yf - in.cy;
  const __m256 ry = _mm256_set1_ps(ry_scalar), y_v = _mm256_set1_ps(yf);
  const __m256 p0 = _mm256_set1_ps(in.p[0]), p1 = _mm256_set1_ps(in.p[1]);
  const __m256 p2 = _mm256_set1_ps(in.p[2]), p3 = _mm256_set1_ps(in.p[3]);
  const __m256 one = _mm256_set1_ps(1), cx = _mm256_set1_ps(in.cx);
  const __m256 x_limit = _mm256_set1_ps(static_cast<float>(w - 2));
  const __m256 y_limit = _mm256_set1_ps(static_cast<float>(in.height - 2));
  const __m256 huber = _mm256_set1_ps(static_cast<float>(kHuber));
  const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
  __m256 sums[15];
  for (int k = 0; k < 15; ++k) sums[k] = _mm256_loadu_ps(lanes->sums[k]);
  const __m256 lane_offsets = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  for (int x0 = 0; x0 < end; x0 += 8) {
    const __m256 xf = _mm256_add_ps(_mm256_set1_ps(static_cast<float>(x0)), lane_offsets);
    const __m256 rx = _mm256_sub_ps(xf, cx);
    __m256 sx = _mm256_sub_ps(_mm256_add_ps(_mm256_add_ps(xf, p0), _mm256_mul_ps(p2, rx)),
                              _mm256_mul_ps(p3, ry));
    __m256 sy = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(y_v, p1), _mm256_mul_ps(p3, rx)),
                              _mm256_mul_ps(p2, ry));
    const __m256 valid = _mm256_and_ps(
        _mm256_and_ps(_mm256_cmp_ps(sx, one, _CMP_GE_OQ), _mm256_cmp_ps(sy, one, _CMP_GE_OQ)),
        _mm256_and_ps(_mm256_cmp_ps(sx, x_limit, _CMP_LT_OQ),
                      _mm256_cmp_ps(sy, y_limit, _CMP_LT_OQ)));
    sx = _mm256_blendv_ps(one, sx, valid);
    sy = _mm256_blendv_ps(one, sy, valid);
    const __m256i ix = _mm256_cvttps_epi32(sx), iy = _mm256_cvttps_epi32(sy);
    const __m256 fx = _mm256_sub_ps(sx, _mm256_cvtepi32_ps(ix));
    const __m256 fy = _mm256_sub_ps(sy, _mm256_cvtepi32_ps(iy));
    const __m256i i = _mm256_add_epi32(_mm256_mullo_epi32(iy, _mm256_set1_epi32(w)), ix);
    const __m256 residual =
        _mm256_sub_ps(Bilinear8(in.previous, i, w, fx, fy),
                      _mm256_loadu_ps(in.next + static_cast<size_t>(y) * w + x0));
    const __m256 gx = Bilinear8(in.grad_x, i, w, fx, fy);
    const __m256 gy = Bilinear8(in.grad_y, i, w, fx, fy);
    const __m256 jacobian[4] = {gx, gy, _mm256_add_ps(_mm256_mul_ps(gx, rx), _mm256_mul_ps(gy, ry)),
                                _mm256_sub_ps(_mm256_mul_ps(gy, rx), _mm256_mul_ps(gx, ry))};
    const __m256 magnitude = _mm256_andnot_ps(sign, residual);
    __m256 weight = _mm256_blendv_ps(_mm256_div_ps(huber, magnitude), one,
                                     _mm256_cmp_ps(magnitude, huber, _CMP_LE_OQ));
    weight = _mm256_and_ps(weight, valid);
    __m256 weighted[4];
    for (int r = 0; r < 4; ++r) weighted[r] = _mm256_mul_ps(weight, jacobian[r]);
    int k = 0;
    for (int r = 0; r < 4; ++r) {
      sums[k] = _mm256_add_ps(sums[k], _mm256_mul_ps(weighted[r], residual));
      ++k;
    }
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c <= r; ++c) {
        sums[k] = _mm256_add_ps(sums[k], _mm256_mul_ps(weighted[r], jacobian[c]));
        ++k;
      }
    }
    sums[k] = _mm256_add_ps(sums[k], _mm256_blendv_ps(zero, magnitude, valid));
    lanes->count += __builtin_popcount(_mm256_movemask_ps(valid));
  }
  for (int k = 0; k < 15; ++k) _mm256_storeu_ps(lanes->sums[k], sums[k]);
  return end;
}
#endif

// Row y's terms added to `eq`.
void FitRow(const FitInputs& in, int y, bool avx2, NormalEquations* eq) {
  RowLanes lanes;
  int x = 0;
#if defined(__x86_64__) || defined(__i386__)
  if (avx2) x = FitRowAvx2(in, y, &lanes);
#endif
  for (; x < in.width; x += 8) FitPixelsPortable(in, y, x, &lanes);
  double total[15] = {};
  for (int k = 0; k < 15; ++k) {
    for (int lane = 0; lane < 8; ++lane) total[k] += lanes.sums[k][lane];
  }
  NormalEquations row;
  int k = 0;
  for (int r = 0; r < 4; ++r) row.g[r] = total[k++];
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c <= r; ++c) row.h[r][c] = total[k++];
  }
  row.abs_residual = total[k];
  row.count = lanes.count;
  eq->Add(row);
}

// Gauss-Newton on one level: refines p = (ux, uy, zoom, rotation) so that
// next(q) ≈ previous(q + u + M (q − centre)). Returns the last mean absolute
// residual and the fraction of the picture that overlapped.
void GaussNewton(const std::vector<float>& previous, const std::vector<float>& next, int width,
                 int height, int iterations, double* p, double* mean_residual, double* overlap) {
  *mean_residual = 0;
  *overlap = 0;
  if (width < 8 || height < 8) return;
  // Central-difference gradients of the previous picture.
  const bool threaded = static_cast<int64_t>(width) * height >= kThreadedPixels;
  std::vector<float> grad_x(previous.size(), 0.0f), grad_y(previous.size(), 0.0f);
  RunInHalves(height - 2, threaded, [&](int begin, int end) {
    for (int y = begin + 1; y < end + 1; ++y) {
      for (int x = 1; x < width - 1; ++x) {
        const size_t i = static_cast<size_t>(y) * width + x;
        grad_x[i] = 0.5f * (previous[i + 1] - previous[i - 1]);
        grad_y[i] = 0.5f * (previous[i + width] - previous[i - width]);
      }
    }
  });
  const double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
  const bool avx2 = Avx2LoopsAllowed();
  for (int iteration = 0; iteration < iterations; ++iteration) {
    NormalEquations halves[2];
    const FitInputs inputs{previous.data(),
                           grad_x.data(),
                           grad_y.data(),
                           next.data(),
                           width,
                           height,
                           static_cast<float>(cx),
                           static_cast<float>(cy),
                           {static_cast<float>(p[0]), static_cast<float>(p[1]),
                            static_cast<float>(p[2]), static_cast<float>(p[3])}};
    auto accumulate = [&](int row_begin, int row_end) {
      NormalEquations& eq = halves[row_begin == 0 ? 0 : 1];
      for (int y = row_begin; y < row_end; ++y) FitRow(inputs, y, avx2, &eq);
    };
    RunInHalves(height, threaded, accumulate);
    NormalEquations eq;
    for (const NormalEquations& half : halves) eq.Add(half);
    *overlap = static_cast<double>(eq.count) / (static_cast<double>(width) * height);
    if (eq.count < 16) return;
    *mean_residual = eq.abs_residual / eq.count;
    // Solve H δ = −g (H symmetric; a small ridge keeps flat pictures stable).
    double a[4][5];
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) a[r][c] = r >= c ? eq.h[r][c] : eq.h[c][r];
      a[r][r] = a[r][r] * (1 + 1e-6) + 1e-9;
      a[r][4] = -eq.g[r];
    }
    for (int col = 0; col < 4; ++col) {
      int pivot = col;
      for (int r = col + 1; r < 4; ++r) {
        if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
      }
      if (std::abs(a[pivot][col]) < 1e-12) return;
      std::swap(a[col], a[pivot]);
      for (int r = 0; r < 4; ++r) {
        if (r == col) continue;
        const double factor = a[r][col] / a[col][col];
        for (int c = col; c < 5; ++c) a[r][c] -= factor * a[col][c];
      }
    }
    double step = 0;
    for (int r = 0; r < 4; ++r) {
      const double delta = std::clamp(a[r][4] / a[r][r], r < 2 ? -4.0 : -0.05, r < 2 ? 4.0 : 0.05);
      p[r] += delta;
      step = std::max(step, std::abs(r < 2 ? delta : delta * width));
    }
    if (step < 0.002) return;
  }
}

// Rows parity, parity + count, … of `plane` (count 1: the plane itself).
PlaneView FieldOf(const PlaneView& plane, int parity, int count) {
  PlaneView field = plane;
  field.data += plane.stride * parity;
  field.stride *= count;
  field.height = (plane.height - parity + count - 1) / count;
  return field;
}

// `map` (between frames) as a map between the fields of parity `parity`
// (of `count`; 1: the frames): field row k is frame row count·k + parity.
AffineMap FieldMap(const AffineMap& map, int parity, int count) {
  AffineMap field = map;
  field.a[0][1] = map.a[0][1] * count;
  field.t[0] = map.t[0] + map.a[0][1] * parity;
  field.a[1][0] = map.a[1][0] / count;
  field.t[1] = (map.t[1] + (map.a[1][1] - 1) * parity) / count;
  return field;
}

// The map q ↦ A q + t from a frame's pixels to the previous frame's that
// `motion` measured: A = I + M, t = u − M·centre.
AffineMap MapOf(const GlobalMotion& motion, int width, int height) {
  const double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
  AffineMap map;
  map.a[0][0] = 1 + motion.zoom;
  map.a[0][1] = -motion.rotation;
  map.a[1][0] = motion.rotation;
  map.a[1][1] = 1 + motion.zoom;
  map.t[0] = motion.ux - (motion.zoom * cx - motion.rotation * cy);
  map.t[1] = motion.uy - (motion.rotation * cx + motion.zoom * cy);
  return map;
}

}  // namespace

MotionPyramid BuildMotionPyramid(const PlaneView& luma) {
  MotionPyramid pyramid;
  pyramid.factor = std::max(1, luma.width / kMotionWidth);
  const int f = pyramid.factor;
  pyramid.width0 = luma.width / f;
  pyramid.height0 = luma.height / f;
  const float scale = 1.0f / (static_cast<float>(f * f) * (1 << (luma.bit_depth - 8)));
  pyramid.level0.assign(static_cast<size_t>(pyramid.width0) * pyramid.height0, 0.0f);
  pyramid.width1 = pyramid.width0 / 2;
  pyramid.height1 = pyramid.height0 / 2;
  pyramid.level1.assign(static_cast<size_t>(pyramid.width1) * pyramid.height1, 0.0f);
  // Two threads, each on half of level 1's rows and the level-0 rows they
  // are made of (the last thread also on an odd level 0's last row).
  const bool threaded = static_cast<int64_t>(luma.width) * luma.height >= kThreadedPixels;
  RunInHalves(pyramid.height1, threaded, [&](int begin, int end) {
    const int last0 = end == pyramid.height1 ? pyramid.height0 : 2 * end;
    std::vector<float> sums(pyramid.width0);
    for (int y = 2 * begin; y < last0; ++y) {
      std::fill(sums.begin(), sums.end(), 0.0f);
      for (int j = 0; j < f; ++j) {
        const int row = y * f + j;
        for (int x = 0; x < pyramid.width0; ++x) {
          float sum = 0;
          for (int i = 0; i < f; ++i) sum += static_cast<float>(luma.At(x * f + i, row));
          sums[x] += sum;
        }
      }
      for (int x = 0; x < pyramid.width0; ++x) {
        pyramid.level0[static_cast<size_t>(y) * pyramid.width0 + x] = sums[x] * scale;
      }
    }
    for (int y = begin; y < end; ++y) {
      for (int x = 0; x < pyramid.width1; ++x) {
        const float* top = &pyramid.level0[static_cast<size_t>(2 * y) * pyramid.width0 + 2 * x];
        const float* bottom = top + pyramid.width0;
        pyramid.level1[static_cast<size_t>(y) * pyramid.width1 + x] =
            0.25f * (top[0] + top[1] + bottom[0] + bottom[1]);
      }
    }
  });
  return pyramid;
}

GlobalMotion EstimateGlobalMotion(const MotionPyramid& previous, const MotionPyramid& next) {
  GlobalMotion motion;
  if (previous.width0 != next.width0 || previous.height0 != next.height0 || next.width1 < 8 ||
      next.height1 < 8) {
    return motion;
  }
  int dx = 0, dy = 0;
  CoarseSearch(previous, next, &dx, &dy);
  double p[4] = {static_cast<double>(dx), static_cast<double>(dy), 0, 0};
  double residual = 0, overlap = 0;
  GaussNewton(previous.level1, next.level1, next.width1, next.height1, 4, p, &residual, &overlap);
  p[0] *= 2;
  p[1] *= 2;
  GaussNewton(previous.level0, next.level0, next.width0, next.height0, 4, p, &residual, &overlap);
  motion.ux = p[0] * next.factor;
  motion.uy = p[1] * next.factor;
  motion.zoom = p[2];
  motion.rotation = p[3];
  motion.mean_residual = residual;
  double mean = 0, deviation = 0;
  for (float value : next.level0) mean += value;
  mean /= static_cast<double>(next.level0.size());
  for (float value : next.level0) deviation += std::abs(value - mean);
  deviation /= static_cast<double>(next.level0.size());
  motion.matched = residual <= kCutResidual &&
                   residual <= std::max(kCutFloor, kCutContrast * deviation) && overlap >= 0.25;
  return motion;
}

void WarpPlane(const PlaneView& in, const PlaneView& out, double zoom, double offset_x,
               double offset_y) {
  const Taps columns = MakeTaps(in.width, zoom, offset_x);
  const Taps rows = MakeTaps(in.height, zoom, offset_y);
  const bool threaded = static_cast<int64_t>(in.width) * in.height >= kThreadedPixels;
  const bool avx2 = Avx2LoopsAllowed();
  RunInHalves(in.height, threaded, [&](int begin, int end) {
    if (in.bit_depth > 8) {
      WarpRows<uint16_t>(in, out, columns, rows, avx2, begin, end);
    } else {
      WarpRows<uint8_t>(in, out, columns, rows, avx2, begin, end);
    }
  });
}

Result<std::unique_ptr<VideoFilter>> Dejitter::Create(const FilterConfig& config) {
  RETURN_IF_ERROR(config.input.Validate());
  RETURN_IF_ERROR(CheckProperties(config, "dejit", {"zoom", "smoothing", "fields", "lines"}));
  if (config.output_width != 0 || config.output_height != 0) {
    return Status::InvalidArgument("dejit does not scale: output size must be unset");
  }
  // At most 5 % of the picture area is cropped: zoom ≤ 1/√0.95.
  ASSIGN_OR_RETURN(double zoom, DoubleProperty(config, "dejit", "zoom", 1.025, 1.0, 1.0259));
  ASSIGN_OR_RETURN(double smoothing,
                   DoubleProperty(config, "dejit", "smoothing", 5.0, 0.5, kRadius / 2.0));
  ASSIGN_OR_RETURN(double fields, DoubleProperty(config, "dejit", "fields", 0, 0, 1));
  if (fields != 0 && fields != 1) return Status::InvalidArgument("dejit: fields must be 0 or 1");
  ASSIGN_OR_RETURN(double lines, DoubleProperty(config, "dejit", "lines", 1, 0, 1));
  if (lines != 0 && lines != 1) return Status::InvalidArgument("dejit: lines must be 0 or 1");
  auto filter = std::unique_ptr<Dejitter>(new Dejitter(config));
  filter->fields_ = fields == 1;
  filter->lines_ = lines == 1;
  filter->zoom_ = zoom;
  filter->sigma_ = smoothing;
  return std::unique_ptr<VideoFilter>(std::move(filter));
}

Status Dejitter::Push(const FrameView& in, int64_t pts) {
  if (flushed_) return Status::InvalidArgument("dejit: Push after Flush");
  if (!(in.format == config_.input)) {
    return Status::InvalidArgument("dejit: frame format differs from the configured input");
  }
  OwnedFrame frame = OwnedFrame::CopyOf(in);
  frame.pts = pts;
  MotionPyramid pyramid = BuildMotionPyramid(frame.plane(0));
  const int64_t index = path_base_ + static_cast<int64_t>(path_.size());
  if (anchor_index_ >= 0 && index - anchor_index_ > kBridgeFrames + 1) anchor_index_ = -1;
  PathPoint point;
  GlobalMotion motion;
  motion.matched = false;
  if (!path_.empty()) {
    const PathPoint& last = path_.back();
    motion = EstimateGlobalMotion(previous_pyramid_, pyramid);
    point = last;
    if (motion.matched) {
      point.x += motion.ux;
      point.y += motion.uy;
    } else if (!BridgeDropout(pyramid, index, &point)) {
      ++point.segment;
      // The anchor stays the last frame before the dropout while one may
      // still end (a flash followed by a black frame matches neither).
      if (anchor_index_ < 0) {
        anchor_pyramid_ = previous_pyramid_;
        anchor_index_ = index - 1;
      }
    }
  }
  if (lines_) {
    const bool has_reference = motion.matched && !pending_.empty();
    RemoveLineJitter(&frame, has_reference ? &pending_.back() : nullptr,
                     MapOf(motion, in.format.width, in.format.height));
  }
  path_.push_back(point);
  previous_pyramid_ = std::move(pyramid);
  pending_.push_back(std::move(frame));
  const int64_t newest = path_base_ + static_cast<int64_t>(path_.size()) - 1;
  while (!pending_.empty() && newest - first_pending_ >= kRadius) EmitOldest();
  return Status::Ok();
}

bool Dejitter::BridgeDropout(const MotionPyramid& pyramid, int64_t index, PathPoint* point) {
  if (anchor_index_ < 0 || anchor_index_ < path_base_) return false;
  const GlobalMotion across = EstimateGlobalMotion(anchor_pyramid_, pyramid);
  if (!across.matched) return false;
  const PathPoint anchor = path_[static_cast<size_t>(anchor_index_ - path_base_)];
  point->x = anchor.x + across.ux;
  point->y = anchor.y + across.uy;
  point->segment = anchor.segment;
  // The frames of the dropout lie on the way, where the camera was then.
  const double steps = static_cast<double>(index - anchor_index_);
  for (int64_t k = anchor_index_ + 1; k < index; ++k) {
    PathPoint& between = path_[static_cast<size_t>(k - path_base_)];
    const double t = static_cast<double>(k - anchor_index_) / steps;
    between.x = anchor.x + t * across.ux;
    between.y = anchor.y + t * across.uy;
    between.segment = anchor.segment;
  }
  anchor_index_ = -1;
  return true;
}

void Dejitter::RemoveLineJitter(OwnedFrame* frame, const OwnedFrame* previous,
                                const AffineMap& map) {
  const PixelFormat& format = config_.input;
  const PlaneView luma = frame->plane(0);
  // Each field's lines are one sequence when the fields stay apart, with
  // the previous frame's same field as the reference.
  const int parities = fields_ && luma.height >= 6 ? 2 : 1;
  std::vector<float> shifts(luma.height, 0.0f);
  for (int parity = 0; parity < parities; ++parity) {
    const PlaneView field = FieldOf(luma, parity, parities);
    std::function<void(float*)> fill_reference;
    if (previous != nullptr) {
      fill_reference = [&](float* reference) {
        WarpReference(FieldOf(previous->plane(0), parity, parities),
                      FieldMap(map, parity, parities), reference);
      };
    }
    const std::vector<float> field_shifts = EstimateLineShifts(field, fill_reference);
    for (int k = 0; k < field.height; ++k) shifts[k * parities + parity] = field_shifts[k];
  }
  if (std::all_of(shifts.begin(), shifts.end(), [](float shift) { return shift == 0.0f; })) {
    return;  // no line jitter found
  }
  ShiftLines(luma, shifts);
  for (int plane = 1; plane < 3; ++plane) {
    const PlaneView chroma = frame->plane(plane);
    const int shift_x = ChromaShiftX(format.chroma), shift_y = ChromaShiftY(format.chroma);
    // A chroma line covers 1 << shift_y luma lines of its own field.
    std::vector<float> chroma_shifts(chroma.height, 0.0f);
    for (int parity = 0; parity < parities; ++parity) {
      const PlaneView field = FieldOf(chroma, parity, parities);
      for (int k = 0; k < field.height; ++k) {
        double sum = 0;
        int count = 0;
        for (int j = 0; j < (1 << shift_y); ++j) {
          const int luma_line = ((k << shift_y) + j) * parities + parity;
          if (luma_line < luma.height) {
            sum += shifts[luma_line];
            ++count;
          }
        }
        chroma_shifts[k * parities + parity] =
            count ? static_cast<float>(sum / count / (1 << shift_x)) : 0.0f;
      }
    }
    ShiftLines(chroma, chroma_shifts);
  }
}

Status Dejitter::Flush() {
  if (flushed_) return Status::Ok();
  flushed_ = true;
  while (!pending_.empty()) EmitOldest();
  return Status::Ok();
}

Status Dejitter::Pull(std::vector<OwnedFrame>* out) { return MoveReadyFrames(&ready_, out); }

void Dejitter::EmitOldest() {
  const int64_t frame_index = first_pending_;
  const PathPoint& here = path_[static_cast<size_t>(frame_index - path_base_)];
  // Gaussian-weighted local linear fit of the path around this frame.
  double s0 = 0, s1 = 0, s2 = 0, tx0 = 0, tx1 = 0, ty0 = 0, ty1 = 0;
  const int64_t last = path_base_ + static_cast<int64_t>(path_.size()) - 1;
  for (int64_t k = std::max(path_base_, frame_index - kRadius);
       k <= std::min(last, frame_index + kRadius); ++k) {
    const PathPoint& point = path_[static_cast<size_t>(k - path_base_)];
    if (point.segment != here.segment) continue;
    const double t = static_cast<double>(k - frame_index);
    const double w = std::exp(-t * t / (2 * sigma_ * sigma_));
    s0 += w;
    s1 += w * t;
    s2 += w * t * t;
    tx0 += w * point.x;
    tx1 += w * t * point.x;
    ty0 += w * point.y;
    ty1 += w * t * point.y;
  }
  const double det = s0 * s2 - s1 * s1;
  double smooth_x = tx0 / s0, smooth_y = ty0 / s0;
  if (det > 1e-9 * s0 * s0) {
    smooth_x = (s2 * tx0 - s1 * tx1) / det;
    smooth_y = (s2 * ty0 - s1 * ty1) / det;
  }
  // The correction, clamped to the margin of the zoom: no sample from outside.
  const PixelFormat& format = config_.input;
  const double margin_x = (format.width - 1) / 2.0 * (1 - 1 / zoom_);
  const double margin_y = (format.height - 1) / 2.0 * (1 - 1 / zoom_);
  const double offset_x = std::clamp(smooth_x - here.x, -margin_x, margin_x);
  const double offset_y = std::clamp(smooth_y - here.y, -margin_y, margin_y);

  OwnedFrame& input = pending_.front();
  OwnedFrame result(format);
  for (int plane = 0; plane < 3; ++plane) {
    const int shift_x = plane == 0 ? 0 : ChromaShiftX(format.chroma);
    const int shift_y = plane == 0 ? 0 : ChromaShiftY(format.chroma);
    const PlaneView from = input.plane(plane), to = result.plane(plane);
    const double plane_x = offset_x / (1 << shift_x), plane_y = offset_y / (1 << shift_y);
    if (!fields_ || from.height < 2) {
      WarpPlane(from, to, zoom_, plane_x, plane_y);
      continue;
    }
    // Field p holds rows 2k + p. Its row k must come from frame position
    // c + (2k + p − c)/zoom + offset of the same field; in the field's own
    // coordinates that is the same zoom about its centre c_f, shifted by
    // offset/2 − e/2·(1 − 1/zoom) with e = 2 c_f + p − c.
    const double centre = (from.height - 1) / 2.0;
    for (int parity = 0; parity < 2; ++parity) {
      PlaneView field_in = from, field_out = to;
      field_in.data += from.stride * parity;
      field_out.data += to.stride * parity;
      field_in.stride *= 2;
      field_out.stride *= 2;
      field_in.height = field_out.height = (from.height - parity + 1) / 2;
      const double field_centre = (field_in.height - 1) / 2.0;
      const double e = 2 * field_centre + parity - centre;
      WarpPlane(field_in, field_out, zoom_, plane_x, plane_y / 2 - e / 2 * (1 - 1 / zoom_));
    }
  }
  result.pts = input.pts;
  ready_.push_back(std::move(result));
  pending_.pop_front();
  ++first_pending_;
  // The path before the next frame's window is no longer needed.
  while (path_base_ < first_pending_ - kRadius) {
    path_.pop_front();
    ++path_base_;
  }
}

}  // namespace vidmill::filters
