#pragma once
// Film grain: Vidmill's `filmgrain` post-processor.
//
// Design. Grain is synthesised, never sampled from a clip, so it is
// deterministic for a seed and carries no copyrighted texture:
//  * White noise from a counter-based generator (SplitMix64 of seed, frame
//    number and pixel position, summed to an approximately Gaussian value)
//    — every pixel of every frame is independent of every other frame, so
//    the grain is temporally independent, and the same seed and input always
//    give the same output, whatever the thread count.
//  * A 3×3 box blur gives the grain a size of about two pixels, as film grain
//    has, and is renormalised to unit variance.
//  * The grain is scaled by an intensity response 4·y·(1−y) of the pixel's
//    luma y, normalised between the frame's black and white (16 and 235 in
//    limited range, scaled to the depth; 0 and the maximum in full range):
//    strongest in the mid-tones, nothing at black and white, as
//    silver-halide grain is most visible in mid-densities. Black bars and
//    peak white stay exactly as they were. Chroma gets 30 % of the luma
//    grain, modulated by luma too.
//  * The grain field of each plane is made exactly zero-mean before it is
//    added, its mean taken out in proportion to the response, and its
//    amplitude vanishes where clipping could occur, so the frame's mean is
//    kept (within 0.5 % in the tests).
//
// Properties: `strength` 0–1 (σ of the grain at mid-grey = 16 × strength
// code values at 8 bits, scaled for deeper formats; default 0.35) and `seed`.
//
// Thread safety: one instance per pipeline, used from one thread.

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "engine/filter_stage.h"

namespace vidmill::filters {

struct FilmGrainOptions {
  double strength = 0.35;
  uint64_t seed = 0x5eed5eed;
};

class FilmGrain final : public engine::FilterStage {
 public:
  explicit FilmGrain(FilmGrainOptions options) : options_(options) {}
  AVPixelFormat InputPixelFormat(AVPixelFormat offered) const override;
  Result<engine::VideoFormat> Configure(const engine::VideoFormat& input) override;
  Status Filter(engine::FramePtr frame, const EmitFn& emit) override;

  // Applies the grain of frame number `frame_index` to `frame` in place
  // (a format FilterPixelFormat takes). Exposed for tests.
  Status Apply(AVFrame* frame, int64_t frame_index);

 private:
  FilmGrainOptions options_;
  int64_t frame_index_ = 0;
  std::vector<float> noise_;
  std::vector<float> blurred_;
};

}  // namespace vidmill::filters
