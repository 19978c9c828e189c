#pragma once
// The inner loops of deint (filters/deint.h), in two implementations: portable
// C++ and AVX2, chosen at run time. Both do the same integer arithmetic and
// give bit-identical results (deint_test.cc compares them on random planes), so
// a picture does not depend on the machine it was processed on.
//
// Fixed point: Catmull-Rom taps at quarter-pixel phases are exact multiples of
// 1/128 ({-9, 111, 29, -3}/128 at ¼, {-8, 72, 72, -8}/128 at ½), so a motion
// compensated sample is an integer at scale 128 ("mc128", rounded after the
// vertical pass). Samples up to 12 bits keep every sum inside int32; deeper
// formats use the portable kernels.
//
// Thread safety: pure functions of their arguments.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vidmill::filters::deint_internal {

// Catmull-Rom weights (×128) of the four taps around phases 0, ¼, ½ and ¾.
inline constexpr int kQuarterTaps[4][4] = {
    {0, 128, 0, 0}, {-9, 111, 29, -3}, {-8, 72, 72, -8}, {-3, 29, 111, -9}};

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
};

// How the motion-adaptive estimate interpolates within the field.
enum class Spatial {
  kCubic,  // 4-tap vertical cubic on the kept lines
  kEdge,   // the best of 5 directions (−2…+2) by 3-pixel window SAD, linear
};

struct Kernels {
  // The motion-adaptive estimate of one missing line, `width` samples.
  void (*ma_row8)(const MaRows<uint8_t>& rows, Spatial spatial, int width, int max_value,
                  uint8_t* dst);
  void (*ma_row16)(const MaRows<uint16_t>& rows, Spatial spatial, int width, int max_value,
                   uint16_t* dst);
  // Σ |128·cur(x, y) − mc128(x, y)| over x = x0, x0 + 2, … < x1 (x1 − x0 ≤ 16)
  // and y = y_first, y_first + row_step, … < y1, where mc128 is `prev`
  // displaced by (dxq, dyq) quarter pixels. `cur` rows must be readable 16
  // samples from x0.
  int64_t (*sparse_error)(const PaddedPlane& prev, const PaddedPlane& cur, int x0, int x1,
                          int y_first, int y1, int row_step, int dxq, int dyq);
  // mc128 of the 16 samples x … x + 15 of row y.
  void (*warp16)(const PaddedPlane& prev, int x, int y, int dxq, int dyq, int32_t* out);
};

// The portable kernels; the AVX2 ones (nullptr where the CPU lacks AVX2); the
// fastest available, for samples of `bit_depth` bits (the portable ones when
// the environment sets VIDMILL_NO_SIMD, to measure or compare them).
const Kernels& PortableKernels();
const Kernels* Avx2Kernels();
const Kernels& BestKernels(int bit_depth);

}  // namespace vidmill::filters::deint_internal
