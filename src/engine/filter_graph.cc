#include "engine/filter_graph.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
}

#include "engine/av_error.h"
#include "engine/colour.h"
#include "engine/encoders.h"
#include "engine/media_input.h"

namespace vidmill::engine {
namespace {

bool SameRate(double a, double b) { return std::fabs(a - b) < 0.01; }

std::string Seconds(double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", seconds);
  return buf;
}

FilterStep Graph(std::string filter) { return FilterStep{std::move(filter), std::nullopt}; }

FilterStep Stage(FilterStageOptions options) { return FilterStep{"", std::move(options)}; }

FilterStep RestartClock() { return FilterStep{"setpts=PTS-STARTPTS", std::nullopt, true}; }

// A range's second cut, after the deinterlacer (BuildVideoSteps, step 1).
FilterStep CutAtPicturesEnd(double range_end) {
  FilterStep step{"trim=end=" + Seconds(range_end), std::nullopt};
  step.cut_at_pictures_end = true;
  return step;
}

std::string BufferArgs(const VideoFormat& format) {
  char args[512];
  std::snprintf(args, sizeof(args),
                "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d:frame_rate=%d/%d",
                format.width, format.height, static_cast<int>(format.pixel_format),
                format.time_base.num, format.time_base.den, format.sample_aspect_ratio.num,
                format.sample_aspect_ratio.den, format.frame_rate.num, format.frame_rate.den);
  return args;
}

VideoFormat SinkFormat(AVFilterContext* sink) {
  VideoFormat format;
  format.width = av_buffersink_get_w(sink);
  format.height = av_buffersink_get_h(sink);
  format.pixel_format = static_cast<AVPixelFormat>(av_buffersink_get_format(sink));
  format.time_base = av_buffersink_get_time_base(sink);
  format.frame_rate = av_buffersink_get_frame_rate(sink);
  format.sample_aspect_ratio = av_buffersink_get_sample_aspect_ratio(sink);
  if (format.sample_aspect_ratio.num <= 0) format.sample_aspect_ratio = AVRational{1, 1};
  if (format.frame_rate.num <= 0) format.frame_rate = AVRational{0, 1};
  return format;
}

}  // namespace

AVRational RateRational(double fps) {
  double ntsc = fps * 1001.0 / 1000.0;
  if (std::fabs(ntsc - std::round(ntsc)) < 1e-3 && std::fabs(fps - std::round(fps)) > 1e-3) {
    return AVRational{static_cast<int>(std::lround(ntsc)) * 1000, 1001};
  }
  return av_d2q(fps, 1'000'000);
}

std::string RateString(double fps) {
  AVRational rate = RateRational(fps);
  return rate.den == 1 ? std::to_string(rate.num)
                       : std::to_string(rate.num) + "/" + std::to_string(rate.den);
}

Result<std::vector<FilterStep>> BuildVideoSteps(const TranscodeSpec& spec, double start_seconds) {
  std::vector<FilterStep> steps;
  // 1. Range: cut at absolute timestamps, then start the clip at zero. A
  // deinterlacer makes the last picture's second field from the picture
  // after it (and yadif, bwdif and w3fdif, flushed after a lone picture,
  // time its copy at the picture's own time: a one-picture range gave the
  // second field twice). So with a deinterlacer the cut lets one more
  // picture in (1.5 periods past the end), and the chain cuts again after
  // the deinterlacer where the range's pictures end, which drops that
  // picture's fields. Not at the range's end: the last picture's second
  // field may start after it (a range ending in the picture's second half),
  // and belongs to the range as the picture does.
  const double range_end = start_seconds + spec.end_ms / 1000.0;
  const bool look_past_end = spec.has_range && !spec.deinterlacer.empty() && spec.source_fps > 0;
  if (spec.has_range) {
    steps.push_back(
        Graph("trim=start=" + Seconds(start_seconds + spec.start_ms / 1000.0) +
              ":end=" + Seconds(range_end + (look_past_end ? 1.5 / spec.source_fps : 0))));
  }
  if (!look_past_end) steps.push_back(RestartClock());
  // Colour (colour.h): RGB sources become YUV first, since the filters work
  // in YUV; YUV sources change matrix or range last, at the output's size.
  const bool colour_known = spec.output_colour.range != 0;
  if (colour_known && spec.source_colour.rgb && !spec.output_colour.rgb) {
    steps.push_back(Graph(ColourConversion(spec.source_colour, spec.output_colour,
                                           spec.pixel_format, spec.source_interlaced)));
  }
  // Interlaced in, interlaced out, no deinterlacer: the fields are kept as they
  // are, every later step treats them field-aware, and the rate cannot change.
  const bool keep_fields =
      spec.interlaced_output && spec.deinterlacer.empty() && spec.source_interlaced;
  double rate = spec.source_fps;
  const std::string parity = spec.source_top_field_first ? "tff" : "bff";

  // 2. Deinterlace: one frame per field (send_field) when the output rate
  // needs it, else one per frame; the parity is the source's as ingested.
  if (!spec.deinterlacer.empty()) {
    const std::string mode = spec.deinterlace_field_rate ? "send_field" : "send_frame";
    if (spec.deinterlacer == "deint") {
      FilterStageOptions options;
      options.name = "deint";
      options.field_rate = spec.deinterlace_field_rate;
      options.top_field_first = spec.source_top_field_first;
      steps.push_back(Stage(options));
    } else if (spec.deinterlacer == "yadif") {
      steps.push_back(Graph("yadif=mode=" + mode + ":parity=" + parity + ":deint=all"));
    } else if (spec.deinterlacer == "bwdif") {
      steps.push_back(Graph("bwdif=mode=" + mode + ":parity=" + parity + ":deint=all"));
    } else if (spec.deinterlacer == "weston3f") {
      steps.push_back(Graph(std::string("w3fdif=filter=complex:mode=") +
                            (spec.deinterlace_field_rate ? "field" : "frame") +
                            ":parity=" + parity + ":deint=all"));
    } else {
      return Status::InvalidArgument("unknown deinterlacer '" + spec.deinterlacer + "'");
    }
    if (spec.deinterlace_field_rate) rate *= 2;
  }
  if (look_past_end) {
    steps.push_back(CutAtPicturesEnd(range_end));
    steps.push_back(RestartClock());
  }

  // 2b. Turn the pictures upright (phones' portrait video is stored landscape
  // with a display matrix); the fields are gone or were never there.
  if (spec.source_rotation > 0) {
    if (keep_fields) {
      return Status::InvalidArgument(
          "an interlaced source stored turned needs a deinterlacer to be turned upright");
    }
    steps.push_back(Graph(UprightFilter(spec.source_rotation)));
  }

  // 3. Denoise.
  if (spec.denoiser == "denoise") {
    steps.push_back(Stage(FilterStageOptions{.name = "denoise", .field_aware = keep_fields}));
  } else if (spec.denoiser == "hqdn3d") {
    steps.push_back(Graph("hqdn3d=luma_spatial=4:chroma_spatial=3:luma_tmp=6:chroma_tmp=4.5"));
  } else if (!spec.denoiser.empty()) {
    return Status::InvalidArgument("unknown denoiser '" + spec.denoiser + "'");
  }

  // 4. Stabilise.
  if (spec.stabilizer == "dejit") {
    steps.push_back(Stage(FilterStageOptions{.name = "dejit", .field_aware = keep_fields}));
  } else if (!spec.stabilizer.empty()) {
    return Status::InvalidArgument("unknown stabilizer '" + spec.stabilizer + "'");
  }

  // 5. Scale (super-resolve, with clarity for pabsr1). A size change without a
  // scaler uses scale.
  if (spec.clarity_boost != "none" && !spec.clarity_boost.empty() && spec.scaler != "pabsr1") {
    return Status::InvalidArgument("clarityBoost applies only with the pabsr1 scaler");
  }
  // The picture fills the frame, or sits in it at its own aspect (step 7b).
  const bool boxed = spec.boxed();
  const int picture_width = boxed ? spec.picture_width : spec.width;
  const int picture_height = boxed ? spec.picture_height : spec.height;
  const bool resize = picture_width != spec.source_width || picture_height != spec.source_height;
  if (keep_fields && (!spec.scaler.empty() || resize) && picture_height % 4 != 0 &&
      !spec.source_colour.rgb) {
    // Fields of an odd number of lines: libswscale writes past its buffers
    // when it scales into 4:2:0 fields whose chroma would be half a line
    // (a 576i clip made 574 lines high killed the worker with a corrupted
    // heap). The size rules allow such heights only for output whose chroma
    // has every line (4:2:2, 4:4:4, 4:1:1), so the pictures take that format,
    // field by field, before they are scaled.
    const AVPixFmtDescriptor* output =
        av_pix_fmt_desc_get(av_get_pix_fmt(spec.pixel_format.c_str()));
    if (output == nullptr || output->log2_chroma_h != 0) {
      return Status::InvalidArgument("interlaced " + spec.pixel_format +
                                     " output needs a height that is a multiple of 4");
    }
    steps.push_back(Graph("scale=interl=1,format=pix_fmts=" + spec.pixel_format));
  }
  if (!spec.scaler.empty() || resize) {
    const std::string scaler = spec.scaler.empty() ? "scale" : spec.scaler;
    if (scaler == "pabsr1" || scaler == "dvres") {
      FilterStageOptions options;
      options.name = scaler;
      options.width = picture_width;
      options.height = picture_height;
      options.clarity_boost = scaler == "pabsr1" ? spec.clarity_boost : "none";
      options.field_aware = keep_fields;
      steps.push_back(Stage(options));
    } else if (scaler == "scale") {
      // A full-range source stays full range here (colour.h, KeepFullRange).
      steps.push_back(Graph("scale=w=" + std::to_string(picture_width) +
                            ":h=" + std::to_string(picture_height) + ":flags=bicubic" +
                            (colour_known ? KeepFullRange(spec.source_colour) : "") +
                            (keep_fields ? ":interl=1" : "")));
    } else {
      return Status::InvalidArgument("unknown scaler '" + scaler + "'");
    }
  }
  const AVRational sar = OutputSampleAspect(spec);
  steps.push_back(Graph(sar.num == sar.den
                            ? std::string("setsar=1")
                            : "setsar=" + std::to_string(sar.num) + "/" + std::to_string(sar.den)));

  // 6. Frame-rate conversion. A deinterlaced source going back to interlaced
  // output is made progressive at twice the frame rate (field rate) and woven
  // back below, one field from each frame; progressive material becomes
  // interlaced as segmented frames (both fields from one instant).
  const bool reinterlace = !keep_fields && spec.interlaced_output && !spec.deinterlacer.empty();
  if (!keep_fields) {
    const double target = reinterlace ? 2 * spec.fps : spec.fps;
    if (!SameRate(rate, target) || !spec.frame_rate_converter.empty()) {
      const std::string converter =
          spec.frame_rate_converter.empty() ? "fps" : spec.frame_rate_converter;
      const std::string r = RateString(target);
      // Converters stop at the last frame's timestamp, one source frame short
      // of the clip's end (25 → 60 fps would lose 2.4 frames): the last frame
      // is held for two source frames (minterpolate looks one frame further
      // ahead), and the output is cut where the last picture ends (the
      // transcoder counts that from the decoded pictures).
      steps.push_back(Graph("tpad=stop_mode=clone:stop_duration=" + Seconds(2.0 / rate)));
      if (converter == "fps") {
        steps.push_back(Graph("fps=fps=" + r));
      } else if (converter == "fblend") {
        steps.push_back(Graph("framerate=fps=" + r + ":interp_start=15:interp_end=240:scene=8.2"));
      } else if (converter == "mcinterpolate") {
        steps.push_back(
            Graph("minterpolate=fps=" + r + ":mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"));
      } else {
        return Status::InvalidArgument("unknown frame-rate converter '" + converter + "'");
      }
    } else {
      // The same rate: fps still puts each frame at its instant of the
      // constant-rate output, repeating or dropping where the timestamps are
      // irregular (variable-rate sources: phones, screen recordings), which
      // keeps the duration and the sync with the audio. A constant-rate
      // source's frames pass one for one.
      steps.push_back(Graph("fps=fps=" + RateString(target)));
    }
  } else {
    // Kept fields, at the source's rate: fps repeats whole frames over a gap
    // in the timestamps (a dropped-frame capture), so each field keeps its
    // order and the pictures their sync: passed one after another, the frames
    // after a 1 s gap would be shown 1 s early, ahead of the sound.
    steps.push_back(Graph("fps=fps=" + RateString(spec.fps)));
  }

  // 7. Film grain, on the frames as they will be shown (before weaving).
  if (spec.post_processor == "filmgrain") {
    steps.push_back(Stage(FilterStageOptions{.name = "filmgrain", .field_aware = keep_fields}));
  } else if (!spec.post_processor.empty()) {
    return Status::InvalidArgument("unknown post-processor '" + spec.post_processor + "'");
  }

  // 7b. Black around a picture of another shape than the frame, added after
  // the grain so the bars stay clean; the offsets are on whole field pairs.
  if (boxed) {
    steps.push_back(Graph("pad=w=" + std::to_string(spec.width) + ":h=" +
                          std::to_string(spec.height) + ":x=" + std::to_string(spec.picture_x) +
                          ":y=" + std::to_string(spec.picture_y) + ":color=black"));
  }

  // 8. Interlace for output: weave, or swap the field order of kept fields.
  if (reinterlace) {
    // Woven in pairs: an odd last picture is paired with a copy of itself
    // (tinterlace alone drops it, and the sound under it would be cut to
    // match); an even count's spare copy is cut with the pictures' end.
    steps.push_back(Graph("tpad=stop_mode=clone:stop=1"));
    steps.push_back(Graph(std::string("tinterlace=mode=") +
                          (spec.top_field_first ? "interleave_top" : "interleave_bottom")));
  } else if (keep_fields && spec.source_top_field_first != spec.top_field_first) {
    // fieldorder moves only frames flagged interlaced in the other order, and
    // archive flags lie (woven fields flagged progressive, or the wrong
    // order): the order ingestion found is stamped first.
    steps.push_back(
        Graph(std::string("setfield=") + (spec.source_top_field_first ? "tff" : "bff")));
    steps.push_back(Graph(std::string("fieldorder=") + (spec.top_field_first ? "tff" : "bff")));
  }

  // 9. Field flags and pixel format for the encoder.
  steps.push_back(Graph(spec.interlaced_output
                            ? std::string("setfield=") + (spec.top_field_first ? "tff" : "bff")
                            : std::string("setfield=prog")));
  if (colour_known && (!spec.source_colour.rgb || spec.output_colour.rgb)) {
    steps.push_back(Graph(ColourConversion(spec.source_colour, spec.output_colour,
                                           spec.pixel_format, spec.interlaced_output)));
  }
  // Interlaced output converts its chroma field by field (4:1:1 DV or 4:2:2
  // to 4:2:0 converted as one picture averages the two fields' colours: red
  // over blue comes out purple in both).
  steps.push_back(Graph(std::string(spec.interlaced_output ? "scale=interl=1," : "") +
                        "format=pix_fmts=" + spec.pixel_format));
  return steps;
}

Status PaintBarsBlack(AVFrame* frame, const TranscodeSpec& spec) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  if (!spec.boxed() || desc == nullptr || (desc->flags & AV_PIX_FMT_FLAG_RGB) ||
      !(desc->flags & AV_PIX_FMT_FLAG_PLANAR) || desc->nb_components < 3) {
    return Status::Ok();
  }
  if (av_frame_make_writable(frame) < 0) {
    return Status::Internal("out of memory making a frame writable for its bars");
  }
  const int depth = desc->comp[0].depth;
  for (int plane = 0; plane < 3; ++plane) {
    const int shift_x = plane == 0 ? 0 : desc->log2_chroma_w;
    const int shift_y = plane == 0 ? 0 : desc->log2_chroma_h;
    const int width = AV_CEIL_RSHIFT(frame->width, shift_x);
    const int height = AV_CEIL_RSHIFT(frame->height, shift_y);
    const int left = spec.picture_x >> shift_x;
    const int right = (spec.picture_x + spec.picture_width) >> shift_x;
    const int top = spec.picture_y >> shift_y;
    const int bottom = (spec.picture_y + spec.picture_height) >> shift_y;
    const int black = (plane == 0 ? 16 : 128) << (depth - 8);
    for (int row = 0; row < height; ++row) {
      uint8_t* line = frame->data[plane] + static_cast<ptrdiff_t>(row) * frame->linesize[plane];
      auto fill = [&](int from, int to) {
        for (int x = from; x < to; ++x) {
          if (depth > 8) {
            reinterpret_cast<uint16_t*>(line)[x] = static_cast<uint16_t>(black);
          } else {
            line[x] = static_cast<uint8_t>(black);
          }
        }
      };
      if (row < top || row >= bottom) {
        fill(0, width);
      } else {
        fill(0, std::min(left, width));
        fill(std::min(right, width), width);
      }
    }
  }
  return Status::Ok();
}

