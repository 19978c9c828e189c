#pragma once
// dejit: Vidmill's video stabiliser (removes frame jitter, keeps the intended
// camera move) and time-base corrector (removes line jitter).
//
// Design. First, as each frame arrives, its line jitter — lines shifted
// horizontally one by one, as an analogue player's time-base error leaves
// them — is measured and removed (line_jitter.h), with the frame before it
// (already corrected) warped by the global motion below as the temporal
// reference. A frame whose first, picture-only estimate finds less than
// 0.1 px RMS of line jitter is left as it is, so clean video is untouched.
// Property "lines" = 0 switches this step off. Then three steps per frame:
//  * Motion: the global motion between consecutive frames, measured on luma
//    box-downscaled to about 480 pixels wide (level 0) and once more by 2
//    (level 1). An exhaustive integer translation search on level 1 gives the
//    start; Gauss-Newton iterations on level 1 then level 0 fit a similarity
//    (translation u at the picture centre, zoom and rotation) with
//    outlier-capped residuals, sub-pixel and robust to moving objects that
//    cover a minority of the picture. Only u is used: the zoom/rotation terms
//    keep the translation unbiased when the camera also zooms or turns.
//    A pair that does not match (mean residual too large: a cut) starts a new
//    segment of the camera path, unless a frame within the next
//    kBridgeFrames + 1 matches the last frame before it: then the frames
//    between were a dropout (a photographer's flash, a black frame of a bad
//    splice), and the path is bridged across them, their positions
//    interpolated, so the shot does not jolt after a flash.
//  * Path: the camera position Q(n) is the sum of the translations. Its
//    intended part S(n) is a Gaussian-weighted local linear fit of Q over
//    ±kRadius frames of the same segment (non-causal: the filter holds
//    kRadius frames of look-ahead), which follows pans without lag and
//    without the end bias of a plain moving average.
//  * Warp: each frame is resampled at (centre + (p − centre) / zoom + S − Q),
//    separable Catmull-Rom, with a fixed zoom ("zoom", default 1.025: 4.8 %
//    of the picture area cropped) and the correction S − Q clamped to the
//    margin the zoom gives, so every output sample comes from inside the
//    picture: never a black border. Chroma follows luma (offsets scaled by
//    the subsampling).
// Interlaced frames that stay interlaced (property "fields" = 1, set by the
// engine stage when the output keeps its fields): each field is warped from
// the same field of the input, so the fields never mix, and each field's
// lines are measured on their own, against the previous frame's same field.
// Input/output: any planar format of filter.h (8–16 bits, 4:2:0/4:2:2/4:4:4),
// same size; one output per input, delayed by kRadius frames (Pull returns
// nothing while the look-ahead fills; Flush releases the rest).
//
// Thread safety: one instance per pipeline; motion measurement and the warp
// split their rows across two threads, with sums combined in a fixed order so
// the output does not depend on the thread count.

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "filters/filter.h"
#include "filters/line_jitter.h"

namespace vidmill::filters {

// Luma downscaled for motion measurement, in 8-bit units.
struct MotionPyramid {
  int factor = 1;  // input pixels per level-0 pixel
  int width0 = 0, height0 = 0;
  int width1 = 0, height1 = 0;
  std::vector<float> level0;
  std::vector<float> level1;
};

// The global motion from one frame to the next: next(p) ≈ previous(p + u +
// M (p − centre)), M = [zoom −rotation; rotation zoom] (small), in input
// pixels. `matched` is false where the frames do not match (a cut).
struct GlobalMotion {
  double ux = 0, uy = 0;
  double zoom = 0, rotation = 0;
  double mean_residual = 0;  // 8-bit units
  bool matched = true;
};

MotionPyramid BuildMotionPyramid(const PlaneView& luma);
GlobalMotion EstimateGlobalMotion(const MotionPyramid& previous, const MotionPyramid& next);

// Resamples `in` into `out` (same size and depth) at in(centre + (p − centre)
// / zoom + offset), separable Catmull-Rom, edge samples replicated. The rows
// are split across two threads when the plane is large.
void WarpPlane(const PlaneView& in, const PlaneView& out, double zoom, double offset_x,
               double offset_y);

class Dejitter final : public VideoFilter {
 public:
  static Result<std::unique_ptr<VideoFilter>> Create(const FilterConfig& config);

  Status Push(const FrameView& in, int64_t pts) override;
  Status Pull(std::vector<OwnedFrame>* out) override;
  Status Flush() override;
  PixelFormat output_format() const override { return config_.input; }

  // Frames of look-ahead (and of history) the path smoothing uses.
  static constexpr int kRadius = 20;
  // The longest dropout bridged, in frames.
  static constexpr int kBridgeFrames = 2;

 private:
  explicit Dejitter(const FilterConfig& config) : config_(config) {}
  struct PathPoint {
    double x = 0, y = 0;  // camera position Q(n), input pixels
    int segment = 0;
  };

  // Warps the oldest pending frame into ready_.
  void EmitOldest();
  // Frame `index` (`pyramid`) did not match the frame before it: when it
  // matches the anchor, the frames between were a dropout; sets `point` and
  // puts them on the path between the two. False when it does not match.
  bool BridgeDropout(const MotionPyramid& pyramid, int64_t index, PathPoint* point);
  // Measures and removes the line jitter of `frame` (line_jitter.h), with
  // `previous` (when not null: the frame before, its line jitter removed)
  // warped by `map` (this frame's pixels to previous's) as the temporal
  // reference.
  void RemoveLineJitter(OwnedFrame* frame, const OwnedFrame* previous, const AffineMap& map);

  FilterConfig config_;
  double zoom_ = 1.025;
  double sigma_ = 5.0;
  bool fields_ = false;
  bool lines_ = true;
  std::deque<OwnedFrame> pending_;  // frames first_pending_ … first_pending_ + size − 1
  int64_t first_pending_ = 0;
  std::deque<PathPoint> path_;  // frames path_base_ …
  int64_t path_base_ = 0;
  MotionPyramid previous_pyramid_;
  // The last frame before an unmatched pair, while a dropout may still end
  // (anchor_index_ < 0: none).
  MotionPyramid anchor_pyramid_;
  int64_t anchor_index_ = -1;
  std::vector<OwnedFrame> ready_;
  bool flushed_ = false;
};

}  // namespace vidmill::filters
