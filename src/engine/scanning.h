#pragma once
// Scanning heuristics: is the picture content progressive or interlaced, and
// which field comes first — whatever the flags say.
//
// IdetAnalyzer runs libavfilter's idet filter in-process (buffer → idet →
// buffersink) over runs of consecutive decoded frames and accumulates its
// per-frame verdicts. idet compares each frame's lines with the neighbouring
// fields of the previous and next frame; its "multiple frame" verdict (a
// hysteresis over several frames) is the one used. Each run (sampling window)
// gets a fresh graph, since frames of different windows are not neighbours.
//
// ClassifyScanning() turns the counts into a verdict (thresholds documented in
// docs/ingestion.md):
//  * determined = tff + bff + progressive. Fewer than 10, or under 20% of the
//    frames analysed (e.g. a static picture, where fields cannot differ), is no
//    evidence: the metadata's scanning is returned.
//  * interlaced = tff + bff. interlaced ≥ 2 × progressive → interlaced;
//    progressive ≥ 2 × interlaced → progressive; in between → the metadata.
//  * field order: the larger of tff and bff when it is at least 1.5 × the other;
//    otherwise the metadata's order if the metadata says interlaced, else tff.
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

// The verdict from idet's counts, falling back to `metadata` where the content
// gives no clear answer (see the file comment).
Scanning ClassifyScanning(const IdetCounts& counts, const Scanning& metadata);

}  // namespace vidmill::engine
