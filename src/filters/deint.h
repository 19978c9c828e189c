#pragma once
// deint: Vidmill's motion-compensated, motion-adaptive deinterlacer.
//
// Design. Each output picture keeps the lines of one field and rebuilds the
// other field's lines (the "missing" lines) in two steps. First, a
// motion-adaptive estimate from three predictions:
//  * temporal: the mean of the missing line in the opposite-parity fields just
//    before and just after (exact where nothing moves);
//  * spatial: a 4-tap cubic between the kept lines (y±1, y±3). An optional
//    edge-directed search (property "edge_directed" = 1: directions −3…+3
//    pixels scored by the SAD of 5-pixel windows, taken only when under half
//    the vertical score, walking outward while the score improves) is off by
//    default: on the benchmark's natural camera pans it lowered Y-PSNR (by
//    0.6 dB with yadif-style 3-pixel windows, 0.07 dB with this strict rule)
//    and halved the speed; it helps on sharp synthetic diagonals only;
//  * motion: a per-pixel motion measure (the larger of the temporal change of
//    the missing line and the change of the kept lines against the same-parity
//    field two field periods away). The output is the spatial prediction
//    clamped to temporal ± motion: static areas take the temporal value
//    (full vertical resolution), moving areas the spatial one.
// Second (field-rate output, luma): motion compensation. The previous output
// picture holds, on its kept lines, the real samples of exactly the lines this
// field lacks, one field period earlier. Per 16×16 block a vector is searched
// (predictive: last field's vector, the left and upper neighbours', zero; then
// integer steps and half/quarter-pixel refinement, Catmull-Rom sub-pixel), its
// error measured on the block's *kept* lines only — real samples, so a vector
// that explains them is trusted. Where the mean error is under 16 (8-bit code
// values), the block's missing lines become 0.7 × the previous output moved
// along the vector + 0.3 × the motion-adaptive estimate (the mix damps the
// feedback of reconstruction errors; tuned on the training photos); elsewhere (occlusions, new
// content, scene cuts) the motion-adaptive estimate stays. Moving detail thus keeps full vertical
// resolution, which no intra-field interpolation can recover.
// Input: woven frames (both fields in one frame); 8–16 bits, any chroma (chroma
// lines follow luma's field parity, as in yadif/bwdif). Output: the same format,
// one frame per input frame (first field kept) or, with field_rate, two
// (pts × 2 and pts × 2 + 1). One frame of look-ahead.
//
// Thread safety: one instance per pipeline; the rows are split across two
// threads inside Pull().

#include <deque>
#include <memory>
#include <vector>

#include "filters/deint_kernels.h"
#include "filters/filter.h"

namespace vidmill::filters {

// A block displacement in quarter pixels of the full frame.
struct MotionVector {
  int dxq = 0;
  int dyq = 0;
};

class Deinterlacer final : public VideoFilter {
 public:
  static Result<std::unique_ptr<VideoFilter>> Create(const FilterConfig& config);
  ~Deinterlacer() override;

  Status Push(const FrameView& in, int64_t pts) override;
  Status Pull(std::vector<OwnedFrame>* out) override;
  Status Flush() override;
  PixelFormat output_format() const override { return config_.input; }
  int pts_scale() const override { return config_.field_rate ? 2 : 1; }

 private:
  struct LumaHistory;

  explicit Deinterlacer(const FilterConfig& config);
  // Emits the outputs of window_[1] (prev = window_[0], next = window_[2]).
  void EmitCurrent(std::vector<OwnedFrame>* out);
  // Field rate, luma, block rows [block_row_begin, block_row_end): the
  // per-block motion search, choice and compensation of `out`'s missing lines
  // (which hold the cubic estimate on entry); fills next_history_'s rows.
  void CompensateLuma(const PlaneView& out, int kept_parity, int block_row_begin,
                      int block_row_end);

  FilterConfig config_;
  const deint_internal::Kernels* kernels_;
  std::deque<OwnedFrame> window_;  // [prev, cur, next]
  std::vector<OwnedFrame> ready_;
  bool flushed_ = false;
  bool started_ = false;
  // Field rate only: the previous output's variants (history_), this field's
  // (next_history_), this field's kept lines, the last field's block vectors.
  std::unique_ptr<LumaHistory> history_;
  std::unique_ptr<LumaHistory> next_history_;
  bool have_history_ = false;
  deint_internal::PaddedPlane current_;
  std::vector<MotionVector> vectors_;
};

}  // namespace vidmill::filters
