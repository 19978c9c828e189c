#include "engine/scanning.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/av_error.h"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/dict.h>
#include <libavutil/pixdesc.h>
}

namespace vidmill::engine {

Status IdetAnalyzer::StartGraph(const AVFrame* frame, AVRational time_base) {
  graph_.reset();
  ASSIGN_OR_RETURN(graph_, NewFilterGraph());
  graph_->nb_threads = 1;
  AVRational sar =
      frame->sample_aspect_ratio.num > 0 ? frame->sample_aspect_ratio : AVRational{1, 1};
  std::string args =
      "video_size=" + std::to_string(frame->width) + "x" + std::to_string(frame->height) +
      ":pix_fmt=" + av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format)) +
      ":time_base=" + std::to_string(time_base.num) + "/" + std::to_string(time_base.den) +
      ":pixel_aspect=" + std::to_string(sar.num) + "/" + std::to_string(sar.den);
  AvLogCapture capture;
  int ret = avfilter_graph_create_filter(&source_, avfilter_get_by_name("buffer"), "in",
                                         args.c_str(), nullptr, graph_.get());
  if (ret < 0) {
    return AvStatus(ret, "idet: creating the source", capture.first_error());
  }
  AVFilterContext* idet = nullptr;
  ret = avfilter_graph_create_filter(&idet, avfilter_get_by_name("idet"), kQuietFilterName, nullptr,
                                     nullptr, graph_.get());
  if (ret < 0) {
    return AvStatus(ret, "idet: creating the filter", capture.first_error());
  }
  ret = avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out", nullptr,
                                     nullptr, graph_.get());
  if (ret < 0) {
    return AvStatus(ret, "idet: creating the sink", capture.first_error());
  }
  if ((ret = avfilter_link(source_, 0, idet, 0)) < 0 ||
      (ret = avfilter_link(idet, 0, sink_, 0)) < 0) {
    return AvStatus(ret, "idet: linking", capture.first_error());
  }
  ret = avfilter_graph_config(graph_.get(), nullptr);
  if (ret < 0) {
    return AvStatus(ret, "idet: configuring the graph", capture.first_error());
  }
  if (!filtered_) {
    ASSIGN_OR_RETURN(filtered_, NewFrame());
  }
  return Status::Ok();
}

Status IdetAnalyzer::Drain() {
  while (true) {
    int ret = av_buffersink_get_frame(sink_, filtered_.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
      return Status::Ok();
    }
    if (ret < 0) {
      return AvStatus(ret, "idet: reading a frame");
    }
    const AVDictionaryEntry* verdict =
        av_dict_get(filtered_->metadata, "lavfi.idet.multiple.current_frame", nullptr, 0);
    std::string_view value = verdict != nullptr ? verdict->value : "undetermined";
    if (value == "tff") {
      ++counts_.tff;
    } else if (value == "bff") {
      ++counts_.bff;
    } else if (value == "progressive") {
      ++counts_.progressive;
    } else {
      ++counts_.undetermined;
    }
    av_frame_unref(filtered_.get());
  }
}

Status IdetAnalyzer::AddFrame(const AVFrame* frame, AVRational time_base, bool new_run) {
  if (new_run || !graph_) {
    RETURN_IF_ERROR(Finish());
    RETURN_IF_ERROR(StartGraph(frame, time_base));
  }
  // The buffer source takes a new reference; the caller keeps its frame.
  int ret = av_buffersrc_add_frame_flags(source_, const_cast<AVFrame*>(frame),
                                         AV_BUFFERSRC_FLAG_KEEP_REF);
  if (ret < 0) {
    return AvStatus(ret, "idet: adding a frame");
  }
  return Drain();
}

Status IdetAnalyzer::Finish() {
  if (!graph_) {
    return Status::Ok();
  }
  int ret = av_buffersrc_add_frame_flags(source_, nullptr, 0);
  if (ret < 0 && ret != AVERROR_EOF) {
    return AvStatus(ret, "idet: flushing");
  }
  Status drained = Drain();
  graph_.reset();
  source_ = nullptr;
  sink_ = nullptr;
  return drained;
}

