#pragma once
// Picture fusion: dvres's last stage. Each output picture's luma becomes a
// weighted mean of itself and its neighbours (kFusionRadius before and after),
// each moved onto it by the camera's global motion, weighted towards the
// neighbours that kept more detail where they agree with the picture.
//
// Why. A low-bitrate coder spends its bits unevenly: x264 at 150 kb/s gives a
// B picture 17–342 bytes against 344–2158 for a P picture, so a B picture is
// the previous picture pushed along by motion vectors, blurred by the
// codec's own sub-pixel interpolation, often 2–4 dB below the picture it came
// from. Under a camera move, the better picture moved onto the worse one
// with a precise global motion and a sharp interpolator restores much of
// what the worse picture lost; denoise's block vectors and bilinear
// interpolation (dvres's first stage) did not (docs/filters.md).
//
// Design, per output picture n:
//  * Motion: the global motion between consecutive pictures (dejit.h's
//    estimator: translation, zoom and rotation, robust to objects that
//    move on their own over a minority of the picture), chained to each
//    neighbour m. A pair that does not match (a cut) ends the run: pictures
//    across a cut are never mixed.
//  * Local refinement: per 16 × 16 block, the global motion corrected by a
//    shift of up to ± 4 pixels and a fraction of a pixel where that
//    matches the neighbour much better (LocalShifts in fusion.cc): a layer
//    that moves otherwise than the camera's fit (parallax). Every measure
//    below reads the neighbour where the refined motion puts it.
//  * Each neighbour's luma is resampled onto picture n (Catmull-Rom).
//  * Weights, per pixel and neighbour (8-bit code units; G_s a Gaussian of
//    σ = s pixels; measured on half-size pictures, the gate on quarter-size
//    ones; constants in fusion.cc):
//    - detail: G_3((W − G_2 W)²) + 1 over the picture's, clamped to ¼ … 4,
//      squared: the neighbour that kept more detail counts more;
//    - agreement: exp(−D / 300), D = G_3((G_2 W − G_2 Y_n)²): what global
//      motion does not explain keeps picture n's own samples;
//    - a moving-object gate: 0 in blocks where shifting the neighbour by 4
//      to 16 pixels matches much better than no shift (MovingBlocks), and
//      in blocks whose content the local refinement finds drifting on its
//      own at one velocity in at least three neighbours (OwnMotion: a slow
//      object, which the gate's 4 pixels miss), with the blocks around
//      both;
//    - texture match: the best normalised correlation (Σ B_n B_m + f) /
//      √((Σ B_n² + f)(Σ B_m² + f)) of the band-pass pictures B = W − G_2 W
//      over a 7 × 7 window, the neighbour shifted by up to 2 half-size
//      pixels (a coder's pictures sit a pixel or two off), f a floor of 0.5
//      per pixel; ramped from 0 at 0.5 to 1 at 0.8. A neighbour that brings
//      another fine texture than the picture's (an object of the
//      background's brightness passing over the place) or noise of its own
//      counts for nothing there;
//    - on-screen content: 0 where the neighbour unmoved matches better than
//      moved (a timecode, subtitles, a logo while the camera moves): on the
//      low-pass pictures, and for strong fine detail (thin strokes) on the
//      band-pass ones;
//    - alignment: the median of (G_2 W − G_2 Y_n)² over the picture: a
//      neighbour the global motion does not align (a pan too fast for the
//      fit, a fade, flicker) counts less or not at all;
//    - 0 where the neighbour's sample falls outside it. Picture n's own
//      sample has weight 1.
//  * Chroma is picture n's own.
// Frames smaller than kFusionMinSize in either direction pass unchanged.
//
// Input/output: any planar format of filter.h, same size; one output per
// input with its pts, kFusionRadius pictures late (Flush releases the rest).
// Deterministic; rows split across two threads.
//
// Thread safety: one instance per pipeline.

#include <deque>
#include <memory>

#include "filters/dejit.h"
#include "filters/filter.h"

namespace vidmill::filters {

constexpr int kFusionRadius = 3;
constexpr int kFusionMinSize = 64;

class PictureFusion final : public VideoFilter {
 public:
  static Result<std::unique_ptr<VideoFilter>> Create(const PixelFormat& format);

  Status Push(const FrameView& in, int64_t pts) override;
  Status Pull(std::vector<OwnedFrame>* out) override;
  Status Flush() override;
  PixelFormat output_format() const override { return format_; }

  // Picture → neighbour coordinates: (x, y) ↦ (a x + b y + c, d x + e y + f).
  struct Affine {
    double a = 1, b = 0, c = 0, d = 0, e = 1, f = 0;
  };
  // The texture match's buffers (fusion.cc), kept from picture to picture.
  struct TextureBuffers {
    std::vector<float> moved_scale, square, best, unshifted;
    std::vector<float> product[2], local[2], rows[2];  // per half of the rows
  };

 private:
  explicit PictureFusion(const PixelFormat& format) : format_(format) {}

  // Large enough to measure motion on; smaller frames pass unchanged.
  bool fuses() const { return format_.width >= kFusionMinSize && format_.height >= kFusionMinSize; }

  struct Picture {
    OwnedFrame frame;
    // Where the frame is fused (8-bit code units): its luma; at half size,
    // the luma (the local refinement's), G_2 of it, the detail measure
    // G_3((luma − G_2 luma)²), the band-pass picture luma − G_2 luma and its
    // window energy (the texture match's); G_2 at quarter size.
    std::vector<float> luma, half, low, detail, quarter, band, band_energy;
    Affine to_previous;  // this picture's coordinates → the previous one's
    int run = 0;         // pictures of one run (no cut between them) share it
  };

  // Emits the oldest picture not yet emitted, fused with what is held.
  void EmitNext();
  // Writes picture n's fused luma into `luma`.
  void FuseLuma(int64_t n, const PlaneView& luma);
  // Picture n's coordinates → picture m's (both held, in one run).
  Affine MapTo(int64_t n, int64_t m) const;

  PixelFormat format_;
  std::deque<Picture> held_;    // pictures first_held_ … , in order
  std::vector<Picture> spare_;  // dropped pictures, whose buffers Push reuses
  int64_t first_held_ = 0;
  int64_t next_out_ = 0;  // index of the next picture to emit
  int64_t pushed_ = 0;
  MotionPyramid last_pyramid_;
  std::vector<OwnedFrame> ready_;
  bool flushed_ = false;
  // Buffers kept from picture to picture (a 1440p plane is 15 MB).
  struct Scratch {
    std::vector<float> low, detail, local_detail, blur_scratch, high, band_square;  // Push's
    std::vector<float> numerator, denominator, disagreement, local_disagreement, weight, quarter,
        half_scratch, sample, unmoved, local_unmoved, moved_band, moved_half,
        refine_padded;  // FuseLuma's
    TextureBuffers texture;
  } scratch_;
};

}  // namespace vidmill::filters
