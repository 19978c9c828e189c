#pragma once
// Scanning heuristics: is the picture content progressive or interlaced, and
// which field comes first — whatever the flags say.
//
// Two measures of the content, and the flags:
//
// IdetAnalyzer runs libavfilter's idet filter in-process (buffer → idet →
// buffersink) over runs of consecutive decoded frames and accumulates its
// per-frame verdicts. idet compares each frame's lines with the neighbouring
// fields of the previous and next frame; its "multiple frame" verdict (a
// hysteresis over several frames) is the one used. Each run of consecutive
// frames (the sampler's `follows`) gets a fresh graph, since frames of
// different runs are not neighbours.
//
// FieldPhaseAnalyzer measures when each field was taken: the horizontal shift
// of picture blocks from a frame's top field to its bottom field, as a
// fraction of their shift from that top field to the next frame's. Interlaced
// fields are half a frame apart, so the fraction is about +½ (top field
// first) or −½ (bottom field first); the two fields of a progressive or
// segmented (PsF) frame are one instant, so it is about 0. The fraction holds
// at any speed the blocks can be followed at (up to 3 px per frame), so it
// answers for slow pans of segmented frames, where idet finds neither combing
// nor its absence; it has nothing to say about still pictures (the flags
// stand) or faster motion (idet answers alone). Each frame pair gives one
// answer (the median over its blocks), so noise in single blocks does not
// count.
//
// ClassifyScanning() turns both into a verdict (thresholds documented in
// docs/ingestion.md):
//  * idet: determined = tff + bff + progressive. Fewer than 10, or under 20%
//    of the frames analysed (e.g. a static picture, where fields cannot
//    differ), is no answer. interlaced = tff + bff. interlaced ≥ 2 ×
//    progressive → interlaced; progressive ≥ 2 × interlaced → progressive; in
//    between → no answer. Field order: the larger of tff and bff when it is at
//    least 1.5 × the other; otherwise the metadata's order if the metadata says
//    interlaced, else tff.
//  * field phase: no answer from fewer than 4 moving pairs. The answer is the
//    band (tff, bff, progressive) holding at least half of the moving pairs
//    and at least twice as many as the other two bands together; progressive
//    only while under 1 in 10 moving pairs is shifted (telecined film is
//    mostly whole pictures, but its combed frames must keep their fields
//    apart).
//  * idet's answer stands, unless the field phase and the metadata agree on
//    another one: two against one. Without an answer from idet, the field
//    phase's stands; without either, the metadata's.
//
// Thread safety: one analyzer per thread.

#include <cstdint>

#include "common/status.h"
#include "engine/av_ptr.h"
#include "engine/metadata.h"

namespace vidmill::engine {

struct IdetCounts {
  int64_t tff = 0;
  int64_t bff = 0;
  int64_t progressive = 0;
  int64_t undetermined = 0;

  int64_t total() const { return tff + bff + progressive + undetermined; }
};

class IdetAnalyzer {
 public:
  IdetAnalyzer() = default;

  // Feeds one frame of the current run. A frame with `new_run` true starts a
  // new run (the previous one is flushed first).
  Status AddFrame(const AVFrame* frame, AVRational time_base, bool new_run);

  // Flushes the current run; counts() is final afterwards.
  Status Finish();

  // idet's multiple-frame verdicts, one per frame analysed.
  const IdetCounts& counts() const { return counts_; }

 private:
  Status StartGraph(const AVFrame* frame, AVRational time_base);
  Status Drain();

  FilterGraphPtr graph_;
  AVFilterContext* source_ = nullptr;  // owned by graph_
  AVFilterContext* sink_ = nullptr;    // owned by graph_
  FramePtr filtered_;
  IdetCounts counts_;
};

// Measured frame pairs by their field phase: the median, over the pair's
// moving blocks, of the fraction of a block's motion between the frames that
// it shows between the first frame's two fields.
struct FieldPhaseCounts {
  int64_t tff = 0;          // +0.2 to +0.8: the top field is the earlier one
  int64_t bff = 0;          // −0.8 to −0.2: the bottom field is the earlier one
  int64_t progressive = 0;  // −0.1 to +0.1: both fields show one instant
  int64_t shifted = 0;      // ±0.8 to ±1.25: the bottom field is a neighbouring
                            // picture's (pulldown, field-shifted pictures)
  int64_t other = 0;        // in none of those bands
  int64_t still = 0;        // fewer than 8 blocks, or 10% of the textured ones, moved

  int64_t moving() const { return tff + bff + progressive + shifted + other; }
};

class FieldPhaseAnalyzer {
 public:
  FieldPhaseAnalyzer() = default;

  // Feeds one frame of the current run; `new_run` as for IdetAnalyzer. One
  // pair of consecutive frames in seven is measured (from the run's first
  // frame), up to 64 blocks of each: on 720x576 about the CPU time idet takes.
  // Frames without a planar luma plane of 8 to 16 bits (RGB, palettes) and
  // pairs that change size are not measured.
  Status AddFrame(const AVFrame* frame, bool new_run);

  const FieldPhaseCounts& counts() const { return counts_; }

 private:
  FramePtr previous_;  // the frame before the next one to be measured, or null
  int index_in_run_ = 0;
  FieldPhaseCounts counts_;
};

// The verdict from idet's counts and the field phase, falling back to
// `metadata` where neither gives a clear answer (see the file comment).
Scanning ClassifyScanning(const IdetCounts& counts, const FieldPhaseCounts& phase,
                          const Scanning& metadata);

}  // namespace vidmill::engine