namespace {

// Field phase: blocks of 32 × 16 field lines on an 8 × 8 grid, followed by
// Lucas–Kanade alignment (sub-pixel, about ±3 px from where it starts).
constexpr int kBlockWidth = 32;
constexpr int kBlockHeight = 16;
constexpr int kGridSize = 8;
// One frame pair in seven: a step prime to the 5-frame cadence of 3:2
// pulldown, so that a run of 15 frames or more measures its combed frames too.
constexpr int kPairEvery = 7;
// The patch read around a block: room for the gradients, the bilinear
// neighbour and a shift of up to kPad - 2 px.
constexpr int kPad = 5;
constexpr int kPatchWidth = kBlockWidth + 2 * kPad;
constexpr int kPatchHeight = kBlockHeight + 2 * kPad;
constexpr int kBlockPixels = kBlockWidth * kBlockHeight;
// Smallest eigenvalue of the block's structure tensor per pixel (8-bit
// units²): less detail than this cannot be followed in both directions.
constexpr double kMinTexture = 2.0;
// Horizontal motion between frames, in pixels, that the phase is measured on:
// vertical shifts between fields of opposite parity are aliased, and beyond
// kMaxMotion the alignment finds wrong matches as often as right ones.
constexpr float kMinMotion = 0.5f;
constexpr float kMaxMotion = 3.0f;

struct Shift {
  float x = 0;
  float y = 0;
};

// The luma plane of a frame, read as 8-bit units whatever its depth.
struct LumaPlane {
  const uint8_t* data = nullptr;
  int linesize = 0;
  int width = 0;
  int height = 0;
  bool wide = false;  // 16-bit samples
  int shift = 0;      // low bits below the sample (P010)
  float scale = 1;    // to 8-bit units

  float At(int field, int x, int field_line) const {
    const uint8_t* row = data + static_cast<ptrdiff_t>(2 * field_line + field) * linesize;
    if (!wide) {
      return row[x];
    }
    return static_cast<float>(reinterpret_cast<const uint16_t*>(row)[x] >> shift) * scale;
  }
};

// Planar (or semi-planar) luma of 8 to 16 bits in native byte order; RGB,
// palette and packed formats are not measured.
std::optional<LumaPlane> LumaOf(const AVFrame* frame) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  if (desc == nullptr || desc->nb_components == 0 ||
      (desc->flags &
       (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_HWACCEL |
        AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_FLOAT))) {
    return std::nullopt;
  }
  const AVComponentDescriptor& luma = desc->comp[0];
  const bool wide = luma.step == 2 && luma.depth > 8 && luma.depth <= 16;
  if (luma.plane != 0 || luma.offset != 0 || !(wide || (luma.step == 1 && luma.depth == 8)) ||
      frame->data[0] == nullptr || frame->linesize[0] <= 0) {
    return std::nullopt;
  }
  return LumaPlane{frame->data[0],
                   frame->linesize[0],
                   frame->width,
                   frame->height,
                   wide,
                   luma.shift,
                   1.0f / static_cast<float>(1 << (luma.depth - 8))};
}

// One field of a luma plane around a block, with kPad pixels on every side.
class Patch {
 public:
  void Read(const LumaPlane& luma, int field, int block_x, int block_line) {
    for (int y = 0; y < kPatchHeight; ++y) {
      for (int x = 0; x < kPatchWidth; ++x) {
        pixels_[y * kPatchWidth + x] = luma.At(field, block_x - kPad + x, block_line - kPad + y);
      }
    }
  }
  // (x, y) from the block's top-left corner.
  float At(int x, int y) const { return pixels_[(y + kPad) * kPatchWidth + x + kPad]; }
  const float* Row(int y) const { return &pixels_[(y + kPad) * kPatchWidth + kPad]; }

 private:
  std::array<float, kPatchWidth * kPatchHeight> pixels_;
};

