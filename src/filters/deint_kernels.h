#pragma once
// The inner loops of deint (filters/deint.h), in two implementations: portable
// C++ and AVX2, chosen at run time. Both do the same integer arithmetic and
// give bit-identical results (deint_test.cc compares them on random planes), so
// a picture does not depend on the machine it was processed on.
//
// Fixed point: motion compensation interpolates with Lanczos-3 taps (six per
// direction) rounded to multiples of 1/128 at the quarter-pixel phases, so a
// motion compensated sample is an integer at scale 128 ("mc128", rounded
// after the vertical pass). Samples up to 12 bits keep every sum inside int32
// (4095 × 180 × 180, 180 being the sum of a phase's |taps|); deeper
// formats use the portable kernels.
//
// Thread safety: pure functions of their arguments.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vidmill::filters::deint_internal {

// Lanczos-3 weights (×128, rounded; each phase sums to 128) of the six taps
// at offsets −2 … 3 around phases 0, ¼, ½ and ¾. On the training photos'
// woven 576 clips they gave +0.30 dB over Catmull-Rom's four taps (mean of 5;
// −0.02 to +0.55 per photo): the compensated lines keep more of the detail
// that Catmull-Rom blurred. Lanczos does not reproduce a ramp exactly (the
// ¼ phase's first moment is 29/128 rather than 32/128); taps adjusted to do
// so scored 0.05 dB lower, and Keys' six-point cubic, which does, 0.17 lower.
inline constexpr int kTaps = 6;
inline constexpr int kTapsBefore = 2;
inline constexpr int kQuarterTaps[4][kTaps] = {{0, 0, 128, 0, 0, 0},
                                               {4, -17, 114, 35, -9, 1},
                                               {3, -17, 78, 78, -17, 3},
                                               {1, -9, 35, 114, -17, 4}};

// A luma picture as int16 samples with its edges replicated kPadX / kPadY
// samples outward, so a displaced read needs no bounds check (the border holds
// what clamping the coordinate would read). Vectors are limited to ±32 pixels.
class PaddedPlane {
 public:
  static constexpr int kPadX = 64;
  static constexpr int kPadY = 48;

  void Resize(int width, int height);
  bool empty() const { return data_.empty(); }
  int width() const { return width_; }
  int height() const { return height_; }
  ptrdiff_t stride() const { return stride_; }
  // Row y ∈ [−kPadY, height + kPadY), column 0 at the returned pointer.
  uint16_t* Row(int y) { return data_.data() + (y + kPadY) * stride_ + kPadX; }
  const uint16_t* Row(int y) const { return data_.data() + (y + kPadY) * stride_ + kPadX; }
  // Replicates the edge samples of rows [row_begin, row_end) left and right.
  void ExtendRows(int row_begin, int row_end);
  // Multiplies every sample, border included, by `ratio` (rounded, at most
  // `max_value`).
  void Scale(float ratio, int max_value);
  // Replicates the first and last rows (already extended) up and down.
  void ExtendTopBottom();

 private:
  int width_ = 0;
  int height_ = 0;
  ptrdiff_t stride_ = 0;
  std::vector<uint16_t> data_;
};

// The rows one missing output line of the motion-adaptive estimate reads (see
// DeinterlaceRows in deint.cc for their meaning).
template <typename T>
struct MaRows {
  const T* up;
  const T* down;
  const T* up3;
  const T* down3;
  const T* prev_line;
  const T* next_line;
  const T* prev2_up;
  const T* prev2_down;
  const T* next2_up;
  const T* next2_down;
  const T* sb_up;
  const T* sb_down;
  const T* sa_up;
  const T* sa_down;
  // No other picture exists (a one-frame clip): the temporal differences are
  // all zero and say nothing, so the kept lines' check (b2, f2 in
  // DeinterlaceRows) judges every sample, as in yadif, where a still one
  // would otherwise take the temporal (woven) value at once, as in bwdif.
  bool lone = false;
};

// The lines one sampled kept line is predicted from when a block's spatial
// rule is judged (edge_errors; KeptFieldErrors and AddBackProjectionErrors in
// deint.cc): on the kept field alone 6 and 2 lines above, the line itself, 2
// and 6 below; on a spatial variant's output 3 and 1 above, the line, 1 and
// 3 below.
template <typename T>
struct KeptRows {
  const T* up3;
  const T* up;
  const T* line;
  const T* down;
  const T* down3;
};

// How the motion-adaptive estimate interpolates within the field.
enum class Spatial {
  kCubic,  // 4-tap vertical cubic on the kept lines
  kEdge,   // the best of 5 directions (−2…+2) by 3-pixel window SAD, linear
};

// bwdif's 4-tap vertical cubic (×8192): the near taps' weight and the far
// taps' (negative) one.
inline constexpr int kCubicNear = 5077;
inline constexpr int kCubicFar = 981;
// The cubic from the sums of the near and of the far samples, rounded.
inline int Cubic(int near_sum, int far_sum) {
  return (kCubicNear * near_sum - kCubicFar * far_sum + 4096) >> 13;
}

