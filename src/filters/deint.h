#pragma once
// deint: Vidmill's motion-compensated, motion-adaptive deinterlacer.
//
// Design. Each output picture keeps the lines of one field and rebuilds the
// other field's lines (the "missing" lines) in two steps. First, a
// motion-adaptive estimate from three predictions:
//  * temporal: the mean of the missing line in the opposite-parity fields just
//    before and just after (exact where nothing moves);
//  * spatial, in two variants: a 4-tap vertical cubic between the kept lines
//    (y±1, y±3), or edge-directed: the best of five directions (−2…+2 pixels,
//    yadif's rule: 3-pixel window SAD, the second step only if the first one
//    improved), linear along it;
//  * motion: a per-pixel motion measure (the larger of the temporal change of
//    the missing line and the change of the kept lines against the same-parity
//    field two field periods away). The output is the spatial prediction
//    clamped to temporal ± motion: static areas take the temporal value
//    (full vertical resolution), moving areas the spatial one.
// Second (field-rate output, luma): motion compensation and a per-block choice.
// The previous output picture holds, on its kept lines, the real samples of
// exactly the lines this field lacks, one field period earlier. Per 16×16 block
// a vector is searched (predictive: last field's vector, the left and upper
// neighbours', zero; then integer steps and half/quarter-pixel refinement,
// six-tap Lanczos-3 sub-pixel), its error measured on the block's *kept* lines
// only (every one of them, every second sample).
// The compensated candidate is w × the previous output moved along the
// vector + (1 − w) × the motion-adaptive estimate (the mix damps the feedback
// of reconstruction errors), offered only where the vector explains the kept
// lines (mean error under 16 8-bit code values). w is 0.7 where compensation
// won the look-back (below) narrowly, up to 0.95 where it won clearly and the
// vector matched closely.
// Which of cubic, edge-directed, their blend (the mean of the two) and
// compensated a block gets is decided by a look-back: the previous field was
// reconstructed all four ways (kept in a per-field history), and this field's
// kept lines are real samples of exactly the lines it had to invent. Each
// variant, moved along the block's vector, is compared with them; only its
// missing lines differ, so the errors rank the four methods on real data at
// this place, one field ago. Compensation is used only where it was strictly
// better. When the vertical motion is an odd number of lines the kept lines
// meet only the previous kept lines and the errors tie: compensation (which
// would then copy reconstructed lines) is not trusted, and the three spatial
// variants are judged on the kept field alone (each sampled kept line
// predicted from the kept lines 2 and 6 away by each rule) and, in blocks
// that move, also by a back-projection once the variants exist (each
// variant's own missing lines 1 and 3 away predicting the kept lines, at the
// real spacing; errors summed).
// In a block whose vector matched and is not zero (it moves), the missing
// line in the fields before and after holds other picture content, so the
// motion-adaptive limits around their mean are dropped: its spatial variants
// are the cubic and edge-directed predictions themselves ("free") and their
// blend. At one line per field, where every field samples the same picture
// lines and no field holds the missing ones, the limits would flatten the
// cubic to nearly a linear interpolation. The blend and the free predictions
// gained 0.41 dB on the mean of the 37 training clips, none lost
// (docs/filters.md, deint step 9).
// Without this choice the smooth and graphic training photos (IceCold, Grey,
// ColorfulCups) lose 4–9 dB to yadif (cubic jaggies on shallow edges,
// compensated lines copying reconstructions); with it every training photo
// beats the best stock filter (bench/quality).
// The stream's ends: the missing frame beyond them is a copy of the current
// one, so the first field takes its motion-adaptive estimate's missing lines
// from the current and the next frame, the last from the previous and the
// current; the first field, with nothing before it, is revisited from the
// second once that is done (RevisitFirstField); the last field takes the
// compensated lines wherever the vector matched. A one-frame clip has no
// motion to measure: every sample is judged by yadif's check of the kept
// lines (the woven value unless it stands outside them), without the
// revisit or the last field's rule.
// Chroma takes the cubic motion-adaptive estimate, and where the luma took the
// compensated lines the previous output's chroma moved along the same vector.
// Frame-rate output is the same process with the second field's picture left
// out (it is still made: the next frame's first field is compensated from it).
// The inner loops are integer fixed point with AVX2 versions chosen at run
// time (filters/deint_kernels.h), bit-identical to the portable ones.
// Input: woven frames (both fields in one frame); 8–16 bits, any chroma (chroma
// lines follow luma's field parity, as in yadif/bwdif). Output: the same format,
// one frame per input frame (first field kept) or, with field_rate, two
// (the second field midway to the next frame: filter.h). One frame of look-ahead.
//
// Thread safety: one instance per pipeline; inside Push() and Flush() two
// threads share a field's chunks of rows, always the same chunks, so the
// output does not depend on which thread makes which chunk, or on whether
// the second thread runs.

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

