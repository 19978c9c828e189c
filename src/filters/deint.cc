#include "filters/deint.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "filters/deint_kernels.h"
#include "filters/halves.h"
#include "filters/median.h"

namespace vidmill::filters {
namespace {

using deint_internal::Blend;
using deint_internal::Kernels;
using deint_internal::MaRows;
using deint_internal::PaddedPlane;
using deint_internal::Spatial;
using deint_internal::Variant;

constexpr int kBlock = 16;

// Mean absolute error (8-bit units) on a block's real lines above which its
// motion-compensated lines are not used.
// 16 keeps all but badly matched blocks (occlusions, new content): on the
// benchmark's pans, 3 → +0.0 dB, 8 → +1.3 dB, 16 and above → +2.1 dB over the
// motion-adaptive result.
constexpr int kMotionTolerance = 16;

// The compensated missing lines are a mix (×256) of the compensated and the
// motion-adaptive values. The previous output is itself partly reconstructed,
// so taking the compensated value alone feeds errors back field after field:
// on the training photos (Autumn, FallenLeaf; bench/quality/run.sh split) 1.0
// was 1.1 dB and 7.9 dB *below* 0.7, 0.6 and 0.8 within 0.4 dB of it. The
// weight follows how clearly compensation won the block's look-back: 0.7
// where it won narrowly (its error above 0.95 × the better spatial
// estimate's), rising linearly to 0.95 where its error is half that or less.
// Since the search reads every kept line, a fixed 0.9 beat 0.7 by 0.12 dB on
// the 5 training photos' 576 clips and 0.54 on the 24 train_more ones, but
// lost up to 0.5 dB on photos whose spatial estimates were already good
// (Autumn −0.33); the sliding weight gains 0.25 and 0.65 (41.73 → 41.97,
// 44.58 → 45.23; two of the 29 lose, by 0.57 and 0.10), and over 120-field
// clips its later pictures gain as much as its first (no error build-up).
// Bounds chosen on those 29 photos (0.6–0.8 low, 0.9–1.0 high, ratio bounds
// 0.3–0.6 / 0.8–1.0: within 0.06 dB of each other).
constexpr int kCompensatedWeightLow = 179;   // 0.7
constexpr int kCompensatedWeightHigh = 243;  // 0.95
// The compensated error's ratio to the spatial one, in percent, at and below
// which the weight is the high one, and at and above which it is the low one.
constexpr int kClearWinPercent = 50;
constexpr int kNarrowWinPercent = 95;
// Above the low weight only where the block's vector matched closely: mean
// error on the kept lines at most this (8-bit code values; half of
// kMotionTolerance). After a flash the look-back compares the flash's
// variants with the returning picture, and their ratio means little: on
// flashes over 4 training photos the worst picture lost 0.6–1.0 dB to the
// fixed 0.7 on three of them without this bound, 0.2–0.6 with it (the fourth
// gains 0.7 either way); clip means move by −0.02 dB.
constexpr int kCloseMatch = 8;
// The chroma's compensated lines, where the luma took its own, weigh 0.6
// against the chroma's cubic estimate, whatever the luma's weight: on the 37
// training clips (the 5 photos and 24 train_more at 576, 8 upscaled at
// 1080) chroma MSE fell by 0.90 dB (U) and 0.79 (V) on the mean, no clip
// lost; 0.5 gained 0.69 / 0.60, 0.7 0.98 / 0.85 but one clip lost 1.1, the
// luma's own weight (0.7–0.95) 0.76 / 0.64 with five clips losing up to 2.4.
// A chroma match test as well (the chroma's kept lines against the previous
// chroma along the vector, mean error at most 2, 4 or 8 code values) only
// took gain away at 0.6 (U +0.69, +0.87, +0.90) and did not keep the clip
// that loses at 0.7 or 0.8 from losing.
constexpr int kChromaCompensatedWeight = 154;

// The weight of the compensated value (×256) for a block whose compensated
// variant erred `compensated` and whose better spatial one `spatial` in the
// look-back.
int CompensatedWeight(int64_t compensated, int64_t spatial) {
  if (spatial <= 0) return kCompensatedWeightLow;
  const int64_t span = (kNarrowWinPercent - kClearWinPercent) * spatial;
  const int64_t above =
      std::clamp<int64_t>(kNarrowWinPercent * spatial - 100 * compensated, 0, span);
  return kCompensatedWeightLow +
         static_cast<int>(((kCompensatedWeightHigh - kCompensatedWeightLow) * above + span / 2) /
                          span);
}

// The block-matching error (and the look-back, and the spatial rule's verdict
// on the kept lines) is taken on every 2nd pixel of every kept line. Against
// every 2nd pixel of every other kept line, the 5 training photos' 576
// clips gain 0.31 dB on the mean (41.42 → 41.73), and 24 more training
// photographs (bench/quality/run.sh's train_more) 0.46 (44.12 → 44.58; the
// margin over bwdif rises on every one of them).
// Every pixel too: +0.09 dB on the 24, −0.02 on the 5, at twice the cost.
// The kernels reuse each source row's horizontal pass across the lines, so
// reading twice the lines costs 3 % more instructions in all (callgrind, 8
// woven 576 frames of a training photo: 782 → 805 million).
constexpr int kCostStepX = 2;  // the kernels' sparse_error and edge_errors take every 2nd sample
constexpr int kCostStepY = 2;

// Vectors are searched within ±32 pixels (PaddedPlane's border covers them).
constexpr int kMaxVectorQuarters = 4 * 32;

// A previous output whose brightness differs from the field's by more than
// this ratio (flicker, fades) is scaled to it before it is used.
constexpr float kFlicker = 0.01f;

// Frames smaller than this are processed on the calling thread only.
constexpr int64_t kThreadedPixels = 200000;

// A field is made in chunks of this many block rows (the last may be
// shorter), which the two threads take in turn (RunInChunks). A chunk's
// search takes no predictor from the chunk above, and its back-projection
// reads no row of another chunk, so the pictures depend on the chunks, and
// the chunks on the picture's height alone.
constexpr int kChunkBlockRows = 4;

// The block rows [begin, end) of chunk `chunk` of `blocks_y`.
std::pair<int, int> ChunkBlockRows(int chunk, int blocks_y) {
  return {chunk * kChunkBlockRows, std::min((chunk + 1) * kChunkBlockRows, blocks_y)};
}

int Chunks(int blocks_y) { return (blocks_y + kChunkBlockRows - 1) / kChunkBlockRows; }

// The nearest row of parity `parity` to `y` inside [0, height).
int ClampRow(int y, int parity, int height) {
  while (y < 0) y += 2;
  while (y >= height) y -= 2;
  if (y < 0 || (y & 1) != parity) {
    // Plane too short for this parity (height 1): fall back to row 0.
    return std::clamp(y, 0, height - 1);
  }
  return y;
}

}  // namespace

// The planes one motion-adaptive pass reads (see DeinterlaceRows).
struct FieldSources {
  PlaneView before;       // missing lines, one field period earlier
  PlaneView cur;          // the kept lines
  PlaneView after;        // missing lines, one field period later
  PlaneView same_before;  // kept lines, two field periods earlier
  PlaneView same_after;   // kept lines, two field periods later
  bool lone = false;      // a one-frame clip: MaRows::lone
};

namespace {

// Plane `plane`'s sources for field 0 or 1 of `cur`. Missing lines: field 0
// takes the second field of prev (before) and of cur (after); field 1 the
// first field of cur (before) and of next (after). At the stream's ends the
// missing frame is a copy of `cur`, and its missing lines would be the same
// as the other side's: the temporal difference then says "still" wherever
// the picture moves. The stream's first field takes its missing lines from
// cur and next instead (one and three field periods later), and the last
// from prev and cur (three and one earlier): on 37 training clips (576 and
// 1080) the first picture gains 0.90 dB and the last 0.12 on the mean
// (first: −1.42 to +2.79 per clip, 6 of 37 lose; clip means +0.09).
FieldSources SourcesFor(const FrameView& prev, const FrameView& cur, const FrameView& next,
                        int plane, int field, bool first_field, bool last_field) {
  const PlaneView& p = prev.planes[plane];
  const PlaneView& c = cur.planes[plane];
  const PlaneView& n = next.planes[plane];
  if (first_field) return FieldSources{c, c, n, p, n};
  if (last_field) return FieldSources{p, c, c, p, n};
  return field == 0 ? FieldSources{p, c, c, p, n} : FieldSources{c, c, n, p, n};
}

template <typename T>
MaRows<T> RowsFor(const FieldSources& s, int y, int kept_parity) {
  const int height = s.cur.height;
  auto row = [](const PlaneView& p, int r) {
    return reinterpret_cast<const T*>(p.data + p.stride * r);
  };
  MaRows<T> rows;
  rows.up = row(s.cur, ClampRow(y - 1, kept_parity, height));
  rows.down = row(s.cur, ClampRow(y + 1, kept_parity, height));
  rows.up3 = row(s.cur, ClampRow(y - 3, kept_parity, height));
  rows.down3 = row(s.cur, ClampRow(y + 3, kept_parity, height));
  rows.prev_line = row(s.before, y);
  rows.next_line = row(s.after, y);
  rows.prev2_up = row(s.before, ClampRow(y - 2, 1 - kept_parity, height));
  rows.prev2_down = row(s.before, ClampRow(y + 2, 1 - kept_parity, height));
  rows.next2_up = row(s.after, ClampRow(y - 2, 1 - kept_parity, height));
  rows.next2_down = row(s.after, ClampRow(y + 2, 1 - kept_parity, height));
  rows.sb_up = row(s.same_before, ClampRow(y - 1, kept_parity, height));
  rows.sb_down = row(s.same_before, ClampRow(y + 1, kept_parity, height));
  rows.sa_up = row(s.same_after, ClampRow(y - 1, kept_parity, height));
  rows.sa_down = row(s.same_after, ClampRow(y + 1, kept_parity, height));
  rows.lone = s.lone;
  return rows;
}

// An error sum per spatial variant (a block's look-back, verdict or
// back-projection).
struct VariantErrors {
  int64_t cubic = 0;
  int64_t edge = 0;
  int64_t blend = 0;
};

// The variant whose error is least: the blend only where strictly least, the
// edge-directed rule on a tie with the cubic.
Variant Best(const VariantErrors& e) {
  if (e.blend < std::min(e.cubic, e.edge)) return Variant::kBlend;
  return e.edge <= e.cubic ? Variant::kEdge : Variant::kCubic;
}

// A field's luma spatial variants (see LumaHistory) and the blocks (16 × 16,
// `blocks_x` per row) known to move, which take the free predictions.
struct SpatialPlanes {
  PaddedPlane* cubic;
  PaddedPlane* edge;
  PaddedPlane* blend;
  const BlockChoice* choices;
  int blocks_x;
};

// The cubic motion-adaptive estimate of rows [row_begin, row_end) of `out`
// (kept lines copied). With `planes` (luma), instead the missing lines of the
// cubic, the edge-directed and the blend variant: the motion-adaptive
// estimates, or in blocks whose choice is `free` the predictions before the
// motion-adaptive limits; `out` gets only the kept lines (the choice
// writes the missing ones).
template <typename T>
void DeinterlaceRows(const Kernels& kernels, const FieldSources& s, int kept_parity,
                     const PlaneView& out, int row_begin, int row_end,
                     const SpatialPlanes* planes) {
  const int width = s.cur.width;
  const int height = s.cur.height;
  const int max_value = (1 << s.cur.bit_depth) - 1;
  // Luma: which samples of the current block row take the free predictions.
  std::vector<uint8_t> free(planes ? width : 0);
  int free_block_row = -1;
  for (int y = row_begin; y < row_end; ++y) {
    T* dst = reinterpret_cast<T*>(out.data + out.stride * y);
    const bool kept = (y & 1) == kept_parity || height < 2;
    if (kept) {
      const T* src = reinterpret_cast<const T*>(s.cur.data + s.cur.stride * y);
      std::copy(src, src + width, dst);  // (DecideLuma put it in the history)
      continue;
    }
    const MaRows<T> rows = RowsFor<T>(s, y, kept_parity);
    if (planes == nullptr) {
      if constexpr (sizeof(T) == 1) {
        kernels.ma_row8(rows, Spatial::kCubic, width, max_value, dst);
      } else {
        kernels.ma_row16(rows, Spatial::kCubic, width, max_value, dst);
      }
      continue;
    }
    if (y / kBlock != free_block_row) {
      free_block_row = y / kBlock;
      const BlockChoice* choices =
          planes->choices + static_cast<size_t>(free_block_row) * planes->blocks_x;
      for (int bx = 0; bx < planes->blocks_x; ++bx) {
        const int x0 = bx * kBlock, x1 = std::min(x0 + kBlock, width);
        std::fill(free.begin() + x0, free.begin() + x1, choices[bx].free ? 1 : 0);
      }
    }
    uint16_t* cubic = planes->cubic->Row(y);
    uint16_t* edge = planes->edge->Row(y);
    uint16_t* blend = planes->blend->Row(y);
    if constexpr (sizeof(T) == 1) {
      kernels.luma_row8(rows, width, max_value, free.data(), cubic, edge, blend);
    } else {
      kernels.luma_row16(rows, width, max_value, free.data(), cubic, edge, blend);
    }
  }
}

// How well each spatial variant suits a block, judged on the kept field alone:
// each sampled kept line (every kept line, every 2nd pixel) is predicted from
// the kept lines 2 and 6 away, by the cubic, the edge-directed rule (its
// directions doubled with the doubled spacing) and their blend. Used where
// the look-back cannot tell them apart.
template <typename T>
VariantErrors KeptFieldErrors(const Kernels& kernels, const PlaneView& kept, int kept_parity,
                              int x0, int x1, int first_kept, int y1) {
  auto row = [&](int y) {
    return reinterpret_cast<const T*>(kept.data +
                                      kept.stride * ClampRow(y, kept_parity, kept.height));
  };
  VariantErrors errors;
  for (int y = first_kept; y < y1; y += kCostStepY) {
    const deint_internal::KeptRows<T> rows{row(y - 6), row(y - 2), row(y), row(y + 2), row(y + 6)};
    if constexpr (sizeof(T) == 1) {
      kernels.edge_errors8(rows, x0, x1, kept.width, 2, &errors.cubic, &errors.edge, &errors.blend);
    } else {
      kernels.edge_errors16(rows, x0, x1, kept.width, 2, &errors.cubic, &errors.edge,
                            &errors.blend);
    }
  }
  return errors;
}

VariantErrors KeptFieldErrorsOf(const Kernels& kernels, const PlaneView& kept, int kept_parity,
                                int x0, int x1, int first_kept, int y1) {
  return kept.bit_depth > 8
             ? KeptFieldErrors<uint16_t>(kernels, kept, kept_parity, x0, x1, first_kept, y1)
             : KeptFieldErrors<uint8_t>(kernels, kept, kept_parity, x0, x1, first_kept, y1);
}

// The same judgement at the real spacing, on the variants themselves (a
// back-projection): each sampled kept line (the rows of `kept_lines`) is
// predicted from the variant's own missing lines 1 and 3 away, by the rule
// that made them (the blend: the blend of both rules on the blend's lines).
// Rows outside [row_begin, row_end) (the chunk's), which another thread may
// be writing, are clamped into it. Adds to `errors` (nothing when the rows
// hold no missing line).
void AddBackProjectionErrors(const Kernels& kernels, const PaddedPlane& cubic,
                             const PaddedPlane& edge, const PaddedPlane& blend,
                             const PaddedPlane& kept_lines, int kept_parity, int x0, int x1,
                             int first_kept, int y1, int row_begin, int row_end,
                             VariantErrors* errors) {
  const int width = kept_lines.width();
  const int first_missing = row_begin + ((row_begin & 1) == kept_parity);
  const int last_missing = row_end - 1 - (((row_end - 1) & 1) == kept_parity ? 1 : 0);
  if (first_missing > last_missing) return;
  auto missing = [&](int y) { return std::clamp(y, first_missing, last_missing); };
  for (int y = first_kept; y < y1; y += kCostStepY) {
    const int up3 = missing(y - 3), up = missing(y - 1), down = missing(y + 1);
    const int down3 = missing(y + 3);
    auto rows = [&](const PaddedPlane& p) {
      return deint_internal::KeptRows<uint16_t>{p.Row(up3), p.Row(up), kept_lines.Row(y),
                                                p.Row(down), p.Row(down3)};
    };
    kernels.edge_errors16(rows(cubic), x0, x1, width, 1, &errors->cubic, nullptr, nullptr);
    kernels.edge_errors16(rows(edge), x0, x1, width, 1, nullptr, &errors->edge, nullptr);
    kernels.edge_errors16(rows(blend), x0, x1, width, 1, nullptr, nullptr, &errors->blend);
  }
}

// The ratios of the sums of the kept lines of `kept` (parity `kept_parity`)
// to the same lines of `previous` (the last output), over the 16×16 blocks
// (their kept lines) of block rows [block_row_begin, block_row_end) that lie
// wholly inside the picture and are not black in `previous`; appended to
// `ratios`. (See Deinterlacer::HistoryBrightnessRatio.)
template <typename T>
void AddBrightnessRatios(const PlaneView& kept, int kept_parity, const PaddedPlane& previous,
                         int block_row_begin, int block_row_end, std::vector<float>* ratios) {
  const int black = 8 * (kept.bit_depth > 8 ? 1 << (kept.bit_depth - 8) : 1);
  for (int y0 = block_row_begin * kBlock; y0 < block_row_end * kBlock && y0 + 16 <= kept.height;
       y0 += 16) {
    for (int x0 = 0; x0 + 16 <= kept.width; x0 += 16) {
      int64_t sum_kept = 0, sum_previous = 0;
      for (int y = y0 + ((y0 & 1) != kept_parity); y < y0 + 16; y += 2) {
        const T* row = reinterpret_cast<const T*>(kept.data + kept.stride * y);
        const uint16_t* before = previous.Row(y);
        for (int x = x0; x < x0 + 16; ++x) {
          sum_kept += row[x];
          sum_previous += before[x];
        }
      }
      if (sum_previous > 128 * black) {
        ratios->push_back(static_cast<float>(sum_kept) / static_cast<float>(sum_previous));
      }
    }
  }
}

}  // namespace

// One field's luma history: the same picture reconstructed five ways. Their
// kept lines are identical; the missing lines are the three spatial variants
// (cubic, edge-directed, their blend: the motion-adaptive estimates, or in
// blocks known to move the free predictions, see DecideLuma), the
// compensated mix and the chosen output. The next field's kept lines are real
// samples of exactly these missing lines, so each variant's error on them,
// along the block's motion, says which one to trust there.
struct Deinterlacer::LumaHistory {
  PaddedPlane cubic;
  PaddedPlane edge;
  PaddedPlane blend;
  PaddedPlane compensated;
  PaddedPlane output;
  const PaddedPlane& Of(Variant variant) const {
    return variant == Variant::kCubic ? cubic : variant == Variant::kEdge ? edge : blend;
  }
  std::array<PaddedPlane*, 5> Planes() { return {&cubic, &edge, &blend, &compensated, &output}; }
  void Resize(int width, int height) {
    for (PaddedPlane* plane : Planes()) plane->Resize(width, height);
  }
  void ExtendRows(int row_begin, int row_end) {
    for (PaddedPlane* plane : Planes()) plane->ExtendRows(row_begin, row_end);
  }
  void ExtendTopBottom() {
    for (PaddedPlane* plane : Planes()) plane->ExtendTopBottom();
  }
  void Scale(float ratio, int max_value) {
    for (PaddedPlane* plane : Planes()) plane->Scale(ratio, max_value);
  }
};

Deinterlacer::Deinterlacer(const FilterConfig& config)
    : config_(config), kernels_(&deint_internal::BestKernels(config.input.bit_depth)) {}

Deinterlacer::~Deinterlacer() = default;

Result<std::unique_ptr<VideoFilter>> Deinterlacer::Create(const FilterConfig& config) {
  RETURN_IF_ERROR(config.input.Validate());
  RETURN_IF_ERROR(CheckProperties(config, "deint", {}));
  if (config.output_width != 0 || config.output_height != 0) {
    return Status::InvalidArgument("deint does not scale: output size must be unset");
  }
  return std::unique_ptr<VideoFilter>(new Deinterlacer(config));
}

Status Deinterlacer::Push(const FrameView& in, int64_t pts) {
  if (flushed_) return Status::InvalidArgument("deint: Push after Flush");
  if (!(in.format == config_.input)) {
    return Status::InvalidArgument("deint: frame format differs from the configured input");
  }
  OwnedFrame frame = OwnedFrame::CopyOf(in);
  frame.pts = pts;
  window_.push_back(std::move(frame));
  if (!started_) {
    // Duplicate the first frame as its own predecessor.
    OwnedFrame copy = OwnedFrame::CopyOf(window_.back().view());
    copy.pts = pts;
    window_.push_front(std::move(copy));
    started_ = true;
  }
  if (window_.size() == 3) {
    EmitCurrent(&ready_);
    window_.pop_front();
  }
  return Status::Ok();
}

int64_t Deinterlacer::SecondFieldPts() const {
  const int64_t cur = window_[1].pts;
  if (!last_frame_ && window_[2].pts > cur) return cur + window_[2].pts;
  const int64_t interval = cur - window_[0].pts;  // 0 for the first frame
  return 2 * cur + (interval > 0 ? interval : std::max<int64_t>(config_.frame_duration, 1));
}

Status Deinterlacer::Flush() {
  if (flushed_) return Status::Ok();
  flushed_ = true;
  if (window_.size() == 2) {
    OwnedFrame copy = OwnedFrame::CopyOf(window_.back().view());
    copy.pts = window_.back().pts;
    window_.push_back(std::move(copy));
    last_frame_ = true;
    EmitCurrent(&ready_);
    window_.clear();
  }
  return Status::Ok();
}

Status Deinterlacer::Pull(std::vector<OwnedFrame>* out) { return MoveReadyFrames(&ready_, out); }

void Deinterlacer::EmitCurrent(std::vector<OwnedFrame>* out) {
  const FrameView prev = window_[0].view();
  const FrameView cur = window_[1].view();
  const FrameView next = window_[2].view();
  const int first_parity = config_.top_field_first ? 0 : 1;
  // Both fields are always made: at frame rate the second field's picture is
  // not emitted, but it is the history the next frame's first field is
  // compensated from (one field period back, with real samples of the lines
  // that field lacks). On the 37 training clips, against the progressive
  // pictures at the first fields' times, frame-rate output made this way is
  // 3.58 dB above bwdif's send_frame (4 of 37 clips lose); made from each
  // frame alone (the motion-adaptive estimates, edge-directed luma) it was
  // 0.32 dB below (27 of 37 lost), at half the cost.
  const int fields = 2;
  const int width = config_.input.width;
  const int height = config_.input.height;
  const int blocks_y = (height + kBlock - 1) / kBlock;
  const bool threaded = static_cast<int64_t>(width) * height >= kThreadedPixels;
  if (!history_) {
    history_ = std::make_unique<LumaHistory>();
    history_->Resize(width, height);
    next_history_ = std::make_unique<LumaHistory>();
    next_history_->Resize(width, height);
    current_.Resize(width, height);
    vectors_.resize(static_cast<size_t>((width + kBlock - 1) / kBlock) * blocks_y);
    choices_.resize(vectors_.size());
    for (int plane = 0; plane < 2; ++plane) {
      const PlaneView& chroma = cur.planes[plane + 1];
      chroma_history_[plane].Resize(chroma.width, chroma.height);
      next_chroma_history_[plane].Resize(chroma.width, chroma.height);
    }
  }
  // The stream's first field is revisited once the second is done (below).
  const bool revisit_first = !have_history_;
  // A one-frame clip: there is no other frame, so nothing tells still areas
  // from moving ones. Every sample goes through yadif's check of the kept
  // lines (MaRows::lone); the second field is not the stream's last (which
  // takes the compensated lines wherever its vector matched, here onto the
  // first field's own reconstruction), and the first is not revisited from
  // it. On three training photos at 576, one frame of a pan / of a still
  // photo, both pictures: 31.3–41.1 / 49.6–58.9 dB (yadif 30.0–37.5 /
  // 50.0–59.0). With the woven value for every sample, a still photo would
  // come out perfect, but a pan comb wherever it moves (15.6–25.7 dB).
  const bool lone = revisit_first && last_frame_;
  std::vector<OwnedFrame> results;
  results.reserve(fields);
  for (int field = 0; field < fields; ++field) {
    results.push_back(OwnedFrame::ForOverwrite(config_.input));  // every sample is written
    OwnedFrame& result = results.back();
    const FrameView dst = result.view();
    const int kept = field == 0 ? first_parity : 1 - first_parity;
    const FieldRole role =
        last_frame_ && field == fields - 1 && !lone ? FieldRole::kLast : FieldRole::kInner;
    const bool first_field = revisit_first && field == 0;
    FieldSources sources[3];
    for (int plane = 0; plane < 3; ++plane) {
      sources[plane] =
          SourcesFor(prev, cur, next, plane, field, first_field, role == FieldRole::kLast);
      sources[plane].lone = lone;
    }
    // Each chunk: its luma, then its chroma, which follows its luma's choices.
    auto part = [&](int chunk) {
      const auto [block_row_begin, block_row_end] = ChunkBlockRows(chunk, blocks_y);
      for (int plane = 1; plane < 3; ++plane) {
        const int shift = ChromaShiftY(config_.input.chroma);
        const int begin = (block_row_begin * kBlock) >> shift;
        const int end = std::min((block_row_end * kBlock) >> shift, dst.planes[plane].height);
        if (config_.input.wide()) {
          DeinterlaceRows<uint16_t>(*kernels_, sources[plane], kept, dst.planes[plane], begin, end,
                                    nullptr);
        } else {
          DeinterlaceRows<uint8_t>(*kernels_, sources[plane], kept, dst.planes[plane], begin, end,
                                   nullptr);
        }
      }
      Luma(sources[0], dst.planes[0], kept, role, block_row_begin, block_row_end);
      next_history_->ExtendRows(block_row_begin * kBlock, std::min(block_row_end * kBlock, height));
      CompensateChroma(dst, kept, block_row_begin, block_row_end);
    };
    // Flicker and fades: a previous output whose brightness differs from this
    // field's by more than 1 % is brought to it first (all four variants), so
    // that the search, the look-back and the compensation compare and copy
    // like with like. Below 1 % nothing changes.
    if (have_history_) {
      const float ratio = HistoryBrightnessRatio(sources[0].cur, kept, threaded);
      if (std::abs(ratio - 1) > kFlicker) history_->Scale(ratio, config_.input.max_value());
    }
    field_start_vectors_ = vectors_;
    RunInChunks(Chunks(blocks_y), threaded, part);
    for (int plane = 0; plane < 2; ++plane) {
      next_chroma_history_[plane].ExtendTopBottom();
      std::swap(chroma_history_[plane], next_chroma_history_[plane]);
    }
    next_history_->ExtendTopBottom();
    std::swap(history_, next_history_);
    have_history_ = true;
    result.pts = !config_.field_rate ? window_[1].pts
                 : field == 0        ? window_[1].pts * 2
                                     : SecondFieldPts();
  }
  if (revisit_first && !lone) {
    RevisitFirstField(SourcesFor(prev, cur, next, 0, 0, true, false), results[0].view().planes[0],
                      first_parity, threaded);
    // Its chroma follows the revisit's choices, from the second field's
    // chroma (the chroma history now; what CompensateChroma writes into the
    // next one is overwritten by the next field).
    RunInChunks(Chunks(blocks_y), threaded, [&](int chunk) {
      const auto [block_row_begin, block_row_end] = ChunkBlockRows(chunk, blocks_y);
      CompensateChroma(results[0].view(), first_parity, block_row_begin, block_row_end);
    });
  }
  if (!config_.field_rate) results.pop_back();  // the first field's picture only
  for (OwnedFrame& result : results) out->push_back(std::move(result));
}

void Deinterlacer::RevisitFirstField(const FieldSources& sources, const PlaneView& out,
                                     int kept_parity, bool threaded) {
  const PlaneView& kept = sources.cur;
  // Flicker and fades as for any field, but on a copy: history_ stays what
  // the next field will look back at.
  const float ratio = HistoryBrightnessRatio(kept, kept_parity, threaded);
  std::unique_ptr<LumaHistory> unscaled;
  if (std::abs(ratio - 1) > kFlicker) {
    unscaled = std::make_unique<LumaHistory>(*history_);
    history_->Scale(ratio, config_.input.max_value());
  }
  // The search starts from the second field's vectors reversed; they are put
  // back for the next field.
  const std::vector<MotionVector> forward = vectors_;
  for (MotionVector& v : vectors_) v = MotionVector{-v.dxq, -v.dyq};
  field_start_vectors_ = vectors_;
  const int blocks_y = (out.height + kBlock - 1) / kBlock;
  RunInChunks(Chunks(blocks_y), threaded, [&](int chunk) {
    const auto [block_row_begin, block_row_end] = ChunkBlockRows(chunk, blocks_y);
    Luma(sources, out, kept_parity, FieldRole::kFirstRevisited, block_row_begin, block_row_end);
  });
  vectors_ = forward;
  if (unscaled) history_ = std::move(unscaled);
}

float Deinterlacer::HistoryBrightnessRatio(const PlaneView& kept, int kept_parity,
                                           bool threaded) const {
  const int blocks_y = (kept.height + kBlock - 1) / kBlock;
  std::vector<std::vector<float>> chunk_ratios(static_cast<size_t>(Chunks(blocks_y)));
  RunInChunks(Chunks(blocks_y), threaded, [&](int chunk) {
    const auto [block_row_begin, block_row_end] = ChunkBlockRows(chunk, blocks_y);
    std::vector<float>* ratios = &chunk_ratios[static_cast<size_t>(chunk)];
    if (config_.input.wide()) {
      AddBrightnessRatios<uint16_t>(kept, kept_parity, history_->output, block_row_begin,
                                    block_row_end, ratios);
    } else {
      AddBrightnessRatios<uint8_t>(kept, kept_parity, history_->output, block_row_begin,
                                   block_row_end, ratios);
    }
  });
  std::vector<float> ratios;
  for (const std::vector<float>& some : chunk_ratios) {
    ratios.insert(ratios.end(), some.begin(), some.end());
  }
  return ratios.size() < 16 ? 1.0f : Median(std::move(ratios));
}

void Deinterlacer::Luma(const FieldSources& sources, const PlaneView& out, int kept_parity,
                        FieldRole role, int block_row_begin, int block_row_end) {
  DecideLuma(sources.cur, kept_parity, role, block_row_begin, block_row_end);
  const SpatialPlanes planes{&next_history_->cubic, &next_history_->edge, &next_history_->blend,
                             choices_.data(), (out.width + kBlock - 1) / kBlock};
  const int row_begin = block_row_begin * kBlock;
  const int row_end = std::min(block_row_end * kBlock, out.height);
  if (config_.input.wide()) {
    DeinterlaceRows<uint16_t>(*kernels_, sources, kept_parity, out, row_begin, row_end, &planes);
  } else {
    DeinterlaceRows<uint8_t>(*kernels_, sources, kept_parity, out, row_begin, row_end, &planes);
  }
  RankTiedVariants(sources.cur, kept_parity, block_row_begin, block_row_end);
  WriteLuma(out, kept_parity, role, block_row_begin, block_row_end);
  if (role != FieldRole::kFirstRevisited) {
    TakeStillSamples(sources, out, kept_parity, row_begin, row_end);
  }
}

void Deinterlacer::TakeStillSamples(const FieldSources& sources, const PlaneView& out,
                                    int kept_parity, int row_begin, int row_end) {
  if (sources.lone) return;  // nothing to compare with (MaRows::lone)
  LumaHistory& next = *next_history_;
  const int max_value = (1 << out.bit_depth) - 1;
  for (int y = row_begin + ((row_begin & 1) == kept_parity); y < row_end; y += 2) {
    uint16_t* output = next.output.Row(y);
    if (out.bit_depth > 8) {
      const MaRows<uint16_t> rows = RowsFor<uint16_t>(sources, y, kept_parity);
      kernels_->take_still16(rows, out.width, max_value, output);
      kernels_->take_still16(rows, out.width, max_value, next.compensated.Row(y));
      std::copy(output, output + out.width, out.Row16(y));
    } else {
      const MaRows<uint8_t> rows = RowsFor<uint8_t>(sources, y, kept_parity);
      kernels_->take_still8(rows, out.width, max_value, output);
      kernels_->take_still8(rows, out.width, max_value, next.compensated.Row(y));
      std::copy(output, output + out.width, out.Row8(y));
    }
  }
}

void Deinterlacer::DecideLuma(const PlaneView& kept, int kept_parity, FieldRole role,
                              int block_row_begin, int block_row_end) {
  const Kernels& kernels = *kernels_;
  const int width = kept.width;
  const int height = kept.height;
  const int blocks_x = (width + kBlock - 1) / kBlock;
  const int max_value = (1 << kept.bit_depth) - 1;
  LumaHistory& next = *next_history_;
  const int row_begin = block_row_begin * kBlock;
  const int row_end = std::min(block_row_end * kBlock, height);
  // This field's kept lines, read by the search; kept lines of every variant.
  for (int y = row_begin; y < row_end; ++y) {
    if ((y & 1) != kept_parity && height >= 2) continue;
    uint16_t* row = current_.Row(y);
    if (kept.bit_depth > 8) {
      std::copy(kept.Row16(y), kept.Row16(y) + width, row);
    } else {
      std::copy(kept.Row8(y), kept.Row8(y) + width, row);
    }
    for (PaddedPlane* plane : next.Planes()) std::copy(row, row + width, plane->Row(y));
  }
  const LumaHistory& previous = *history_;

  for (int by = block_row_begin; by < block_row_end; ++by) {
    for (int bx = 0; bx < blocks_x; ++bx) {
      const int x0 = bx * kBlock, y0 = by * kBlock;
      const int x1 = std::min(x0 + kBlock, width), y1 = std::min(y0 + kBlock, height);
      const int first_kept = y0 + ((y0 & 1) != kept_parity);
      MotionVector& vector = vectors_[static_cast<size_t>(by) * blocks_x + bx];
      // The spatial variant judged on the kept field alone.
      auto choose_on_kept_lines = [&] {
        return Best(KeptFieldErrorsOf(kernels, kept, kept_parity, x0, x1, first_kept, y1));
      };
      BlockChoice& choice = choices_[static_cast<size_t>(by) * blocks_x + bx];
      choice = BlockChoice{};
      if (!have_history_) {
        // First field: nothing to compensate from or to look back at; the
        // kept field and the back-projection decide (as for ties below).
        choice.tied = true;
        continue;
      }
      // Predictive search on the previous output: last field's vector here, the
      // neighbours' vectors found this field (in a chunk's first block row,
      // the block above's as the field began), zero; then integer steps, then
      // half and quarter pixels. Scored on the block's kept (real) lines.
      auto cost = [&](const PaddedPlane& from, MotionVector v) {
        return kernels.sparse_error(from, current_, x0, x1, first_kept, y1, kCostStepY, v.dxq,
                                    v.dyq);
      };
      MotionVector best{0, 0};
      int64_t best_cost = cost(previous.output, best);
      auto inside = [](MotionVector v) {
        return std::abs(v.dxq) <= kMaxVectorQuarters && std::abs(v.dyq) <= kMaxVectorQuarters;
      };
      auto consider = [&](MotionVector candidate) {
        if (!inside(candidate)) return;
        const int64_t c = cost(previous.output, candidate);
        if (c < best_cost) {
          best_cost = c;
          best = candidate;
        }
      };
      auto whole = [](MotionVector v) {
        auto round = [](int q) { return q >= 0 ? (q + 2) / 4 * 4 : -((-q + 2) / 4 * 4); };
        return MotionVector{round(v.dxq), round(v.dyq)};
      };
      consider(whole(vector));
      if (bx > 0) consider(whole(vectors_[static_cast<size_t>(by) * blocks_x + bx - 1]));
      if (by > block_row_begin) {
        consider(whole(vectors_[static_cast<size_t>(by - 1) * blocks_x + bx]));
      } else if (by > 0) {
        consider(whole(field_start_vectors_[static_cast<size_t>(by - 1) * blocks_x + bx]));
      }
      for (int step : {4, 2, 1}) {
        for (int iteration = 0; iteration < (step == 4 ? 8 : 1); ++iteration) {
          const MotionVector center = best;
          if (step == 4) {
            for (int dy = -1; dy <= 1; ++dy) {
              for (int dx = -1; dx <= 1; ++dx) {
                if (dx || dy) consider({center.dxq + dx * step, center.dyq + dy * step});
              }
            }
          } else {
            // Half and quarter pixels: the neighbours of one column (one dxq)
            // share their horizontal passes; then all eight are compared in
            // the same order as above.
            // The centre and the neighbours outside the range stay unbeatable.
            int64_t errors[3][3];
            std::fill(&errors[0][0], &errors[0][0] + 9, std::numeric_limits<int64_t>::max());
            for (int dx = -1; dx <= 1; ++dx) {
              int dyqs[3], rows[3], count = 0;
              for (int dy = -1; dy <= 1; ++dy) {
                const MotionVector candidate{center.dxq + dx * step, center.dyq + dy * step};
                if ((dx || dy) && inside(candidate)) {
                  dyqs[count] = candidate.dyq;
                  rows[count++] = dy + 1;
                }
              }
              int64_t column[3];
              kernels.sparse_errors(previous.output, current_, x0, x1, first_kept, y1, kCostStepY,
                                    center.dxq + dx * step, dyqs, count, column);
              for (int i = 0; i < count; ++i) errors[rows[i]][dx + 1] = column[i];
            }
            for (int dy = -1; dy <= 1; ++dy) {
              for (int dx = -1; dx <= 1; ++dx) {
                if (errors[dy + 1][dx + 1] < best_cost) {
                  best_cost = errors[dy + 1][dx + 1];
                  best = MotionVector{center.dxq + dx * step, center.dyq + dy * step};
                }
              }
            }
          }
          if (best.dxq == center.dxq && best.dyq == center.dyq) break;
        }
      }
      vector = best;
      const int64_t samples = static_cast<int64_t>((x1 - x0 + kCostStepX - 1) / kCostStepX) *
                              ((y1 - first_kept + kCostStepY - 1) / kCostStepY);
      // Mean error in 8-bit code values: best_cost / (samples · 128) · 255 / max.
      auto within = [&](int tolerance) {
        return samples == 0 ||
               best_cost * 255 <= static_cast<int64_t>(tolerance) * samples * 128 * max_value;
      };
      const bool matched = within(kMotionTolerance);
      // Look-back: each variant of the previous field, moved along this block's
      // vector, against this field's real kept lines (same samples, same
      // vector, so only the variants' missing lines make the difference).
      // Where the three spatial variants tie (odd vertical motion) the kept
      // field judges them; compensation must be strictly better.
      auto look_back = [&](const PaddedPlane& from) { return cost(from, best); };
      const int64_t cubic_error = look_back(previous.cubic);
      const int64_t edge_error = look_back(previous.edge);
      const int64_t blend_error = look_back(previous.blend);
      // A block whose vector matched and is not zero moves: the missing line
      // one field before and after holds other picture content, so the
      // motion-adaptive limits around their mean (meant for still areas) are
      // dropped and the spatial variants are the free predictions.
      const bool free = matched && (best.dxq != 0 || best.dyq != 0);
      // Moving blocks where the look-back cannot rank the spatial variants are
      // ranked once the variants exist (RankTiedVariants), others here.
      const bool tied = cubic_error == edge_error && edge_error == blend_error;
      const Variant variant = !tied  ? Best({cubic_error, edge_error, blend_error})
                              : free ? Variant::kCubic
                                     : choose_on_kept_lines();
      // The stream's last field takes the compensated lines wherever the
      // vector matched: it has no successor, so its motion-adaptive
      // estimates rest on the previous and the current frame only (the
      // look-back judged them one field earlier, with a real successor).
      const int64_t compensated_error = look_back(previous.compensated);
      const int64_t spatial_error = std::min({cubic_error, edge_error, blend_error});
      const bool use_compensated =
          matched && (role == FieldRole::kLast || compensated_error < spatial_error);
      // Revisiting the first field, only compensation is new: its spatial
      // choice on the kept lines stays (WriteLuma leaves the block).
      if (role == FieldRole::kFirstRevisited && !use_compensated) continue;
      choice.vector = best;
      choice.compensated = use_compensated;
      choice.variant = variant;
      choice.matched = matched;
      choice.weight = within(kCloseMatch) ? CompensatedWeight(compensated_error, spatial_error)
                                          : kCompensatedWeightLow;
      choice.free = free;
      choice.tied = tied && free;
    }
  }
}

void Deinterlacer::RankTiedVariants(const PlaneView& kept, int kept_parity, int block_row_begin,
                                    int block_row_end) {
  const int blocks_x = (kept.width + kBlock - 1) / kBlock;
  const int row_begin = block_row_begin * kBlock;
  const int row_end = std::min(block_row_end * kBlock, kept.height);
  const LumaHistory& next = *next_history_;
  for (int by = block_row_begin; by < block_row_end; ++by) {
    for (int bx = 0; bx < blocks_x; ++bx) {
      BlockChoice& choice = choices_[static_cast<size_t>(by) * blocks_x + bx];
      if (!choice.tied) continue;
      const int x0 = bx * kBlock, y0 = by * kBlock;
      const int x1 = std::min(x0 + kBlock, kept.width), y1 = std::min(y0 + kBlock, kept.height);
      const int first_kept = y0 + ((y0 & 1) != kept_parity);
      VariantErrors errors =
          KeptFieldErrorsOf(*kernels_, kept, kept_parity, x0, x1, first_kept, y1);
      AddBackProjectionErrors(*kernels_, next.cubic, next.edge, next.blend, current_, kept_parity,
                              x0, x1, first_kept, y1, row_begin, row_end, &errors);
      choice.variant = Best(errors);
    }
  }
}

void Deinterlacer::WriteLuma(const PlaneView& out, int kept_parity, FieldRole role,
                             int block_row_begin, int block_row_end) {
  const int blocks_x = (out.width + kBlock - 1) / kBlock;
  for (int by = block_row_begin; by < block_row_end; ++by) {
    for (int bx = 0; bx < blocks_x; ++bx) {
      const BlockChoice& choice = choices_[static_cast<size_t>(by) * blocks_x + bx];
      if (role == FieldRole::kFirstRevisited && !choice.compensated) continue;
      const int x0 = bx * kBlock, y0 = by * kBlock;
      const int x1 = std::min(x0 + kBlock, out.width), y1 = std::min(y0 + kBlock, out.height);
      const int first_missing = y0 + ((y0 & 1) == kept_parity);
      WriteMissing(out, *next_history_, next_history_->Of(choice.variant), x0, x1, first_missing,
                   y1, choice.matched ? &history_->output : nullptr, choice.compensated,
                   choice.vector, choice.weight);
    }
  }
}

void Deinterlacer::CompensateChroma(const FrameView& out, int kept_parity, int block_row_begin,
                                    int block_row_end) {
  const int shift_x = ChromaShiftX(config_.input.chroma);
  const int shift_y = ChromaShiftY(config_.input.chroma);
  const int blocks_x = (config_.input.width + kBlock - 1) / kBlock;
  // A luma vector in the chroma's quarter samples, rounded half away from zero.
  auto scaled = [](int quarters, int shift) {
    if (shift == 0) return quarters;
    return quarters >= 0 ? (quarters + 1) >> 1 : -((-quarters + 1) >> 1);
  };
  alignas(32) int32_t warped[kBlock];
  uint16_t spatial[kBlock];
  for (int plane = 1; plane < 3; ++plane) {
    const PlaneView& dst = out.planes[plane];
    const int max_value = (1 << dst.bit_depth) - 1;
    const PaddedPlane& previous = chroma_history_[plane - 1];
    for (int by = block_row_begin; have_history_ && by < block_row_end; ++by) {
      const int y0 = (by * kBlock) >> shift_y;
      const int y1 = std::min(((by + 1) * kBlock) >> shift_y, dst.height);
      for (int bx = 0; bx < blocks_x; ++bx) {
        const BlockChoice& choice = choices_[static_cast<size_t>(by) * blocks_x + bx];
        if (!choice.compensated) continue;
        const int x0 = (bx * kBlock) >> shift_x;
        const int x1 = std::min(((bx + 1) * kBlock) >> shift_x, dst.width);
        const int dxq = scaled(choice.vector.dxq, shift_x);
        const int dyq = scaled(choice.vector.dyq, shift_y);
        for (int y = y0 + ((y0 & 1) == kept_parity); y < y1; y += 2) {
          kernels_->warp16(previous, x0, y, dxq, dyq, warped);
          if (dst.bit_depth > 8) {
            uint16_t* row = dst.Row16(y) + x0;
            kernels_->mix(warped, row, x1 - x0, kChromaCompensatedWeight, max_value, row);
          } else {
            uint8_t* row = dst.Row8(y) + x0;
            std::copy(row, row + (x1 - x0), spatial);
            kernels_->mix(warped, spatial, x1 - x0, kChromaCompensatedWeight, max_value, spatial);
            std::copy(spatial, spatial + (x1 - x0), row);
          }
        }
      }
    }
    // This field's chroma, for the next field.
    PaddedPlane& next = next_chroma_history_[plane - 1];
    const int row_begin = (block_row_begin * kBlock) >> shift_y;
    const int row_end = std::min((block_row_end * kBlock) >> shift_y, dst.height);
    for (int y = row_begin; y < row_end; ++y) {
      if (dst.bit_depth > 8) {
        std::copy(dst.Row16(y), dst.Row16(y) + dst.width, next.Row(y));
      } else {
        std::copy(dst.Row8(y), dst.Row8(y) + dst.width, next.Row(y));
      }
    }
    next.ExtendRows(row_begin, row_end);
  }
}

void Deinterlacer::WriteMissing(const PlaneView& out, LumaHistory& next,
                                const PaddedPlane& adaptive, int x0, int x1, int first_missing,
                                int y1, const PaddedPlane* previous, bool use_compensated,
                                MotionVector vector, int weight) const {
  const int max_value = (1 << out.bit_depth) - 1;
  alignas(32) int32_t warped[kBlock];
  for (int y = first_missing; y < y1; y += 2) {
    const uint16_t* ma = adaptive.Row(y);
    uint16_t* compensated = next.compensated.Row(y);
    uint16_t* output = next.output.Row(y);
    if (previous != nullptr) {
      kernels_->warp16(*previous, x0, y, vector.dxq, vector.dyq, warped);
      kernels_->mix(warped, ma + x0, x1 - x0, weight, max_value, compensated + x0);
    } else {
      std::copy(ma + x0, ma + x1, compensated + x0);
    }
    const uint16_t* chosen = use_compensated ? compensated : ma;
    std::copy(chosen + x0, chosen + x1, output + x0);
    if (out.bit_depth > 8) {
      std::copy(chosen + x0, chosen + x1, out.Row16(y) + x0);
    } else {
      std::copy(chosen + x0, chosen + x1, out.Row8(y) + x0);
    }
  }
}

}  // namespace vidmill::filters
