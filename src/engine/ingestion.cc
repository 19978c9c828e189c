#include "engine/ingestion.h"

#include <algorithm>
#include <chrono>

#include "engine/frame_sampler.h"
#include "engine/thumbnail.h"
#include "engine/web_preview.h"

namespace vidmill::engine {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWindows = 12;
constexpr int kMaxFramesPerWindow = 24;
constexpr int kQualityEvery = 8;

// Turns per-step fractions into the overall fraction and an ETA, and throttles
// the callback to about ten calls a second.
class ProgressTracker {
 public:
  ProgressTracker(const ProgressFn& callback, std::vector<std::pair<std::string, double>> weights)
      : callback_(callback), weights_(std::move(weights)), start_(Clock::now()) {
    double total = 0;
    for (const auto& [name, weight] : weights_) {
      total += weight;
    }
    for (auto& [name, weight] : weights_) {
      weight /= total;
    }
  }

  void Step(std::string_view step, double step_fraction, bool force = false) {
    double before = 0;
    double weight = 0;
    for (const auto& [name, w] : weights_) {
      if (name == step) {
        weight = w;
        break;
      }
      before += w;
    }
    double overall = std::clamp(before + weight * std::clamp(step_fraction, 0.0, 1.0), 0.0, 1.0);
    overall = std::max(overall, last_fraction_);
    Report(step, overall, force);
  }

  void Done() { Report("done", 1.0, true); }

