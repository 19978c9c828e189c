#pragma once
// deint: Vidmill's motion-adaptive, edge-directed deinterlacer.
//
// Design. Each output picture keeps the lines of one field and rebuilds the
// other field's lines (the "missing" lines) from three predictions:
//  * temporal: the mean of the missing line in the opposite-parity fields just
//    before and just after (exact where nothing moves);
//  * spatial: an edge-directed interpolation between the kept lines above and
//    below. Directions −3…+3 pixels are scored by the sum of absolute
//    differences of 3-pixel windows along the direction; the vertical
//    direction uses a 4-tap cubic (lines y±1, y±3), the slanted ones the mean
//    of the two end points. A direction is only taken when it is better than
//    vertical and than its less-slanted neighbour (as ELA and yadif do), so
//    noise does not pick random slopes;
//  * motion: a per-pixel motion measure (the larger of the temporal change of
//    the missing line and the change of the kept lines against the same-parity
//    field two field periods away). The output is the spatial prediction
//    clamped to temporal ± motion: static areas take the temporal value
//    (full vertical resolution), moving areas the spatial one.
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

#include "filters/filter.h"

namespace vidmill::filters {

class Deinterlacer final : public VideoFilter {
 public:
  static Result<std::unique_ptr<VideoFilter>> Create(const FilterConfig& config);

  Status Push(const FrameView& in, int64_t pts) override;
  Status Pull(std::vector<OwnedFrame>* out) override;
  Status Flush() override;
  PixelFormat output_format() const override { return config_.input; }
  int pts_scale() const override { return config_.field_rate ? 2 : 1; }

 private:
  explicit Deinterlacer(const FilterConfig& config) : config_(config) {}
  // Emits the outputs of window_[1] (prev = window_[0], next = window_[2]).
  void EmitCurrent(std::vector<OwnedFrame>* out);

  FilterConfig config_;
  std::deque<OwnedFrame> window_;  // [prev, cur, next]
  std::vector<OwnedFrame> ready_;
  bool flushed_ = false;
  bool started_ = false;
};

// Builds one output picture: keeps the lines of parity `kept_parity` of `cur`
// and interpolates the others. `before`/`after` hold the missing lines at the
// field times just before/after (their lines of parity 1 − kept_parity);
// `same_before`/`same_after` the kept parity two field periods away. Exposed
// for tests and the benchmark.
void DeinterlacePlane(const PlaneView& before, const PlaneView& cur, const PlaneView& after,
                      const PlaneView& same_before, const PlaneView& same_after,
                      int kept_parity, const PlaneView& out);

}  // namespace vidmill::filters
