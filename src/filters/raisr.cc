#include "filters/raisr.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "filters/halves.h"
#include "filters/raisr_weights.h"

namespace vidmill::filters {
namespace {

// Runs fn(begin, end) over [0, rows), on two threads when asked and worth it.
template <typename Fn>
void SplitRows(int rows, int threads, int64_t work, const Fn& fn) {
  if (threads < 2 || rows < 2 || work < 100000) {
    fn(0, rows);
    return;
  }
  RunInHalves(rows, true, fn);
}

// atan2 to within 0.002 rad: plenty for bins of 7.5° or more, and a few
// arithmetic operations the compiler can vectorise, unlike std::atan2.
[[gnu::always_inline]] inline float FastAtan2(float y, float x) {
  const float ax = std::fabs(x), ay = std::fabs(y);
  const float lo = std::min(ax, ay), hi = std::max(ax, ay);
  const float a = lo / (hi + 1e-20f);
  const float s = a * a;
  float r = ((-0.0464964749f * s + 0.15931422f) * s - 0.327622764f) * s * a + a;
  r = ay > ax ? 1.57079637f - r : r;
  r = x < 0 ? 3.14159274f - r : r;
  return y < 0 ? -r : r;
}

// The structure tensor's horizontal pass for one row: binomial [1 4 6 4 1]
// sums of gx², gx·gy, gy² (central differences) at every column.
[[gnu::always_inline]] inline void TensorRow(const PaddedPlane& plane, int y, float* xx, float* xy,
                                             float* yy, float* gxx, float* gxy, float* gyy) {
  const int width = plane.width;
  const float* up = plane.Row(y - 1);
  const float* mid = plane.Row(y);
  const float* down = plane.Row(y + 1);
  // Gradient products at columns −2 … width+1 (index shifted by 2).
  for (int x = -2; x < width + 2; ++x) {
    const float gx = 0.5f * (mid[x + 1] - mid[x - 1]);
    const float gy = 0.5f * (down[x] - up[x]);
    gxx[x + 2] = gx * gx;
    gxy[x + 2] = gx * gy;
    gyy[x + 2] = gy * gy;
  }
  for (int x = 0; x < width; ++x) {
    xx[x] = gxx[x] + 4 * gxx[x + 1] + 6 * gxx[x + 2] + 4 * gxx[x + 3] + gxx[x + 4];
    xy[x] = gxy[x] + 4 * gxy[x + 1] + 6 * gxy[x + 2] + 4 * gxy[x + 3] + gxy[x + 4];
    yy[x] = gyy[x] + 4 * gyy[x + 1] + 6 * gyy[x + 2] + 4 * gyy[x + 3] + gyy[x + 4];
  }
}

// The features of the tensor (a b; b c) at one pixel (sums weighted by 256).
[[gnu::always_inline]] inline void Features(float a, float b, float c, float* angle,
                                            float* strength, float* coherence) {
  a *= 1.0f / 256;
  b *= 1.0f / 256;
  c *= 1.0f / 256;
  const float trace = a + c, diff = a - c;
  const float disc = std::sqrt(diff * diff + 4 * b * b);
  const float l1 = 0.5f * (trace + disc);
  const float l2 = std::max(0.5f * (trace - disc), 0.0f);
  const float s1 = std::sqrt(l1), s2 = std::sqrt(l2);
  *strength = s1;
  *coherence = (s1 - s2) / (s1 + s2 + 1e-6f);
  // Doubled angle of the dominant gradient direction, in (−π, π].
  *angle = FastAtan2(2 * b, diff);
}

// Stage 2's parts as loops over separate (restrict) arrays, which the
// compiler vectorises: with the fifteen row pointers of one loop it would
// have had to check more of them for overlap than it does, and kept the
// loop scalar. raisr.cc is compiled with -fno-math-errno and
// -fno-trapping-math (CMakeLists.txt), so std::sqrt and FastAtan2's selects
// vectorise too.
[[gnu::always_inline]] inline void BinomialColumn(int width, const float* plane,
                                                  const size_t rows[5], float* __restrict out) {
  const float* __restrict r0 = plane + rows[0];
  const float* __restrict r1 = plane + rows[1];
  const float* __restrict r2 = plane + rows[2];
  const float* __restrict r3 = plane + rows[3];
  const float* __restrict r4 = plane + rows[4];
  for (int x = 0; x < width; ++x) out[x] = r0[x] + 4 * r1[x] + 6 * r2[x] + 4 * r3[x] + r4[x];
}

[[gnu::always_inline]] inline void FeatureRow(int width, const float* __restrict a,
                                              const float* __restrict b, const float* __restrict c,
                                              float* __restrict angle, float* __restrict strength,
                                              float* __restrict coherence) {
  for (int x = 0; x < width; ++x)
    Features(a[x], b[x], c[x], &angle[x], &strength[x], &coherence[x]);
}

// Each pixel's bucket, (angle bin · strengths + strength bin) · coherences
// + coherence bin, from its features; each step a loop over the row, which
// the compiler vectorises (one loop over the pixels with the edge loops
// inside it stayed scalar).
[[gnu::always_inline]] inline void BucketRow(int width, const RaisrHash& hash,
                                             const float* __restrict angle,
                                             const float* __restrict strength,
                                             const float* __restrict coherence,
                                             int* __restrict bins, uint16_t* __restrict out) {
  const int angles = hash.angles, strengths = hash.strengths, coherences = hash.coherences;
  const float angle_scale = angles / 6.28318531f;
  for (int x = 0; x < width; ++x) {
    const int angle_bin = static_cast<int>((angle[x] + 3.14159265f) * angle_scale);
    bins[x] = (angle_bin >= angles || angle_bin < 0 ? 0 : angle_bin) * strengths;
  }
  for (int k = 0; k + 1 < strengths; ++k) {
    const float edge = hash.strength_edges[k];
    for (int x = 0; x < width; ++x) bins[x] += strength[x] > edge;
  }
  for (int x = 0; x < width; ++x) bins[x] *= coherences;
  for (int k = 0; k + 1 < coherences; ++k) {
    const float edge = hash.coherence_edges[k];
    for (int x = 0; x < width; ++x) bins[x] += coherence[x] > edge;
  }
  for (int x = 0; x < width; ++x) out[x] = static_cast<uint16_t>(bins[x]);
}

// Stage 1 of the hash: horizontal tensor sums of every row into three planes.
[[gnu::always_inline]] inline void TensorRowsImpl(const PaddedPlane& plane, float* xx, float* xy,
                                                  float* yy, int begin, int end) {
  std::vector<float> gxx(plane.width + 4), gxy(plane.width + 4), gyy(plane.width + 4);
  for (int y = begin; y < end; ++y) {
    const size_t offset = static_cast<size_t>(y) * plane.width;
    TensorRow(plane, y, xx + offset, xy + offset, yy + offset, gxx.data(), gxy.data(), gyy.data());
  }
}

// Stage 2: vertical sums, features, bucket.
[[gnu::always_inline]] inline void BucketRowsImpl(int width, int height, const float* xx,
                                                  const float* xy, const float* yy,
                                                  const RaisrHash& hash, uint16_t* buckets,
                                                  float* strength_out, float* coherence_out,
                                                  int begin, int end) {
  std::vector<float> a(width), b(width), c(width), angle(width), strength(width), coherence(width);
  std::vector<int> bins(width);
  for (int y = begin; y < end; ++y) {
    size_t rows[5];
    for (int k = 0; k < 5; ++k) {
      rows[k] = static_cast<size_t>(std::clamp(y - 2 + k, 0, height - 1)) * width;
    }
    BinomialColumn(width, xx, rows, a.data());
    BinomialColumn(width, xy, rows, b.data());
    BinomialColumn(width, yy, rows, c.data());
    FeatureRow(width, a.data(), b.data(), c.data(), angle.data(), strength.data(),
               coherence.data());
    const size_t offset = static_cast<size_t>(y) * width;
    if (strength_out != nullptr) {
      std::copy(strength.begin(), strength.end(), strength_out + offset);
      std::copy(coherence.begin(), coherence.end(), coherence_out + offset);
      continue;
    }
    BucketRow(width, hash, angle.data(), strength.data(), coherence.data(), bins.data(),
              buckets + offset);
  }
}

void TensorRowsPlain(const PaddedPlane& plane, float* xx, float* xy, float* yy, int begin,
                     int end) {
  TensorRowsImpl(plane, xx, xy, yy, begin, end);
}
__attribute__((target("avx2,fma"))) void TensorRowsAvx2(const PaddedPlane& plane, float* xx,
                                                        float* xy, float* yy, int begin, int end) {
  TensorRowsImpl(plane, xx, xy, yy, begin, end);
}
void BucketRowsPlain(int width, int height, const float* xx, const float* xy, const float* yy,
                     const RaisrHash& hash, uint16_t* buckets, float* s, float* c, int begin,
                     int end) {
  BucketRowsImpl(width, height, xx, xy, yy, hash, buckets, s, c, begin, end);
}
__attribute__((target("avx2,fma"))) void BucketRowsAvx2(int width, int height, const float* xx,
                                                        const float* xy, const float* yy,
                                                        const RaisrHash& hash, uint16_t* buckets,
                                                        float* s, float* c, int begin, int end) {
  BucketRowsImpl(width, height, xx, xy, yy, hash, buckets, s, c, begin, end);
}

std::atomic<bool> avx2_allowed{true};

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has && avx2_allowed.load(std::memory_order_relaxed);
}

void HashPlane(const PaddedPlane& plane, const RaisrHash& hash, uint16_t* buckets, float* strength,
               float* coherence, int threads, RaisrScratch* scratch) {
  const int width = plane.width, height = plane.height;
  const size_t size = static_cast<size_t>(width) * height;
  // Every sample is written before it is read: no zeroing when the size is
  // the previous picture's.
  std::vector<float>& xx = scratch->xx;
  std::vector<float>& xy = scratch->xy;
  std::vector<float>& yy = scratch->yy;
  xx.resize(size);
  xy.resize(size);
  yy.resize(size);
  const bool avx2 = HasAvx2();
  const int64_t work = static_cast<int64_t>(size);
  SplitRows(height, threads, work, [&](int begin, int end) {
    if (avx2) {
      TensorRowsAvx2(plane, xx.data(), xy.data(), yy.data(), begin, end);
    } else {
      TensorRowsPlain(plane, xx.data(), xy.data(), yy.data(), begin, end);
    }
  });
  SplitRows(height, threads, work, [&](int begin, int end) {
    if (avx2) {
      BucketRowsAvx2(width, height, xx.data(), xy.data(), yy.data(), hash, buckets, strength,
                     coherence, begin, end);
    } else {
      BucketRowsPlain(width, height, xx.data(), xy.data(), yy.data(), hash, buckets, strength,
                      coherence, begin, end);
    }
  });
}

// The filters, portable version: one dot product per output pixel.
void UpscaleRowsPlain(const PaddedPlane& in, const RaisrModel& model, const uint16_t* buckets,
                      float* out, ptrdiff_t out_stride, int begin, int end) {
  const int scale = model.scale;
  for (int y = begin; y < end; ++y) {
    for (int x = 0; x < in.width; ++x) {
      const int bucket = buckets[static_cast<size_t>(y) * in.width + x];
      const float* patch = in.Row(y - 3) + x - 3;
      for (int phase = 0; phase < scale * scale; ++phase) {
        const float* w = model.Filter(bucket, phase);
        float sum = 0;
        for (int row = 0; row < kRaisrRows; ++row) {
          const float* p = patch + static_cast<ptrdiff_t>(row) * in.stride;
          for (int col = 0; col < kRaisrCols; ++col) sum += p[col] * w[row * kRaisrCols + col];
        }
        out[(static_cast<ptrdiff_t>(y) * scale + phase / scale) * out_stride + x * scale +
            phase % scale] = sum;
      }
    }
  }
}

__attribute__((target("avx2,fma"))) inline __m256 Dot7(const __m256* p, const float* w) {
  __m256 acc = _mm256_mul_ps(p[0], _mm256_loadu_ps(w));
  for (int row = 1; row < kRaisrRows; ++row) {
    acc = _mm256_fmadd_ps(p[row], _mm256_loadu_ps(w + row * kRaisrCols), acc);
  }
  return acc;
}

// Four horizontal sums at once: lane k of the result is the sum of a[k].
__attribute__((target("avx2,fma"))) inline __m128 Sum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

// Scale 2, kPixels pixels of row y at a time, from x = 0 while they fit;
// returns the first x not done. The patch rows are the outer loop, so the
// 4 · kPixels sums (four phases a pixel) are as many independent chains in
// flight at once, where Dot7 runs one chain of seven dependent multiply-adds
// after another. Each sum still takes Dot7's terms in Dot7's order, so the
// results are the same to the bit. Three pixels: 12 accumulators and 3 patch
// rows in the 16 registers, the weights read from memory by the FMAs. On AMD
// Zen 1, 1280 × 720 → 2560 × 1440 on two cores: 10.6 → 8.2 ms a picture
// (20 → 16 CPU-ms); two pixels at a time were about 1 % slower, four spill.
template <int kPixels>
__attribute__((target("avx2,fma"))) int UpscaleRow2Avx2(const PaddedPlane& in,
                                                        const RaisrModel& model,
                                                        const uint16_t* bucket_row, int y,
                                                        float* out_row, ptrdiff_t out_stride) {
  int x = 0;
  for (; x + kPixels <= in.width; x += kPixels) {
    const float* w[kPixels];
    for (int k = 0; k < kPixels; ++k) w[k] = model.Filter(bucket_row[x + k], 0);
    const float* patch = in.Row(y - 3) + x - 3;
    __m256 acc[kPixels][4];
    for (int row = 0; row < kRaisrRows; ++row) {
      const float* p = patch + static_cast<ptrdiff_t>(row) * in.stride;
      __m256 pixel[kPixels];
      for (int k = 0; k < kPixels; ++k) pixel[k] = _mm256_loadu_ps(p + k);
      for (int k = 0; k < kPixels; ++k) {
        for (int phase = 0; phase < 4; ++phase) {
          const __m256 weights = _mm256_loadu_ps(w[k] + phase * kRaisrTaps + row * kRaisrCols);
          acc[k][phase] = row == 0 ? _mm256_mul_ps(pixel[k], weights)
                                   : _mm256_fmadd_ps(pixel[k], weights, acc[k][phase]);
        }
      }
    }
    for (int k = 0; k < kPixels; ++k) {
      const __m128 s = Sum4(acc[k][0], acc[k][1], acc[k][2], acc[k][3]);
      _mm_storel_pi(reinterpret_cast<__m64*>(out_row + 2 * (x + k)), s);
      _mm_storeh_pi(reinterpret_cast<__m64*>(out_row + out_stride + 2 * (x + k)), s);
    }
  }
  return x;
}

// The filters with AVX2: a patch row is one register, 7 FMAs per phase.
__attribute__((target("avx2,fma"))) void UpscaleRowsAvx2(const PaddedPlane& in,
                                                         const RaisrModel& model,
                                                         const uint16_t* buckets, float* out,
                                                         ptrdiff_t out_stride, int begin, int end) {
  const int scale = model.scale;
  const int phases = scale * scale;
  for (int y = begin; y < end; ++y) {
    float* out_row = out + static_cast<ptrdiff_t>(y) * scale * out_stride;
    const int first =
        scale == 2 ? UpscaleRow2Avx2<3>(in, model, buckets + static_cast<size_t>(y) * in.width, y,
                                        out_row, out_stride)
                   : 0;
    for (int x = first; x < in.width; ++x) {
      const int bucket = buckets[static_cast<size_t>(y) * in.width + x];
      const float* patch = in.Row(y - 3) + x - 3;
      __m256 p[kRaisrRows];
      for (int row = 0; row < kRaisrRows; ++row) {
        p[row] = _mm256_loadu_ps(patch + static_cast<ptrdiff_t>(row) * in.stride);
      }
      const float* w = model.Filter(bucket, 0);
      if (scale == 1) {
        const __m128 s =
            Sum4(Dot7(p, w), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
        out_row[x] = _mm_cvtss_f32(s);
      } else if (scale == 2) {
        const __m128 s = Sum4(Dot7(p, w), Dot7(p, w + kRaisrTaps), Dot7(p, w + 2 * kRaisrTaps),
                              Dot7(p, w + 3 * kRaisrTaps));
        _mm_storel_pi(reinterpret_cast<__m64*>(out_row + 2 * x), s);
        _mm_storeh_pi(reinterpret_cast<__m64*>(out_row + out_stride + 2 * x), s);
      } else {
        for (int group = 0; group < phases / 4; ++group) {
          const float* g = w + group * 4 * kRaisrTaps;
          const __m128 s = Sum4(Dot7(p, g), Dot7(p, g + kRaisrTaps), Dot7(p, g + 2 * kRaisrTaps),
                                Dot7(p, g + 3 * kRaisrTaps));
          if (scale == 4) {
            _mm_storeu_ps(out_row + group * out_stride + 4 * x, s);
          } else {
            float lanes[4];
            _mm_storeu_ps(lanes, s);
            for (int k = 0; k < 4; ++k) {
              const int phase = group * 4 + k;
              out_row[(phase / scale) * out_stride + x * scale + phase % scale] = lanes[k];
            }
          }
        }
      }
    }
  }
}

}  // namespace

void AllowRaisrAvx2(bool allowed) { avx2_allowed.store(allowed); }

void PaddedPlane::Resize(int new_width, int new_height) {
  width = new_width;
  height = new_height;
  stride = (new_width + 2 * kRaisrBorder + 7) / 8 * 8;
  // Not zeroed: the caller writes the interior and FillBorder the rest, so a
  // plane resized to its previous size keeps its storage as it is.
  data.resize(static_cast<size_t>(stride) * (new_height + 2 * kRaisrBorder));
}

void PaddedPlane::FillBorder() {
  for (int y = 0; y < height; ++y) {
    float* row = Row(y);
    for (int k = 1; k <= kRaisrBorder; ++k) {
      row[-k] = row[0];
      row[width - 1 + k] = row[width - 1];
    }
    // The alignment padding on the right is never read by the filters; it
    // is zeroed so that the whole plane is a function of its picture.
    std::fill(row + width + kRaisrBorder, row - kRaisrBorder + stride, 0.0f);
  }
  const size_t row_floats = static_cast<size_t>(stride);
  float* first = data.data() + static_cast<size_t>(kRaisrBorder) * stride;
  float* last = data.data() + static_cast<size_t>(kRaisrBorder + height - 1) * stride;
  for (int k = 1; k <= kRaisrBorder; ++k) {
    std::copy(first, first + row_floats, first - k * row_floats);
    std::copy(last, last + row_floats, last + k * row_floats);
  }
}

void ComputeBuckets(const PaddedPlane& plane, const RaisrHash& hash, std::vector<uint16_t>* buckets,
                    int threads) {
  buckets->resize(static_cast<size_t>(plane.width) * plane.height);
  RaisrScratch scratch;
  HashPlane(plane, hash, buckets->data(), nullptr, nullptr, threads, &scratch);
}

void ComputeFeatures(const PaddedPlane& plane, std::vector<float>* strength,
                     std::vector<float>* coherence) {
  const size_t size = static_cast<size_t>(plane.width) * plane.height;
  strength->resize(size);
  coherence->resize(size);
  RaisrHash unused;
  RaisrScratch scratch;
  HashPlane(plane, unused, nullptr, strength->data(), coherence->data(), 1, &scratch);
}

void RaisrUpscale(const PaddedPlane& in, const RaisrModel& model, float* out, ptrdiff_t out_stride,
                  int threads, RaisrScratch* scratch) {
  std::vector<uint16_t>& buckets = scratch->buckets;
  buckets.resize(static_cast<size_t>(in.width) * in.height);
  HashPlane(in, model.hash, buckets.data(), nullptr, nullptr, threads, scratch);
  const bool avx2 = HasAvx2();
  const int64_t work = static_cast<int64_t>(in.width) * in.height * model.phases() * 8;
  SplitRows(in.height, threads, work, [&](int begin, int end) {
    if (avx2) {
      UpscaleRowsAvx2(in, model, buckets.data(), out, out_stride, begin, end);
    } else {
      UpscaleRowsPlain(in, model, buckets.data(), out, out_stride, begin, end);
    }
  });
}

const RaisrModel* FindRaisrModel(std::string_view family, int scale) {
  static const std::vector<RaisrModel>* models = [] {
    auto* list = new std::vector<RaisrModel>;
    for (const RaisrWeightBlob* blob = kRaisrWeightBlobs; blob->family != nullptr; ++blob) {
      RaisrModel model;
      model.scale = blob->scale;
      model.hash.angles = blob->angles;
      model.hash.strengths = blob->strengths;
      model.hash.coherences = blob->coherences;
      std::copy(blob->strength_edges, blob->strength_edges + 5, model.hash.strength_edges);
      std::copy(blob->coherence_edges, blob->coherence_edges + 3, model.hash.coherence_edges);
      model.weights.resize(blob->count);
      for (size_t k = 0; k < blob->count; ++k) model.weights[k] = blob->values[k] * blob->step;
      list->push_back(std::move(model));
    }
    return list;
  }();
  size_t index = 0;
  for (const RaisrWeightBlob* blob = kRaisrWeightBlobs; blob->family != nullptr; ++blob, ++index) {
    if (family == blob->family && scale == blob->scale) return &(*models)[index];
  }
  return nullptr;
}

}  // namespace vidmill::filters