 private:
  void Report(std::string_view step, double overall, bool force) {
    if (!callback_) {
      return;
    }
    Clock::time_point now = Clock::now();
    if (!force && now - last_report_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_report_ = now;
    last_fraction_ = overall;
    IngestionProgress progress;
    progress.step = step;
    progress.fraction = overall;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    if (overall >= 1.0) {
      progress.eta_seconds = 0.0;
    } else if (overall >= 0.02) {
      progress.eta_seconds = elapsed * (1.0 - overall) / overall;
    }
    callback_(progress);
  }

  const ProgressFn& callback_;
  std::vector<std::pair<std::string, double>> weights_;
  Clock::time_point start_;
  Clock::time_point last_report_{};
  double last_fraction_ = 0;
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Everything the analysis pass keeps.
struct Analysis {
  IdetAnalyzer idet;
  FieldPhaseAnalyzer phase;
  QualityAnalyzer quality;
  std::vector<FramePtr> thumbnails;  // one per wanted thumbnail, may stay empty
  FramePtr last_frame;               // fallback for thumbnails of windows never reached
  int64_t frames = 0;
};

Status Analyse(MediaInput& input, const VideoMetadata& metadata, size_t thumbnail_count,
               ProgressTracker& tracker, Analysis& analysis) {
  const SamplingPlan plan = SamplingPlanFor(metadata, kWindows, kMaxFramesPerWindow);
  const int quality_offset = std::min(kQualityEvery / 2, plan.frames_per_window / 2);
  const int thumbnail_index = plan.frames_per_window / 2;
  std::vector<int> thumbnail_windows;
  for (size_t thumb_idx = 0; thumb_idx < thumbnail_count; ++thumb_idx) {
    thumbnail_windows.push_back(static_cast<int>((thumb_idx + 0.5) * kWindows / thumbnail_count));
  }
  analysis.thumbnails.resize(thumbnail_count);
  const AVRational time_base = input.video_stream()->time_base;

  auto sink = [&](const AVFrame* frame, int window_idx, int index, bool follows) -> Status {
    RETURN_IF_ERROR(input.CheckInterrupt());
    RETURN_IF_ERROR(analysis.idet.AddFrame(frame, time_base, !follows));
    // The field phase measures pairs from each window's start, as many as the
    // windows give: a short video as one run gave fewer, and slow segmented
    // frames kept their flags; every pair, and slow interlaced clips were
    // read as progressive (audit 43, measured over 467 clips).
    RETURN_IF_ERROR(analysis.phase.AddFrame(frame, index == 0 || !follows));
    if (index % kQualityEvery == quality_offset) {
      RETURN_IF_ERROR(analysis.quality.AddFrame(frame));
    }
    for (size_t thumb_idx = 0; thumb_idx < thumbnail_windows.size(); ++thumb_idx) {
      if (thumbnail_windows[thumb_idx] == window_idx && index <= thumbnail_index) {
        analysis.thumbnails[thumb_idx].reset(av_frame_clone(frame));
      }
    }
    analysis.last_frame.reset(av_frame_clone(frame));
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(analysis.frames, SampleFrames(input, plan, sink, [&](double fraction) {
                     tracker.Step("analysis", fraction);
                   }));
  // A clip too short to reach the first measured position (a single frame)
  // is measured on the frame it has, rather than left unrated.
  if (analysis.quality.frames_measured() == 0 && analysis.last_frame) {
    RETURN_IF_ERROR(analysis.quality.AddFrame(analysis.last_frame.get()));
  }
  RETURN_IF_ERROR(analysis.idet.Finish());
  return Status::Ok();
}

}  // namespace

boost::json::object IngestionReport::ToJson() const {
  boost::json::object out;
  out["metadata"] = metadata.ToJson();
  if (quality) {
    out["qualityAssessment"] = quality->ToJson();
  }
  return out;
}

Result<IngestionReport> RunIngestion(const std::string& input_path, IngestionKind kind,
                                     const IngestionOutputs& outputs, const MediaLimits& limits,
                                     const ProgressFn& progress, const CancelFn& cancel,
                                     const MetadataFn& on_metadata) {
  const bool full = kind == IngestionKind::kFull;
  const bool want_analysis = full;
  const bool want_preview = full && !outputs.web_preview_path.empty();
  std::vector<std::pair<std::string, double>> weights = {{"metadata", 5}};
  if (want_analysis) {
    weights.emplace_back("analysis", 20);
  }
  if (want_preview) {
    weights.emplace_back("web_preview", 75);
  }
  ProgressTracker tracker(progress, std::move(weights));

  IngestionReport report;
  report.kind = kind;

  // 1. Metadata.
  Clock::time_point step_start = Clock::now();
  tracker.Step("metadata", 0, true);
  {
    ASSIGN_OR_RETURN(auto input, MediaInput::Open(input_path, limits, cancel));
    ProbeOptions probe;
    probe.count_policy = full ? CountPolicy::kExact : CountPolicy::kBudgeted;
    probe.on_count_progress = [&](double fraction) { tracker.Step("metadata", fraction); };
    ASSIGN_OR_RETURN(report.metadata, ProbeMetadata(*input, probe));
  }
  report.step_seconds.emplace_back("metadata", SecondsSince(step_start));
  tracker.Step("metadata", 1, true);
  if (on_metadata) {
    on_metadata(report.metadata);
  }
  if (!full) {
    tracker.Done();
    return report;
  }

  // 2. Analysis: scanning heuristics, quality, thumbnails.
  step_start = Clock::now();
  Scanning scanning;
  {
    ASSIGN_OR_RETURN(auto input, MediaInput::Open(input_path, limits, cancel));
    Analysis analysis;
    RETURN_IF_ERROR(
        Analyse(*input, report.metadata, outputs.thumbnail_paths.size(), tracker, analysis));
    report.frames_analysed = analysis.frames;
    scanning = ClassifyScanning(analysis.idet.counts(), analysis.phase.counts(),
                                report.metadata.scanning_metadata);
    report.metadata.scanning_heuristics = scanning;
    report.quality = analysis.quality.Assess(scanning.interlaced());
    for (size_t thumb_idx = 0; thumb_idx < outputs.thumbnail_paths.size(); ++thumb_idx) {
      RETURN_IF_ERROR(input->CheckInterrupt());
      const AVFrame* frame = analysis.thumbnails[thumb_idx] ? analysis.thumbnails[thumb_idx].get()
                                                            : analysis.last_frame.get();
      if (frame == nullptr) {
        return Status::CorruptMedia("no frame decoded for thumbnails");
      }
      ThumbnailOptions thumbnail;
      thumbnail.rotation = report.metadata.rotation;
      // The container's pixel shape, as the metadata and the web preview
      // take it (VP9/AV1 carry it only there; H.263's codec says 12:11).
      thumbnail.sample_aspect = av_guess_sample_aspect_ratio(input->format(), input->video_stream(),
                                                             const_cast<AVFrame*>(frame));
      RETURN_IF_ERROR(WriteJpegThumbnail(frame, scanning.interlaced(),
                                         outputs.thumbnail_paths[thumb_idx], thumbnail));
      ++report.thumbnails_written;
    }
  }
  report.step_seconds.emplace_back("analysis", SecondsSince(step_start));
  tracker.Step("analysis", 1, true);

  // 3. Web preview.
  if (want_preview) {
    step_start = Clock::now();
    ASSIGN_OR_RETURN(auto input, MediaInput::Open(input_path, limits, cancel));
    WebPreviewOptions preview;
    preview.scanning = scanning;
    RETURN_IF_ERROR(
        EncodeWebPreview(*input, outputs.web_preview_path, preview,
                         [&](double fraction) { tracker.Step("web_preview", fraction); }));
    report.web_preview_written = true;
    report.step_seconds.emplace_back("web_preview", SecondsSince(step_start));
  }
  tracker.Done();
  return report;
}

}  // namespace vidmill::engine