// deint's spatial variants of a block's missing lines: the cubic, the
// edge-directed rule, or their blend: the mean of the two, rounded.
enum class Variant { kCubic, kEdge, kBlend };
inline int Blend(int cubic, int edge) { return (cubic + edge + 1) >> 1; }

struct Kernels {
  // The motion-adaptive estimate of one missing line, `width` samples.
  void (*ma_row8)(const MaRows<uint8_t>& rows, Spatial spatial, int width, int max_value,
                  uint8_t* dst);
  void (*ma_row16)(const MaRows<uint16_t>& rows, Spatial spatial, int width, int max_value,
                   uint16_t* dst);
  // Luma's missing line in the three variants: the cubic and the
  // edge-directed estimates (ma_row's) and their Blend; where free[x] is 1
  // (it is 0 or 1) the cubic and the edge-directed rule instead take their
  // spatial predictions before the motion-adaptive limits (clamped to
  // 0…max_value). One pass for both rules, which share the limits.
  void (*luma_row8)(const MaRows<uint8_t>& rows, int width, int max_value, const uint8_t* free,
                    uint16_t* cubic, uint16_t* edge, uint16_t* blend);
  void (*luma_row16)(const MaRows<uint16_t>& rows, int width, int max_value, const uint8_t* free,
                     uint16_t* cubic, uint16_t* edge, uint16_t* blend);
  // Where the missing line's sample x (< width) is exactly still —
  // prev_line = next_line there, and the kept lines above and below equal to
  // sb_* and sa_* — and that value lies between the kept lines above and
  // below, give or take half their difference and max_value / 128,
  // samples[x] becomes the temporal mean (then prev_line's sample); other
  // samples are left.
  void (*take_still8)(const MaRows<uint8_t>& rows, int width, int max_value, uint16_t* samples);
  void (*take_still16)(const MaRows<uint16_t>& rows, int width, int max_value, uint16_t* samples);
  // Σ |128·cur(x, y) − mc128(x, y)| over x = x0, x0 + 2, … < x1 (x1 − x0 ≤ 16)
  // and y = y_first, y_first + row_step, … < y1, where mc128 is `prev`
  // displaced by (dxq, dyq) quarter pixels. `cur` rows must be readable 16
  // samples from x0.
  int64_t (*sparse_error)(const PaddedPlane& prev, const PaddedPlane& cur, int x0, int x1,
                          int y_first, int y1, int row_step, int dxq, int dyq);
  // sparse_error for `count` (≤ 3) vectors (dxq, dyqs[i]) whose vertical
  // parts differ by at most a pixel, into errors[i]: the same sums, with
  // each source row's horizontal pass done once for all of them.
  void (*sparse_errors)(const PaddedPlane& prev, const PaddedPlane& cur, int x0, int x1,
                        int y_first, int y1, int row_step, int dxq, const int* dyqs, int count,
                        int64_t* errors);
  // mc128 of the 16 samples x … x + 15 of row y.
  void (*warp16)(const PaddedPlane& prev, int x, int y, int dxq, int dyq, int32_t* out);
  // out[i] = clamp((weight · warped[i] + (256 − weight) · 128 · spatial[i] +
  // 2^14) >> 15, 0, max_value) for i < count (≤ 16): warp16's output mixed
  // with a spatial estimate, weight / 256 of it the warped one.
  void (*mix)(const int32_t* warped, const uint16_t* spatial, int count, int weight, int max_value,
              uint16_t* out);
  // Adds Σ |line − cubic|, Σ |line − edge-directed| and Σ |line − Blend of
  // the two| over x = x0, x0 + 2, … < x1 (x1 − x0 ≤ 16) of a line `width`
  // samples wide, predicted from `rows` (the cubic from all four, the
  // edge-directed rule from up and down, its directions −2…2 times `step`,
  // 1 or 2); samples beyond the line's ends are its end samples. A null
  // error pointer: that error is not wanted.
  void (*edge_errors8)(const KeptRows<uint8_t>& rows, int x0, int x1, int width, int step,
                       int64_t* cubic_error, int64_t* edge_error, int64_t* blend_error);
  void (*edge_errors16)(const KeptRows<uint16_t>& rows, int x0, int x1, int width, int step,
                        int64_t* cubic_error, int64_t* edge_error, int64_t* blend_error);
};

// The portable kernels; the AVX2 ones (nullptr where the CPU lacks AVX2); the
// fastest available, for samples of `bit_depth` bits (the portable ones when
// the environment sets VIDMILL_NO_SIMD, to measure or compare them).
const Kernels& PortableKernels();
const Kernels* Avx2Kernels();
const Kernels& BestKernels(int bit_depth);

}  // namespace vidmill::filters::deint_internal