Result<std::string> BuildVideoFilters(const TranscodeSpec& spec, double start_seconds) {
  ASSIGN_OR_RETURN(std::vector<FilterStep> steps, BuildVideoSteps(spec, start_seconds));
  std::string joined;
  for (const FilterStep& step : steps) {
    if (step.stage) {
      return Status::NotImplemented("the '" + step.stage->name +
                                    "' filter is one of Vidmill's own filters, not a libavfilter "
                                    "filter; the chain has no single libavfilter description");
    }
    if (!joined.empty()) joined += ",";
    joined += step.filter;
  }
  return joined;
}

Result<FilterGraph> MakeFilterGraph(const std::string& source_filter,
                                    const std::string& source_args, const std::string& sink_filter,
                                    const std::string& chain, int threads) {
  FilterGraph g;
  ASSIGN_OR_RETURN(g.graph, NewFilterGraph());
  g.graph->nb_threads = threads;
  int ret = avfilter_graph_create_filter(&g.source, avfilter_get_by_name(source_filter.c_str()),
                                         "in", source_args.c_str(), nullptr, g.graph.get());
  if (ret < 0) return AvStatus(ret, "creating the " + source_filter + " source", source_args);
  ret = avfilter_graph_create_filter(&g.sink, avfilter_get_by_name(sink_filter.c_str()), "out",
                                     nullptr, nullptr, g.graph.get());
  if (ret < 0) return AvStatus(ret, "creating the " + sink_filter + " sink");
  FilterInOutPtr outputs(avfilter_inout_alloc());
  FilterInOutPtr inputs(avfilter_inout_alloc());
  if (!outputs || !inputs) return Status::Internal("out of memory building a filter graph");
  outputs->name = av_strdup("in");
  outputs->filter_ctx = g.source;
  outputs->pad_idx = 0;
  outputs->next = nullptr;
  inputs->name = av_strdup("out");
  inputs->filter_ctx = g.sink;
  inputs->pad_idx = 0;
  inputs->next = nullptr;
  AVFilterInOut* in_raw = inputs.release();
  AVFilterInOut* out_raw = outputs.release();
  ret = avfilter_graph_parse_ptr(g.graph.get(), chain.c_str(), &in_raw, &out_raw, nullptr);
  FilterInOutPtr in_rest(in_raw);
  FilterInOutPtr out_rest(out_raw);
  if (ret < 0) return AvStatus(ret, "building the filter graph", chain);
  ret = avfilter_graph_config(g.graph.get(), nullptr);
  if (ret < 0) return AvStatus(ret, "configuring the filter graph", chain);
  return g;
}