// A block to be found in other fields: its pixels, gradients and structure
// tensor.
class Reference {
 public:
  explicit Reference(const Patch& patch) {
    for (int y = 0; y < kBlockHeight; ++y) {
      for (int x = 0; x < kBlockWidth; ++x) {
        const int i = y * kBlockWidth + x;
        value_[i] = patch.At(x, y);
        grad_x_[i] = 0.5f * (patch.At(x + 1, y) - patch.At(x - 1, y));
        grad_y_[i] = 0.5f * (patch.At(x, y + 1) - patch.At(x, y - 1));
        xx_ += grad_x_[i] * grad_x_[i];
        xy_ += grad_x_[i] * grad_y_[i];
        yy_ += grad_y_[i] * grad_y_[i];
      }
    }
  }

  bool Textured() const {
    const double half_trace = 0.5 * (xx_ + yy_);
    const double spread = std::sqrt(0.25 * (xx_ - yy_) * (xx_ - yy_) + xy_ * xy_);
    return (half_trace - spread) / kBlockPixels >= kMinTexture;
  }

  struct Alignment {
    bool converged = false;
    Shift shift;
    double error_at_start = 0;  // mean squared difference at `start`
    double error = 0;           // ... at the shift found
  };

  // The shift d at which `target` sampled at p + d best matches the block at p,
  // by Gauss–Newton steps from `start` until a step is under 0.02 px.
  Alignment Align(const Patch& target, Shift start) const {
    Alignment result;
    result.shift = start;
    const double det = xx_ * yy_ - xy_ * xy_;
    for (int step_idx = 0; step_idx < 10; ++step_idx) {
      // Written so that a diverging (or NaN) shift leaves the patch too.
      const float floor_x = std::floor(result.shift.x);
      const float floor_y = std::floor(result.shift.y);
      if (!(floor_x >= 1 - kPad && floor_x <= kPad - 2 && floor_y >= 1 - kPad &&
            floor_y <= kPad - 2)) {
        return result;
      }
      const int ix = static_cast<int>(floor_x);
      const int iy = static_cast<int>(floor_y);
      const float fx = result.shift.x - floor_x;
      const float fy = result.shift.y - floor_y;
      const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy,
                  w11 = fx * fy;
      double sum_x = 0, sum_y = 0, sum_error = 0;
      for (int y = 0; y < kBlockHeight; ++y) {
        const float* top = target.Row(y + iy) + ix;
        const float* bottom = target.Row(y + iy + 1) + ix;
        const int row = y * kBlockWidth;
        for (int x = 0; x < kBlockWidth; ++x) {
          const float e = w00 * top[x] + w01 * top[x + 1] + w10 * bottom[x] + w11 * bottom[x + 1] -
                          value_[row + x];
          sum_x += grad_x_[row + x] * e;
          sum_y += grad_y_[row + x] * e;
          sum_error += e * e;
        }
      }
      result.error = sum_error / kBlockPixels;
      if (step_idx == 0) {
        result.error_at_start = result.error;
      }
      const double step_x = -(yy_ * sum_x - xy_ * sum_y) / det;
      const double step_y = -(xx_ * sum_y - xy_ * sum_x) / det;
      result.shift.x += static_cast<float>(step_x);
      result.shift.y += static_cast<float>(step_y);
      if (std::abs(step_x) < 0.02 && std::abs(step_y) < 0.02) {
        result.converged = true;
        return result;
      }
    }
    return result;
  }

 private:
  std::array<float, kBlockPixels> value_, grad_x_, grad_y_;
  double xx_ = 0, xy_ = 0, yy_ = 0;
};

enum class BlockPhase { kUntextured, kStill, kUnreliable, kMeasured };