// What deint chose for one 16×16 luma block of a field.
struct BlockChoice {
  MotionVector vector;
  bool compensated = false;  // the compensated mix, not a spatial variant
  deint_internal::Variant variant = deint_internal::Variant::kCubic;
  bool matched = false;  // the vector explains the kept lines
  bool free = false;     // the block moves: its variants are the free predictions
  // The look-back could not rank the spatial variants: the stream's first
  // field, or a free block at odd vertical motion.
  bool tied = false;
  int weight = 0;  // the compensated value's weight in the mix (×256)
};

// The planes one motion-adaptive pass reads (deint.cc).
struct FieldSources;

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
  // The second field's pts at field rate (filter.h): midway to the next
  // frame's, or after the last frame one interval on.
  int64_t SecondFieldPts() const;
  // Emits the outputs of window_[1] (prev = window_[0], next = window_[2]).
  void EmitCurrent(std::vector<OwnedFrame>* out);
  // Where a field stands in the stream, for DecideLuma's choice.
  enum class FieldRole {
    kInner,           // the look-back chooses
    kLast,            // the stream's last field: compensated wherever matched
    kFirstRevisited,  // RevisitFirstField: only compensation may replace
  };
  // Luma, block rows [block_row_begin, block_row_end): DecideLuma, the
  // spatial variants (DeinterlaceRows), WriteLuma.
  void Luma(const FieldSources& sources, const PlaneView& out, int kept_parity, FieldRole role,
            int block_row_begin, int block_row_end);
  // The per-block motion search and choice (choices_, vectors_) from `kept`
  // (the input plane whose lines this field keeps), before the field's
  // spatial variants exist: they depend on it (BlockChoice::free).
  void DecideLuma(const PlaneView& kept, int kept_parity, FieldRole role, int block_row_begin,
                  int block_row_end);
  // For blocks whose choice is `tied` (the first field, odd vertical
  // motion): the spatial variant by the kept field and by a back-projection
  // on the variants (filters/deint.cc, AddBackProjectionErrors).
  void RankTiedVariants(const PlaneView& kept, int kept_parity, int block_row_begin,
                        int block_row_end);
  // The chosen missing lines of `out` (WriteMissing per block); revisiting the
  // first field, only the blocks that take compensation.
  void WriteLuma(const PlaneView& out, int kept_parity, FieldRole role, int block_row_begin,
                 int block_row_end);
  // The brightness of `kept`'s kept lines over history_'s output's: the
  // median over 16×16 blocks (their kept lines) of the ratio of their sums,
  // blocks at the same place (motion of a few pixels moves a block's mean
  // little, the median ignores the blocks it does move); 1 with fewer than 16
  // blocks that are not black. Made in chunks, on both threads when
  // `threaded`.
  float HistoryBrightnessRatio(const PlaneView& kept, int kept_parity, bool threaded) const;
  // The stream's first field, which had no previous output, compensated
  // once the second field is done, the other way round: the second field's
  // variants (history_) invented exactly the lines the first field kept, so
  // the look-back ranks them there as for any field, and blocks where the
  // compensated variant wins take the second field's output moved back
  // (mixed as usual); the others keep their spatial choice. `out` is the
  // first field's luma. The second field and all later ones stay as they
  // were: redoing the second field from the revisited first as well (back
  // and forth, 4 rounds) raised the training mean by 0.07 dB more but cost a
  // held-out photo (Path) 0.26, its compensation building up worse over the
  // next pictures; letting the revisit also change the spatial
  // choice cost the unit test's first picture 0.15 of error.
  void RevisitFirstField(const FieldSources& sources, const PlaneView& out, int kept_parity,
                         bool threaded);
  // Where a missing line's sample is exactly still — the missing line the
  // same one field before and after, the kept lines the same two field
  // periods before and after — and its value lies near the kept lines
  // above and below (two flashes a field apart also look still; Kernels::
  // take_still), its temporal mean is exact, and the motion-adaptive
  // estimate takes it (all three variants). So do the output
  // and the compensated variant of rows [row_begin, row_end), after
  // WriteLuma: compensation leans on the previous output, and a moving
  // block's free predictions ignore the temporal mean. After a flash over a
  // still picture the compensated errors had faded out over eight fields and
  // more (4–12 dB below bwdif's exact pictures); now the pictures are exact
  // again once the flash has left the fields the rule reads. Exact equality:
  // the motion-adaptive rule's own "still" (within a code value) cost moving
  // training clips up to 0.17 dB (smooth areas, where the temporal mean is a
  // code value off and compensation is not); exact equality moves them by
  // −0.02…+0.01 dB. Not for the revisit of the first field, which writes
  // only some blocks of the output.
  void TakeStillSamples(const FieldSources& sources, const PlaneView& out, int kept_parity,
                        int row_begin, int row_end);
  // The missing lines of one block: `adaptive` (a motion-adaptive variant),
  // or, with `previous`, its mix with `previous` moved along `vector` (that
  // one weighted `weight` / 256; both unused without `previous`), which is
  // the output where `use_compensated`; fills next's compensated and output
  // variants and `out`.
  void WriteMissing(const PlaneView& out, LumaHistory& next,
                    const deint_internal::PaddedPlane& adaptive, int x0, int x1, int first_missing,
                    int y1, const deint_internal::PaddedPlane* previous, bool use_compensated,
                    MotionVector vector = {}, int weight = 0) const;

  // Chroma, the luma's block rows [block_row_begin,
  // block_row_end): where the luma took the compensated lines, the
  // chroma's missing lines (which hold the cubic motion-adaptive estimate on
  // entry) take the previous output's chroma moved along the luma's vector,
  // mixed with that estimate; fills the next chroma history's rows.
  void CompensateChroma(const FrameView& out, int kept_parity, int block_row_begin,
                        int block_row_end);

  FilterConfig config_;
  const deint_internal::Kernels* kernels_;
  std::deque<OwnedFrame> window_;  // [prev, cur, next]
  std::vector<OwnedFrame> ready_;
  bool flushed_ = false;
  bool started_ = false;
  // The previous field's output variants (history_), this field's
  // (next_history_), this field's kept lines, the last field's block vectors.
  std::unique_ptr<LumaHistory> history_;
  std::unique_ptr<LumaHistory> next_history_;
  bool have_history_ = false;
  bool last_frame_ = false;  // Flush is emitting the last frame
  deint_internal::PaddedPlane current_;
  std::vector<MotionVector> vectors_;
  // vectors_ as the field began: the predictor from the block above, for a
  // chunk's first block row (the chunk above may not be done yet).
  std::vector<MotionVector> field_start_vectors_;
  // Per luma block, what DecideLuma chose for this field's output.
  std::vector<BlockChoice> choices_;
  // The previous output's chroma planes (U, V), and this field's.
  deint_internal::PaddedPlane chroma_history_[2];
  deint_internal::PaddedPlane next_chroma_history_[2];
};

}  // namespace vidmill::filters