Result<std::unique_ptr<VideoFilterChain>> VideoFilterChain::Create(
    const std::vector<FilterStep>& steps, const VideoFormat& input, int threads) {
  std::unique_ptr<VideoFilterChain> chain(new VideoFilterChain(input));
  VideoFormat format = input;
  std::string pending;  // consecutive libavfilter steps, joined
  bool clock_restarted = false;         // by a step of an earlier segment
  bool pending_restarts_clock = false;  // by one of the pending steps
  auto flush_graph = [&]() -> Status {
    if (pending.empty()) return Status::Ok();
    Segment segment;
    segment.input = format;
    segment.clock_restarted = clock_restarted;
    ASSIGN_OR_RETURN(segment.graph,
                     MakeFilterGraph("buffer", BufferArgs(format), "buffersink", pending, threads));
    format = SinkFormat(segment.graph.sink);
    chain->segments_.push_back(std::move(segment));
    pending.clear();
    clock_restarted = clock_restarted || pending_restarts_clock;
    pending_restarts_clock = false;
    return Status::Ok();
  };
  for (const FilterStep& step : steps) {
    if (step.cut_at_pictures_end) {
      RETURN_IF_ERROR(flush_graph());
      Segment segment;
      segment.input = format;
      segment.clock_restarted = clock_restarted;
      segment.cut = true;
      chain->segments_.push_back(std::move(segment));
      continue;
    }
    if (!step.stage) {
      if (!pending.empty()) pending += ",";
      pending += step.filter;
      pending_restarts_clock = pending_restarts_clock || step.restarts_clock;
      continue;
    }
    Segment segment;
    ASSIGN_OR_RETURN(segment.stage, MakeFilterStage(*step.stage));
    const AVPixelFormat wanted = segment.stage->InputPixelFormat(format.pixel_format);
    if (wanted != format.pixel_format) {
      const char* name = av_get_pix_fmt_name(wanted);
      if (name == nullptr) {
        return Status::InvalidArgument("the '" + step.stage->name + "' filter takes no format " +
                                       "the input can be converted to");
      }
      if (!pending.empty()) pending += ",";
      // Field by field for a filter that keeps the fields apart.
      if (step.stage->field_aware) pending += "scale=interl=1,";
      pending += std::string("format=pix_fmts=") + name;
    }
    RETURN_IF_ERROR(flush_graph());
    segment.input = format;
    segment.clock_restarted = clock_restarted;
    Result<VideoFormat> configured = segment.stage->Configure(format);
    if (!configured.ok()) {
      return configured.status().Annotate("configuring the '" + step.stage->name + "' filter");
    }
    format = *configured;
    chain->segments_.push_back(std::move(segment));
  }
  RETURN_IF_ERROR(flush_graph());
  chain->output_ = format;
  return chain;
}