// The field phase of the block at (x, line) of `current`'s fields: the
// fraction of its horizontal shift from `current`'s top field to `next`'s top
// field that it shows from `current`'s top field to its bottom field.
BlockPhase MeasureBlock(const LumaPlane& current, const LumaPlane& next, int x, int line,
                        float& phase) {
  Patch patch;
  patch.Read(current, 0, x, line);
  const Reference top(patch);
  if (!top.Textured()) {
    return BlockPhase::kUntextured;
  }
  patch.Read(next, 0, x, line);
  const Reference::Alignment frame = top.Align(patch, {});
  if (!frame.converged) {
    return BlockPhase::kUnreliable;
  }
  if (std::abs(frame.shift.x) < kMinMotion) {
    return BlockPhase::kStill;
  }
  // A match that leaves most of the difference, or the bottom field moving
  // otherwise than the top one, is a wrong match (a repeating texture, a
  // cut, an occlusion), not motion.
  if (std::hypot(frame.shift.x, frame.shift.y) > kMaxMotion ||
      frame.error > 0.25 * frame.error_at_start) {
    return BlockPhase::kUnreliable;
  }
  Patch bottom_patch;
  bottom_patch.Read(current, 1, x, line);
  const Reference bottom(bottom_patch);
  if (!bottom.Textured()) {
    return BlockPhase::kUnreliable;
  }
  patch.Read(next, 1, x, line);
  const Reference::Alignment bottom_frame = bottom.Align(patch, frame.shift);
  if (!bottom_frame.converged || std::hypot(bottom_frame.shift.x - frame.shift.x,
                                            bottom_frame.shift.y - frame.shift.y) > 0.25f) {
    return BlockPhase::kUnreliable;
  }
  // The bottom field's lines lie half a field line below the top field's, so
  // a still picture shows up as a shift of -0.5 lines. The search starts from
  // both ends of the range of interest — one instant (0) and a field from the
  // next picture (the frame's motion) — and keeps the better match.
  const Reference::Alignment from_still = top.Align(bottom_patch, {0, -0.5f});
  const Reference::Alignment from_next =
      top.Align(bottom_patch, {frame.shift.x, frame.shift.y - 0.5f});
  if (!from_still.converged && !from_next.converged) {
    return BlockPhase::kUnreliable;
  }
  const Reference::Alignment& field =
      !from_next.converged || (from_still.converged && from_still.error <= from_next.error)
          ? from_still
          : from_next;
  phase = field.shift.x / frame.shift.x;
  return BlockPhase::kMeasured;
}

void CountPhase(float phase, FieldPhaseCounts& counts) {
  if (phase >= 0.2f && phase <= 0.8f) {
    ++counts.tff;
  } else if (phase <= -0.2f && phase >= -0.8f) {
    ++counts.bff;
  } else if (std::abs(phase) <= 0.1f) {
    ++counts.progressive;
  } else if (std::abs(phase) > 0.8f && std::abs(phase) <= 1.25f) {
    ++counts.shifted;
  } else {
    ++counts.other;
  }
}

// Pairs with fewer moving blocks than this (or than 10% of the textured ones)
// count as still: a few blocks may be a passing object or noise.
constexpr size_t kMinMovingBlocks = 8;

void MeasurePair(const LumaPlane& current, const LumaPlane& next, FieldPhaseCounts& counts) {
  // Blocks keep kPad + 1 pixels (and field lines) from the edges.
  const int margin = kPad + 1;
  const int field_lines = current.height / 2;
  const int columns = std::min(kGridSize, (current.width - 2 * margin) / kBlockWidth);
  const int rows = std::min(kGridSize, (field_lines - 2 * margin) / kBlockHeight);
  std::vector<float> phases;
  phases.reserve(kGridSize * kGridSize);
  size_t textured = 0;
  for (int row_idx = 0; row_idx < rows; ++row_idx) {
    const int line =
        margin + (rows > 1 ? row_idx * (field_lines - 2 * margin - kBlockHeight) / (rows - 1) : 0);
    for (int column_idx = 0; column_idx < columns; ++column_idx) {
      const int x =
          margin + (columns > 1
                        ? column_idx * (current.width - 2 * margin - kBlockWidth) / (columns - 1)
                        : 0);
      float phase = 0;
      const BlockPhase result = MeasureBlock(current, next, x, line, phase);
      if (result != BlockPhase::kUntextured) {
        ++textured;
      }
      if (result == BlockPhase::kMeasured) {
        phases.push_back(phase);
      }
    }
  }
  if (phases.size() < kMinMovingBlocks || phases.size() * 10 < textured) {
    ++counts.still;
    return;
  }
  auto middle = phases.begin() + phases.size() / 2;
  std::nth_element(phases.begin(), middle, phases.end());
  CountPhase(*middle, counts);
}

}  // namespace

