#pragma once
// denoise: Vidmill's motion-compensated spatio-temporal denoiser.
//
// Design. Each output picture is made from a window of five input pictures
// (two before, the picture itself, two after) in four steps.
//  1. Motion. Per 16×16 luma block and per neighbour picture, a vector is
//     searched on a pre-smoothed luma ([1 2 1]², which takes most of the noise
//     out of the matching error): predictive integer search at half
//     resolution (candidates: zero, this block's vector for the same
//     neighbour one picture earlier, the left and upper blocks' vectors, and
//     for the pictures two away twice the vector to the one in between), then
//     integer, half- and quarter-pixel refinement at full resolution, scored
//     by the mean absolute difference over the part of the block that stays
//     inside the picture (edge blocks may match content half outside). The
//     neighbours are moved along their vectors with six separable taps, a
//     blend of Lanczos-3 and Catmull-Rom set by the noise level: Lanczos
//     where the noise is weak (σ ≤ 6), since Catmull-Rom's blur of the
//     neighbours is taken for noise and smooths clean video; Catmull-Rom
//     where it is strong (σ ≥ 14), since its blur also smooths the
//     neighbours' noise. Chroma follows luma's vectors.
//  2. Noise model, per plane and picture, from the difference between the
//     picture and its nearest aligned neighbour: per 8×8 block the mean
//     squared difference, and per intensity bin (eight, by the local luma) its
//     median over the blocks is twice the noise variance (blocks that the
//     motion did not explain are a minority); the mean DCT power of the
//     difference over the blocks at or below the median gives the noise's
//     spectrum. This handles white noise, spatially correlated grain and
//     noise whose strength follows the intensity. Without a neighbour (a
//     single picture), white noise of σ = median |diagonal Haar detail| /
//     0.6745 is assumed. The property "sigma" fixes white noise of that σ
//     (8-bit code values) instead; "strength" scales the noise level.
//  3. Temporal. Each aligned sample gets a weight from its local (3×3) mean
//     squared difference to the current picture relative to the 2σ² that
//     noise alone would give: full weight where the difference is noise, none
//     where it is structure (occlusions, new content, cuts, failed vectors),
//     linear in between; the estimate is the weighted mean of the current
//     sample and the aligned ones.
//  4. Spatial. What the temporal mean could not remove (few matches: the first
//     and last pictures, occlusions, fast motion) is shrunk by hard
//     thresholding of 8×8 DCT blocks at a stride of 4, each coefficient's
//     threshold set from the noise left after step 3 (σ² × Σw²/(Σw)² over the
//     block) and the noise spectrum, and the overlapping blocks averaged with
//     weights 1/(1 + kept coefficients).
// The constants were chosen on the benchmark's training photos
// (bench/quality/run.sh), never on the held-out ones. The hot loops have AVX2
// versions chosen at run time, with portable fallbacks.
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
  // estimate per picture), "strength" (0–4, default 1: scales σ) and
  // "interlaced" (1: the frames are interlaced and stay so — each field
  // stream is denoised on its own, with same-parity neighbours; where a
  // plane's rows do not split evenly the top field has the extra row; frames
  // too short to hold a row of each field in every plane are denoised whole).
  static Result<std::unique_ptr<VideoFilter>> Create(const FilterConfig& config);
  ~Denoiser() override;

  Status Push(const FrameView& in, int64_t pts) override;
  Status Pull(std::vector<OwnedFrame>* out) override;
  Status Flush() override;
  PixelFormat output_format() const override { return config_.input; }

  struct Picture;
  struct Workspace;
  struct Neighbour;
  struct CompensationTaps;
  struct Vector {
    float dx = 0;
    float dy = 0;
  };

 private:
  Denoiser(const FilterConfig& config, double sigma, double strength);
  // Denoises window_[current_] with the pictures around it into ready_.
  void EmitCurrent();
  // The pictures around window_[current_] (`cur`) and their vector fields;
  // keeps the fields in previous_fields_.
  std::vector<Neighbour> FindNeighbours(const Picture& cur);
  // Steps 2–4 for one plane into `dst` (the luma first: it chooses the
  // neighbours and the noise model's source for the chroma), the neighbours
  // compensated with `taps`.
  void DenoisePlane(int plane, const Picture& cur, const std::vector<Neighbour>& neighbours,
                    const CompensationTaps& taps, std::vector<size_t>* used, size_t* model_source, const PlaneView& dst);

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