int VideoFilterChain::graph_count() const {
  int count = 0;
  for (const Segment& segment : segments_) count += segment.stage || segment.cut ? 0 : 1;
  return count;
}

int VideoFilterChain::stage_count() const {
  int count = 0;
  for (const Segment& segment : segments_) count += segment.stage ? 1 : 0;
  return count;
}

namespace {

// Sends `frame` (borrowed) into `graph` and each frame that comes out of it
// to `next`; `what` names the work in errors.
Status PassThrough(const FilterGraph& graph, AVFrame* frame, const char* what,
                   const std::function<Status(AVFrame*)>& next) {
  int ret = av_buffersrc_add_frame_flags(graph.source, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
  if (ret < 0) return AvStatus(ret, what);
  ASSIGN_OR_RETURN(FramePtr out, NewFrame());
  while (true) {
    ret = av_buffersink_get_frame(graph.sink, out.get());
    if (ret == AVERROR(EAGAIN)) return Status::Ok();
    if (ret < 0) return AvStatus(ret, what);
    Status status = next(out.get());
    av_frame_unref(out.get());
    RETURN_IF_ERROR(status);
  }
}

// `layout` described ("stereo", "5.1(side)"); an unspecified order as the
// default layout of its channel count.
std::string DescribeLayout(const AVChannelLayout& layout) {
  AVChannelLayout described{};
  if (layout.order == AV_CHANNEL_ORDER_UNSPEC) {
    av_channel_layout_default(&described, layout.nb_channels);
  } else {
    av_channel_layout_copy(&described, &layout);
  }
  char name[128] = {};
  av_channel_layout_describe(&described, name, sizeof(name));
  av_channel_layout_uninit(&described);
  return name;
}

}  // namespace

Status FrameConformer::Push(AVFrame* frame, const std::function<Status(AVFrame*)>& next) {
  if (frame == nullptr || (frame->width == target_.width && frame->height == target_.height &&
                           frame->format == target_.pixel_format)) {
    return next(frame);
  }
  VideoFormat from = target_;
  from.width = frame->width;
  from.height = frame->height;
  from.pixel_format = static_cast<AVPixelFormat>(frame->format);
  if (frame->sample_aspect_ratio.num > 0) from.sample_aspect_ratio = frame->sample_aspect_ratio;
  if (!graph_.graph || from.width != from_.width || from.height != from_.height ||
      from.pixel_format != from_.pixel_format ||
      av_cmp_q(from.sample_aspect_ratio, from_.sample_aspect_ratio) != 0) {
    const char* format_name = av_get_pix_fmt_name(target_.pixel_format);
    if (format_name == nullptr) return Status::Internal("the stream's first frames have no format");
    // interl=-1: fields apart where the frame is flagged interlaced.
    char chain[256];
    std::snprintf(chain, sizeof(chain), "scale=w=%d:h=%d:interl=-1,format=pix_fmts=%s,setsar=%d/%d",
                  target_.width, target_.height, format_name, target_.sample_aspect_ratio.num,
                  target_.sample_aspect_ratio.den);
    ASSIGN_OR_RETURN(graph_, MakeFilterGraph("buffer", BufferArgs(from), "buffersink", chain, 1));
    from_ = from;
  }
  return PassThrough(graph_, frame, "scaling a frame of another size to the stream's", next);
}

AudioConformer::AudioConformer(int sample_rate, AVSampleFormat sample_format,
                               const AVChannelLayout& layout, AVRational time_base)
    : sample_rate_(sample_rate),
      sample_format_(sample_format),
      layout_(DescribeLayout(layout)),
      channels_(layout.nb_channels),
      time_base_(time_base) {}

Status AudioConformer::Push(AVFrame* frame, const std::function<Status(AVFrame*)>& next) {
  if (frame == nullptr) return next(frame);
  const std::string layout = DescribeLayout(frame->ch_layout);
  if (frame->sample_rate == sample_rate_ && frame->format == sample_format_ &&
      frame->ch_layout.nb_channels == channels_ && layout == layout_) {
    return next(frame);
  }
  const char* format_name = av_get_sample_fmt_name(static_cast<AVSampleFormat>(frame->format));
  const char* target_format = av_get_sample_fmt_name(sample_format_);
  if (format_name == nullptr || target_format == nullptr || frame->sample_rate <= 0) {
    return Status::CorruptMedia("an audio frame of unknown format");
  }
  const std::string from = std::to_string(frame->sample_rate) + ":" + format_name + ":" + layout;
  if (!graph_.graph || from != from_) {
    char args[512];
    std::snprintf(args, sizeof(args),
                  "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s", time_base_.num,
                  time_base_.den, frame->sample_rate, format_name, layout.c_str());
    const std::string chain = "aresample=" + std::to_string(sample_rate_) +
                              ",aformat=sample_fmts=" + target_format +
                              ":channel_layouts=" + layout_;
    ASSIGN_OR_RETURN(graph_, MakeFilterGraph("abuffer", args, "abuffersink", chain, 1));
    from_ = from;
  }
  const AVRational out_time_base = av_buffersink_get_time_base(graph_.sink);
  return PassThrough(graph_, frame, "resampling audio of another format to the stream's",
                     [&](AVFrame* resampled) {
                       if (resampled->pts != AV_NOPTS_VALUE) {
                         resampled->pts = av_rescale_q(resampled->pts, out_time_base, time_base_);
                       }
                       return next(resampled);
                     });
}

Status VideoFilterChain::Push(AVFrame* frame, const SinkFn& sink) {
  if (finished_) return Status::Ok();
  return conformer_.Push(frame, [&](AVFrame* conformed) { return PushAt(0, conformed, sink); });
}

Status VideoFilterChain::PushAt(size_t index, AVFrame* frame, const SinkFn& sink) {
  if (index == segments_.size()) {
    if (frame == nullptr) {
      finished_ = true;
      return Status::Ok();
    }
    return sink(frame);
  }
  Segment& segment = segments_[index];
  if (segment.ended) return Status::Ok();  // e.g. frames after a trim's end
  if (segment.cut) {
    if (frame == nullptr) {
      segment.ended = true;
      return PushAt(index + 1, nullptr, sink);
    }
    if (input_end_ != AV_NOPTS_VALUE && frame->pts != AV_NOPTS_VALUE &&
        av_compare_ts(frame->pts, segment.input.time_base, InputEndFor(segment),
                      segments_[0].input.time_base) >= 0) {
      return Status::Ok();  // past the pictures' end
    }
    return PushAt(index + 1, frame, sink);
  }
  if (segment.stage) {
    FramePtr owned;
    if (frame != nullptr) {
      owned.reset(av_frame_clone(frame));
      if (!owned) return Status::Internal("out of memory passing a frame to a filter");
    } else {
      segment.ended = true;
    }
    RETURN_IF_ERROR(segment.stage->Filter(std::move(owned), [&](FramePtr out) -> Status {
      return out ? PushAt(index + 1, out.get(), sink) : Status::Ok();
    }));
    return frame == nullptr ? PushAt(index + 1, nullptr, sink) : Status::Ok();
  }
  int ret;
  if (frame != nullptr) {
    if (frame->pts != AV_NOPTS_VALUE) segment.last_pts = frame->pts;
    ret = av_buffersrc_add_frame_flags(segment.graph.source, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
  } else if (segment.last_pts != AV_NOPTS_VALUE && segment.input.frame_rate.num > 0) {
    // The stream ends where its last frame ends, not where it starts: rate
    // converters and tpad time their last frames from this (as ffmpeg does).
    int64_t end = segment.last_pts +
                  av_rescale_q(1, av_inv_q(segment.input.frame_rate), segment.input.time_base);
    if (input_end_ != AV_NOPTS_VALUE) {
      end = std::max(end, av_rescale_q(InputEndFor(segment), segments_[0].input.time_base,
                                       segment.input.time_base));
    }
    ret = av_buffersrc_close(segment.graph.source, end, AV_BUFFERSRC_FLAG_PUSH);
  } else {
    ret = av_buffersrc_add_frame_flags(segment.graph.source, nullptr, 0);
  }
  if (ret < 0 && ret != AVERROR_EOF) return AvStatus(ret, "filtering video");
  ASSIGN_OR_RETURN(FramePtr filtered, NewFrame());
  while (true) {
    ret = av_buffersink_get_frame(segment.graph.sink, filtered.get());
    if (ret == AVERROR(EAGAIN)) return Status::Ok();
    if (ret == AVERROR_EOF) {
      segment.ended = true;
      return PushAt(index + 1, nullptr, sink);
    }
    if (ret < 0) return AvStatus(ret, "filtering video");
    Status status = PushAt(index + 1, filtered.get(), sink);
    av_frame_unref(filtered.get());
    RETURN_IF_ERROR(status);
  }
}

}  // namespace vidmill::engine