Status FieldPhaseAnalyzer::AddFrame(const AVFrame* frame, bool new_run) {
  index_in_run_ = new_run ? 0 : index_in_run_ + 1;
  if (previous_ && !new_run) {
    std::optional<LumaPlane> current = LumaOf(previous_.get());
    std::optional<LumaPlane> next = LumaOf(frame);
    if (current && next && previous_->format == frame->format && current->width == next->width &&
        current->height == next->height) {
      MeasurePair(*current, *next, counts_);
    }
  }
  previous_.reset();
  if (index_in_run_ % kPairEvery == 0) {
    // The sampler's frame lives only during this call; a reference keeps it.
    ASSIGN_OR_RETURN(previous_, NewFrame());
    int ret = av_frame_ref(previous_.get(), frame);
    if (ret < 0) {
      return AvStatus(ret, "field phase: keeping a frame");
    }
  }
  return Status::Ok();
}

namespace {

// idet's verdict, or nothing where its counts give no clear answer.
std::optional<Scanning> IdetVerdict(const IdetCounts& counts, const Scanning& metadata) {
  const int64_t interlaced = counts.tff + counts.bff;
  const int64_t determined = interlaced + counts.progressive;
  if (determined < 10 || determined * 5 < counts.total()) {
    return std::nullopt;
  }
  if (counts.progressive >= 2 * interlaced) {
    return Scanning{};
  }
  if (interlaced < 2 * counts.progressive) {
    return std::nullopt;
  }
  FieldOrder order;
  if (2 * counts.tff >= 3 * counts.bff) {
    order = FieldOrder::kTopFieldFirst;
  } else if (2 * counts.bff >= 3 * counts.tff) {
    order = FieldOrder::kBottomFieldFirst;
  } else {
    order = metadata.interlaced() ? metadata.field_order : FieldOrder::kTopFieldFirst;
  }
  return Scanning{ScanningType::kInterlaced, order};
}

// The field phase's verdict, or nothing where too few pairs moved measurably
// or they disagree. Shifted pairs in 1 of 10 or more mean pulldown or
// field-shifted pictures, whose combed frames a progressive verdict would
// scale as pictures.
std::optional<Scanning> PhaseVerdict(const FieldPhaseCounts& counts) {
  const int64_t moving = counts.moving();
  if (moving < 4) {
    return std::nullopt;
  }
  const auto clear = [&](int64_t band, int64_t others) {
    return 2 * band >= moving && band >= 2 * others;
  };
  if (clear(counts.progressive, counts.tff + counts.bff) && 10 * counts.shifted < moving) {
    return Scanning{};
  }
  if (clear(counts.tff, counts.bff + counts.progressive)) {
    return Scanning{ScanningType::kInterlaced, FieldOrder::kTopFieldFirst};
  }
  if (clear(counts.bff, counts.tff + counts.progressive)) {
    return Scanning{ScanningType::kInterlaced, FieldOrder::kBottomFieldFirst};
  }
  return std::nullopt;
}

}  // namespace

Scanning ClassifyScanning(const IdetCounts& counts, const FieldPhaseCounts& phase,
                          const Scanning& metadata) {
  const std::optional<Scanning> combing = IdetVerdict(counts, metadata);
  const std::optional<Scanning> timing = PhaseVerdict(phase);
  if (!combing) {
    return timing.value_or(metadata);
  }
  if (timing && *timing == metadata && *timing != *combing) {
    return *timing;
  }
  return *combing;
}

}  // namespace vidmill::engine
