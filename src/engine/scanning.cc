#include "engine/scanning.h"

#include <string>
#include <string_view>

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

Scanning ClassifyScanning(const IdetCounts& counts, const Scanning& metadata) {
  const int64_t interlaced = counts.tff + counts.bff;
  const int64_t determined = interlaced + counts.progressive;
  if (determined < 10 || determined * 5 < counts.total()) {
    return metadata;
  }
  if (counts.progressive >= 2 * interlaced) {
    return Scanning{};
  }
  if (interlaced < 2 * counts.progressive) {
    return metadata;
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

}  // namespace vidmill::engine
