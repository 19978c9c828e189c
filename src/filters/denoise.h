#pragma once
// denoise: Vidmill's motion-compensated spatio-temporal denoiser.
//
// Design. Each output picture is made from a window of five input pictures
// (two before, the picture itself, two after) in three steps.
//  1. Noise level. Per plane, σ is estimated from the picture itself: the
//     median absolute value of the diagonal Haar detail of 2×2 cells (which
//     has the noise's variance for white noise and is near zero on most
//     picture content) over 0.6745, the median of |N(0, 1)|. The property
//     "sigma" fixes it instead (8-bit code values); "strength" scales it.
//  2. Temporal. Per 16×16 luma block and per neighbour picture, a motion
//     vector is searched on a pre-smoothed luma ([1 2 1]², which takes most of
//     the noise out of the matching error): predictive integer search at half
//     resolution (candidates: zero, this block's vector for the same
//     neighbour one picture earlier, the left and upper blocks' vectors, and
//     for the pictures two away twice the vector to the one in between), then
//     integer, half- and quarter-pixel refinement at full resolution. The
//     neighbours are moved along their vectors (Catmull-Rom), and each aligned
//     sample gets a weight from the local (3×3) mean squared difference to the
//     current picture relative to the 2σ² that noise alone would give: full
//     weight where the difference is noise, none where it is structure
//     (occlusions, new content, cuts, failed vectors), linear in between. The
//     temporal estimate is the weighted mean of the current sample and the
//     aligned ones. Chroma follows luma's vectors, with weights from its own
//     differences.
//  3. Spatial. What the temporal mean could not remove (few matches: the first
//     and last pictures, occlusions, fast motion) is shrunk by hard
//     thresholding of 8×8 DCT blocks at a stride of 4, each block's threshold
//     set from the noise left after step 2 (σ² × Σw²/(Σw)² over the block),
//     and the overlapping blocks averaged with weights 1/(1 + kept
//     coefficients).
// The constants were chosen on the benchmark's training photos
// (bench/quality/run.sh), never on the held-out ones.
//
// Input: 8–16 bits, 4:2:0, 4:2:2 or 4:4:4, any size. Output: the same format,
// one picture per input picture, same pts, delayed by two pictures (Pull
// returns nothing for the first two Pushes; Flush releases the rest).
// Deterministic: the work is always split into the same two halves, run on
// two threads.
//
// Thread safety: one instance per pipeline; Pull() runs two threads inside.

#include <array>
#include <deque>
#include <memory>
#include <vector>

#include "filters/filter.h"

namespace vidmill::filters {

class Denoiser final : public VideoFilter {
 public:
  // Properties: "sigma" (noise σ in 8-bit code values, 0–100; absent or 0 =
  // estimate per picture) and "strength" (0–4, default 1: scales σ).
  static Result<std::unique_ptr<VideoFilter>> Create(const FilterConfig& config);
  ~Denoiser() override;

  Status Push(const FrameView& in, int64_t pts) override;
  Status Pull(std::vector<OwnedFrame>* out) override;
  Status Flush() override;
  PixelFormat output_format() const override { return config_.input; }

  struct Picture;
  struct Workspace;
  struct Vector {
    float dx = 0;
    float dy = 0;
  };

 private:
  Denoiser(const FilterConfig& config, double sigma, double strength);
  // Denoises window_[current_] with the pictures around it into ready_.
  void EmitCurrent();

  FilterConfig config_;
  double fixed_sigma_;  // in the input's code values; 0 = estimate
  double strength_;
  std::deque<std::unique_ptr<Picture>> window_;
  std::vector<std::unique_ptr<Picture>> spare_;  // recycled, to spare allocations
  std::unique_ptr<Workspace> workspace_;
  size_t current_ = 0;
  bool flushed_ = false;
  std::vector<OwnedFrame> ready_;
  // Per neighbour offset (−2, −1, +1, +2): the vector field of the last
  // emitted picture, the search's first guess for the next one.
  std::array<std::vector<Vector>, 4> previous_fields_;
};

// The noise σ of a plane (its own code values) estimated as in step 1 above.
double EstimateNoiseSigma(const PlaneView& plane);

}  // namespace vidmill::filters
