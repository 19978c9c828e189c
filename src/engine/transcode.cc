// The processing pipeline. One pass over the input: packets are decoded,
// pushed through the video (and audio) filter graphs, encoded and muxed as
// they come, so memory stays bounded by the codecs' own buffers whatever the
// length of the video. Timestamps: the video graph's sink time base is the
// output frame rate's inverse after the rate stage; frames are re-stamped
// with a running counter when the output is constant-rate, which every
// mezzanine container wants.

#include "engine/transcode.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include "engine/av_error.h"

namespace vidmill::engine {
namespace {

bool SameRate(double a, double b) { return std::fabs(a - b) < 0.01; }

std::string Seconds(double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", seconds);
  return buf;
}

bool IsOwnFilter(const std::string& name) {
  return name == "deint" || name == "denoise" || name == "dejit" || name == "pabsr1" ||
         name == "dvres" || name == "filmgrain";
}

Status OwnFilterMissing(const std::string& name) {
  return Status::NotImplemented("the '" + name +
                                "' filter arrives with Vidmill's own restoration filters and is "
                                "not built yet; choose a stock filter instead");
}

// A filter graph with one buffer source and one buffer sink.
struct Graph {
  FilterGraphPtr graph;
  AVFilterContext* source = nullptr;
  AVFilterContext* sink = nullptr;
};

Result<Graph> MakeGraph(const std::string& source_filter, const std::string& source_args,
                        const std::string& sink_filter, const std::string& chain, int threads) {
  Graph g;
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

struct OutputFormat {
  const char* muxer;
  bool pcm_audio;  // PCM 24-bit (mov, mxf) or AAC (mp4, mts)
};

Result<OutputFormat> FormatFor(const std::string& container) {
  if (container == "mov") return OutputFormat{"mov", true};
  if (container == "mxf") return OutputFormat{"mxf", true};
  if (container == "mp4") return OutputFormat{"mp4", false};
  if (container == "mts") return OutputFormat{"mpegts", false};
  return Status::InvalidArgument("unknown container '" + container + "'");
}

int ProresProfileIndex(const std::string& profile) {
  if (profile == "proxy") return 0;
  if (profile == "lt") return 1;
  if (profile == "hq") return 3;
  if (profile == "4444") return 4;
  if (profile == "4444xq") return 5;
  return 2;  // standard
}

// Opens the video encoder for the spec, with every rate-control and
// field-order setting explicit.
Result<CodecContextPtr> OpenVideoEncoder(const TranscodeSpec& spec, AVRational frame_rate,
                                         bool global_header) {
  std::string encoder_name = spec.codec == "h264"    ? "libx264"
                             : spec.codec == "hevc"  ? "libx265"
                             : spec.codec == "prores" ? "prores_ks"
                             : spec.codec == "dnxhd" ? "dnxhd"
                             : spec.codec == "ffv1"  ? "ffv1"
                                                     : "mpeg2video";  // mpeg2, xdcam
  const AVCodec* codec = avcodec_find_encoder_by_name(encoder_name.c_str());
  if (codec == nullptr) return Status::Internal("encoder " + encoder_name + " is not available");
  ASSIGN_OR_RETURN(CodecContextPtr ctx, NewCodecContext(codec));
  ctx->width = spec.width;
  ctx->height = spec.height;
  ctx->pix_fmt = av_get_pix_fmt(spec.pixel_format.c_str());
  if (ctx->pix_fmt == AV_PIX_FMT_NONE) {
    return Status::InvalidArgument("unknown pixel format " + spec.pixel_format);
  }
  ctx->time_base = av_inv_q(frame_rate);
  ctx->framerate = frame_rate;
  ctx->sample_aspect_ratio = AVRational{1, 1};
  ctx->thread_count = spec.threads;
  if (global_header) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (spec.interlaced_output) {
    ctx->flags |= AV_CODEC_FLAG_INTERLACED_DCT;
    ctx->field_order = spec.top_field_first ? AV_FIELD_TT : AV_FIELD_BB;
  } else {
    ctx->field_order = AV_FIELD_PROGRESSIVE;
  }
  AvDictionary options;
  int64_t bitrate = spec.bitrate_mbps ? static_cast<int64_t>(std::llround(*spec.bitrate_mbps * 1e6)) : 0;
  if (spec.codec == "h264" || spec.codec == "hevc") {
    ctx->bit_rate = bitrate;
    ctx->rc_max_rate = bitrate * 3 / 2;
    ctx->rc_buffer_size = static_cast<int>(std::min<int64_t>(bitrate * 2, INT32_MAX));
    ctx->gop_size = static_cast<int>(std::lround(av_q2d(frame_rate) * 2));
    options.Set("preset", "medium");
    if (spec.codec == "h264" && spec.interlaced_output) {
      options.Set("x264-params", spec.top_field_first ? "interlaced=1:tff=1" : "interlaced=1:bff=1");
    }
    if (spec.codec == "hevc") options.Set("x265-params", "log-level=error");
  } else if (spec.codec == "prores") {
    options.Set("profile", std::to_string(ProresProfileIndex(spec.profile)).c_str());
    options.Set("vendor", "apl0");
    // Quantiser mode: several times faster than prores_ks's bitrate search.
    int quantiser = spec.profile == "proxy" || spec.profile == "lt" ? 11 : 6;
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = FF_QP2LAMBDA * quantiser;
  } else if (spec.codec == "dnxhd") {
    bool hr = spec.profile.rfind("dnxhr_", 0) == 0;
    options.Set("profile", hr ? spec.profile.c_str() : "dnxhd");
    if (!hr) ctx->bit_rate = bitrate;
  } else if (spec.codec == "ffv1") {
    options.Set("level", "3");
    options.Set("slicecrc", "1");
    options.Set("slices", "4");
    options.Set("coder", "range_def");
    options.Set("context", "1");
    ctx->gop_size = 1;
  } else {  // mpeg2, xdcam
    ctx->bit_rate = bitrate;
    ctx->rc_max_rate = spec.codec == "xdcam" ? bitrate : bitrate * 3 / 2;
    ctx->rc_min_rate = spec.codec == "xdcam" ? bitrate : 0;
    ctx->rc_buffer_size = spec.codec == "xdcam" ? 17'825'792 : static_cast<int>(bitrate);
    ctx->rc_initial_buffer_occupancy = ctx->rc_buffer_size * 3 / 4;
    ctx->gop_size = 12;
    ctx->max_b_frames = 2;
    if (spec.interlaced_output) ctx->flags |= AV_CODEC_FLAG_INTERLACED_ME;
    if (spec.codec == "xdcam") {
      ctx->profile = 0;  // 4:2:2 profile
      ctx->level = 2;    // high level
      ctx->intra_dc_precision = 2;  // 10 bits
      options.Set("non_linear_quant", "1");
      ctx->qmin = 1;
      ctx->qmax = 12;
      options.Set("intra_vlc", "1");
    } else if (ctx->pix_fmt == AV_PIX_FMT_YUV422P) {
      ctx->profile = 0;
    }
  }
  int ret = avcodec_open2(ctx.get(), codec, options.address());
  if (ret < 0) {
    return AvStatus(ret, "opening the " + encoder_name + " encoder (" + std::to_string(spec.width) +
                             "x" + std::to_string(spec.height) + ", " + spec.pixel_format + ")");
  }
  return ctx;
}

class Pipeline {
 public:
  Pipeline(const TranscodeSpec& spec, const TranscodeProgressFn& progress, const CancelFn& cancel)
      : spec_(spec), progress_(progress), cancel_(cancel) {}

  Result<TranscodeResult> Run(const std::string& input_path, const std::string& output_path,
                              const MediaLimits& limits) {
    ASSIGN_OR_RETURN(input_, MediaInput::Open(input_path, limits, cancel_));
    AVStream* video_in = input_->video_stream();
    ASSIGN_OR_RETURN(video_decoder_, OpenDecoder(video_in, limits, spec_.threads));
    double start_time = video_in->start_time != AV_NOPTS_VALUE
                            ? video_in->start_time * av_q2d(video_in->time_base)
                            : 0.0;
    if (input_->format()->start_time != AV_NOPTS_VALUE) {
      start_time = static_cast<double>(input_->format()->start_time) / AV_TIME_BASE;
    }
    ASSIGN_OR_RETURN(std::string chain, BuildVideoFilters(spec_, start_time));
    RETURN_IF_ERROR(SetUpVideoGraph(chain));
    bool audio = spec_.keep_audio && input_->audio_stream() != nullptr;
    if (audio) {
      Status audio_ok = SetUpAudio(start_time, limits);
      if (!audio_ok.ok()) return audio_ok;
    }
    RETURN_IF_ERROR(SetUpOutput(output_path, audio));
    expected_seconds_ = spec_.has_range ? (spec_.end_ms - spec_.start_ms) / 1000.0
                                        : std::max(0.001, static_cast<double>(input_->format()->duration) / AV_TIME_BASE);
    if (spec_.has_range && spec_.start_ms > 2000) {
      // Land on a keyframe a little before the clip; trim drops the rest.
      double seek_to = start_time + spec_.start_ms / 1000.0 - 1.0;
      int64_t ts = static_cast<int64_t>(seek_to / av_q2d(video_in->time_base));
      RETURN_IF_ERROR(input_->SeekTo(input_->video_stream_index(), ts));
    }
    started_ = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(Pump());
    int ret = av_write_trailer(output_.get());
    if (ret < 0) return AvStatus(ret, "finishing the output file");
    if (output_->pb) avio_flush(output_->pb);
    TranscodeResult result;
    result.video_frames = frames_written_;
    result.duration_seconds = frames_written_ / av_q2d(output_rate_);
    result.has_audio = audio;
    return result;
  }

 private:
  Status SetUpVideoGraph(const std::string& chain) {
    AVStream* in = input_->video_stream();
    AVRational sar = video_decoder_->sample_aspect_ratio.num > 0 ? video_decoder_->sample_aspect_ratio
                                                                   : AVRational{1, 1};
    AVRational rate = av_guess_frame_rate(input_->format(), in, nullptr);
    if (rate.num <= 0) rate = RateRational(spec_.source_fps);
    char args[512];
    std::snprintf(args, sizeof(args),
                  "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d:frame_rate=%d/%d",
                  video_decoder_->width, video_decoder_->height, video_decoder_->pix_fmt,
                  in->time_base.num, in->time_base.den, sar.num, sar.den, rate.num, rate.den);
    ASSIGN_OR_RETURN(video_graph_, MakeGraph("buffer", args, "buffersink", chain, spec_.threads));
    return Status::Ok();
  }

  Status SetUpAudio(double start_time, const MediaLimits& limits) {
    AVStream* in = input_->audio_stream();
    ASSIGN_OR_RETURN(audio_decoder_, OpenDecoder(in, limits, 1));
    if (audio_decoder_->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
      av_channel_layout_default(&audio_decoder_->ch_layout, audio_decoder_->ch_layout.nb_channels);
    }
    char layout[128];
    av_channel_layout_describe(&audio_decoder_->ch_layout, layout, sizeof(layout));
    char args[512];
    std::snprintf(args, sizeof(args),
                  "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s", 1,
                  audio_decoder_->sample_rate, audio_decoder_->sample_rate,
                  av_get_sample_fmt_name(audio_decoder_->sample_fmt), layout);
    ASSIGN_OR_RETURN(OutputFormat format, FormatFor(spec_.container));
    const char* encoder_name = format.pcm_audio ? "pcm_s24le" : "aac";
    const AVCodec* codec = avcodec_find_encoder_by_name(encoder_name);
    if (codec == nullptr) return Status::Internal(std::string("no ") + encoder_name + " encoder");
    ASSIGN_OR_RETURN(audio_encoder_, NewCodecContext(codec));
    int channels = std::min(audio_decoder_->ch_layout.nb_channels, 8);
    av_channel_layout_default(&audio_encoder_->ch_layout, channels);
    audio_encoder_->sample_rate = 48000;
    audio_encoder_->sample_fmt = format.pcm_audio ? AV_SAMPLE_FMT_S32 : AV_SAMPLE_FMT_FLTP;
    audio_encoder_->time_base = AVRational{1, 48000};
    if (!format.pcm_audio) audio_encoder_->bit_rate = 96'000 * std::min(channels, 2) + 64'000 * std::max(0, channels - 2);
    audio_encoder_->bits_per_raw_sample = 24;
    std::string chain;
    audio_start_ = start_time;
    audio_time_base_ = AVRational{1, audio_decoder_->sample_rate};
    if (spec_.has_range) {
      chain = "atrim=start=" + Seconds(start_time + spec_.start_ms / 1000.0) +
              ":end=" + Seconds(start_time + spec_.end_ms / 1000.0) + ",";
    }
    char out_layout[128];
    av_channel_layout_describe(&audio_encoder_->ch_layout, out_layout, sizeof(out_layout));
    chain += "asetpts=PTS-STARTPTS,aresample=48000,aformat=sample_fmts=" +
             std::string(av_get_sample_fmt_name(audio_encoder_->sample_fmt)) +
             ":channel_layouts=" + out_layout;
    // The buffer source's time base is 1/sample_rate; frames are stamped in it.
    ASSIGN_OR_RETURN(audio_graph_, MakeGraph("abuffer", args, "abuffersink", chain, 1));
    return Status::Ok();
  }

  Status SetUpOutput(const std::string& path, bool audio) {
    ASSIGN_OR_RETURN(OutputFormat format, FormatFor(spec_.container));
    AVFormatContext* raw = nullptr;
    int ret = avformat_alloc_output_context2(&raw, nullptr, format.muxer, path.c_str());
    if (ret < 0 || raw == nullptr) return AvStatus(ret, "creating the output container");
    output_.reset(raw);
    output_rate_ = RateRational(spec_.fps);
    bool global_header = output_->oformat->flags & AVFMT_GLOBALHEADER;
    ASSIGN_OR_RETURN(video_encoder_, OpenVideoEncoder(spec_, output_rate_, global_header));
    AVStream* video_out = avformat_new_stream(output_.get(), nullptr);
    if (video_out == nullptr) return Status::Internal("cannot add the video stream");
    ret = avcodec_parameters_from_context(video_out->codecpar, video_encoder_.get());
    if (ret < 0) return AvStatus(ret, "describing the video stream");
    video_out->time_base = video_encoder_->time_base;
    video_out->avg_frame_rate = output_rate_;
    video_out->r_frame_rate = output_rate_;
    video_out->sample_aspect_ratio = AVRational{1, 1};
    video_stream_ = video_out->index;
    if (audio) {
      if (global_header) audio_encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
      ret = avcodec_open2(audio_encoder_.get(), audio_encoder_->codec, nullptr);
      if (ret < 0) return AvStatus(ret, "opening the audio encoder");
      if (audio_encoder_->frame_size > 0 &&
          !(audio_encoder_->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE)) {
        av_buffersink_set_frame_size(audio_graph_.sink, audio_encoder_->frame_size);
      }
      AVStream* audio_out = avformat_new_stream(output_.get(), nullptr);
      if (audio_out == nullptr) return Status::Internal("cannot add the audio stream");
      ret = avcodec_parameters_from_context(audio_out->codecpar, audio_encoder_.get());
      if (ret < 0) return AvStatus(ret, "describing the audio stream");
      audio_out->time_base = audio_encoder_->time_base;
      audio_stream_ = audio_out->index;
    }
    ret = avio_open(&output_->pb, path.c_str(), AVIO_FLAG_WRITE);
    if (ret < 0) return AvStatus(ret, "creating " + path);
    AvDictionary options;
    if (spec_.container == "mp4" || spec_.container == "mov") options.Set("movflags", "+faststart");
    ret = avformat_write_header(output_.get(), options.address());
    if (ret < 0) return AvStatus(ret, "writing the output header");
    return Status::Ok();
  }

  Status Pump() {
    ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
    ASSIGN_OR_RETURN(FramePtr frame, NewFrame());
    bool eof = false;
    while (!eof && !video_done_) {
      if (cancel_ && cancel_()) return Status::Cancelled("processing was cancelled");
      RETURN_IF_ERROR(input_->ReadPacket(packet.get(), &eof));
      if (eof) break;
      if (packet->stream_index == input_->video_stream_index()) {
        RETURN_IF_ERROR(Decode(video_decoder_.get(), packet.get(), frame.get(), true));
      } else if (audio_graph_.graph && packet->stream_index == input_->audio_stream_index()) {
        RETURN_IF_ERROR(Decode(audio_decoder_.get(), packet.get(), frame.get(), false));
      }
      av_packet_unref(packet.get());
    }
    // Drain decoders, graphs and encoders.
    RETURN_IF_ERROR(Decode(video_decoder_.get(), nullptr, frame.get(), true));
    RETURN_IF_ERROR(PushVideo(nullptr));
    RETURN_IF_ERROR(Encode(video_encoder_.get(), nullptr, video_stream_));
    if (audio_graph_.graph) {
      RETURN_IF_ERROR(Decode(audio_decoder_.get(), nullptr, frame.get(), false));
      RETURN_IF_ERROR(PushAudio(nullptr));
      RETURN_IF_ERROR(Encode(audio_encoder_.get(), nullptr, audio_stream_));
    }
    return Status::Ok();
  }

  Status Decode(AVCodecContext* decoder, AVPacket* packet, AVFrame* frame, bool video) {
    int ret = avcodec_send_packet(decoder, packet);
    if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR(EAGAIN)) {
      if (ret == AVERROR_INVALIDDATA) return Status::Ok();  // a damaged packet: skip it
      return AvStatus(ret, video ? "decoding video" : "decoding audio");
    }
    while (true) {
      ret = avcodec_receive_frame(decoder, frame);
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return Status::Ok();
      if (ret < 0) {
        if (ret == AVERROR_INVALIDDATA) continue;
        return AvStatus(ret, video ? "decoding video" : "decoding audio");
      }
      frame->pts = frame->best_effort_timestamp;
      Status status = video ? PushVideo(frame) : PushAudio(frame);
      av_frame_unref(frame);
      RETURN_IF_ERROR(status);
    }
  }

  Status PushVideo(AVFrame* frame) {
    if (video_done_ && frame != nullptr) return Status::Ok();
    int ret = av_buffersrc_add_frame_flags(video_graph_.source, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0 && ret != AVERROR_EOF) return AvStatus(ret, "filtering video");
    ASSIGN_OR_RETURN(FramePtr filtered, NewFrame());
    while (true) {
      ret = av_buffersink_get_frame(video_graph_.sink, filtered.get());
      if (ret == AVERROR(EAGAIN)) return Status::Ok();
      if (ret == AVERROR_EOF) {
        video_done_ = true;
        return Status::Ok();
      }
      if (ret < 0) return AvStatus(ret, "filtering video");
      filtered->pts = frames_written_;  // constant-rate output
      filtered->pict_type = AV_PICTURE_TYPE_NONE;
      filtered->sample_aspect_ratio = AVRational{1, 1};
      if (spec_.interlaced_output) {
        filtered->interlaced_frame = 1;
        filtered->top_field_first = spec_.top_field_first ? 1 : 0;
      }
      Status status = Encode(video_encoder_.get(), filtered.get(), video_stream_);
      av_frame_unref(filtered.get());
      RETURN_IF_ERROR(status);
      frames_written_++;
      ReportProgress(frames_written_ / av_q2d(output_rate_));
    }
  }

  Status PushAudio(AVFrame* frame) {
    if (frame != nullptr) {
      // Stamp in 1/sample_rate (the abuffer's time base).
      AVRational tb = input_->audio_stream()->time_base;
      frame->pts = frame->pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE
                                                : av_rescale_q(frame->pts, tb, audio_time_base_);
    }
    int ret = av_buffersrc_add_frame_flags(audio_graph_.source, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0 && ret != AVERROR_EOF) return AvStatus(ret, "filtering audio");
    ASSIGN_OR_RETURN(FramePtr filtered, NewFrame());
    while (true) {
      ret = av_buffersink_get_frame(audio_graph_.sink, filtered.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return Status::Ok();
      if (ret < 0) return AvStatus(ret, "filtering audio");
      filtered->pts = audio_samples_;
      audio_samples_ += filtered->nb_samples;
      Status status = Encode(audio_encoder_.get(), filtered.get(), audio_stream_);
      av_frame_unref(filtered.get());
      RETURN_IF_ERROR(status);
    }
  }

  Status Encode(AVCodecContext* encoder, AVFrame* frame, int stream_index) {
    int ret = avcodec_send_frame(encoder, frame);
    if (ret < 0 && ret != AVERROR_EOF) return AvStatus(ret, "encoding");
    ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
    while (true) {
      ret = avcodec_receive_packet(encoder, packet.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return Status::Ok();
      if (ret < 0) return AvStatus(ret, "encoding");
      packet->stream_index = stream_index;
      av_packet_rescale_ts(packet.get(), encoder->time_base,
                           output_->streams[stream_index]->time_base);
      ret = av_interleaved_write_frame(output_.get(), packet.get());
      if (ret < 0) return AvStatus(ret, "writing the output file");
    }
  }

  void ReportProgress(double output_seconds) {
    if (!progress_) return;
    double fraction = std::clamp(output_seconds / expected_seconds_, 0.0, 1.0);
    TranscodeProgress report;
    report.fraction = fraction;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (fraction > 0.01) report.eta_seconds = elapsed * (1 - fraction) / fraction;
    progress_(report);
  }

  const TranscodeSpec& spec_;
  const TranscodeProgressFn& progress_;
  const CancelFn& cancel_;
  std::unique_ptr<MediaInput> input_;
  CodecContextPtr video_decoder_;
  CodecContextPtr audio_decoder_;
  CodecContextPtr video_encoder_;
  CodecContextPtr audio_encoder_;
  Graph video_graph_;
  Graph audio_graph_;
  FormatOutputPtr output_;
  AVRational output_rate_{25, 1};
  AVRational audio_time_base_{1, 48000};
  double audio_start_ = 0;
  int video_stream_ = -1;
  int audio_stream_ = -1;
  int64_t frames_written_ = 0;
  int64_t audio_samples_ = 0;
  bool video_done_ = false;
  double expected_seconds_ = 1;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

AVRational RateRational(double fps) {
  // NTSC rates are exact multiples of 1000/1001.
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

Result<std::string> BuildVideoFilters(const TranscodeSpec& spec, double start_seconds) {
  std::vector<std::string> chain;
  if (spec.has_range) {
    chain.push_back("trim=start=" + Seconds(start_seconds + spec.start_ms / 1000.0) +
                    ":end=" + Seconds(start_seconds + spec.end_ms / 1000.0));
  }
  chain.push_back("setpts=PTS-STARTPTS");
  // Interlaced in, interlaced out, no deinterlacer: keep the fields as they are.
  bool keep_fields = spec.interlaced_output && spec.deinterlacer.empty() && spec.source_interlaced;
  double rate = spec.source_fps;
  const std::string parity = spec.source_top_field_first ? "tff" : "bff";
  if (!spec.deinterlacer.empty()) {
    if (IsOwnFilter(spec.deinterlacer)) return OwnFilterMissing(spec.deinterlacer);
    std::string mode = spec.deinterlace_field_rate ? "send_field" : "send_frame";
    if (spec.deinterlacer == "yadif") {
      chain.push_back("yadif=mode=" + mode + ":parity=" + parity + ":deint=all");
    } else if (spec.deinterlacer == "bwdif") {
      chain.push_back("bwdif=mode=" + mode + ":parity=" + parity + ":deint=all");
    } else if (spec.deinterlacer == "weston3f") {
      chain.push_back(std::string("w3fdif=filter=complex:mode=") +
                      (spec.deinterlace_field_rate ? "field" : "frame") + ":parity=" + parity +
                      ":deint=all");
    } else {
      return Status::InvalidArgument("unknown deinterlacer '" + spec.deinterlacer + "'");
    }
    if (spec.deinterlace_field_rate) rate *= 2;
  }
  if (!spec.denoiser.empty()) {
    if (IsOwnFilter(spec.denoiser)) return OwnFilterMissing(spec.denoiser);
    if (spec.denoiser != "hqdn3d") return Status::InvalidArgument("unknown denoiser " + spec.denoiser);
    chain.push_back("hqdn3d=luma_spatial=4:chroma_spatial=3:luma_tmp=6:chroma_tmp=4.5");
  }
  bool resize = spec.width != spec.source_width || spec.height != spec.source_height;
  if (!spec.scaler.empty() || resize) {
    std::string scaler = spec.scaler.empty() ? "scale" : spec.scaler;
    if (IsOwnFilter(scaler)) return OwnFilterMissing(scaler);
    if (scaler != "scale") return Status::InvalidArgument("unknown scaler " + scaler);
    chain.push_back("scale=w=" + std::to_string(spec.width) + ":h=" + std::to_string(spec.height) +
                    ":flags=bicubic" + (keep_fields ? ":interl=1" : ""));
  }
  chain.push_back("setsar=1");
  if (!keep_fields) {
    // A deinterlaced source going back to interlaced output is rebuilt from
    // frames at twice the frame rate, one field from each; progressive material
    // becomes interlaced as segmented frames (both fields from one instant).
    bool reinterlace = spec.interlaced_output && !spec.deinterlacer.empty();
    double target = reinterlace ? 2 * spec.fps : spec.fps;
    if (!SameRate(rate, target) || !spec.frame_rate_converter.empty()) {
      std::string converter = spec.frame_rate_converter.empty() ? "fps" : spec.frame_rate_converter;
      std::string r = RateString(target);
      if (converter == "fps") {
        chain.push_back("fps=fps=" + r);
      } else if (converter == "fblend") {
        chain.push_back("framerate=fps=" + r + ":interp_start=15:interp_end=240:scene=8.2");
      } else if (converter == "mcinterpolate") {
        chain.push_back("minterpolate=fps=" + r +
                        ":mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1");
      } else {
        return Status::InvalidArgument("unknown frame-rate converter " + converter);
      }
    }
    if (reinterlace) {
      chain.push_back(std::string("tinterlace=mode=") +
                      (spec.top_field_first ? "interleave_top" : "interleave_bottom"));
    }
  } else if (spec.source_top_field_first != spec.top_field_first) {
    chain.push_back(std::string("fieldorder=") + (spec.top_field_first ? "tff" : "bff"));
  }
  if (spec.interlaced_output) {
    chain.push_back(std::string("setfield=") + (spec.top_field_first ? "tff" : "bff"));
  } else {
    chain.push_back("setfield=prog");
  }
  chain.push_back("format=pix_fmts=" + spec.pixel_format);
  std::string joined;
  for (const std::string& step : chain) {
    if (!joined.empty()) joined += ",";
    joined += step;
  }
  return joined;
}

Result<TranscodeResult> Transcode(const std::string& input_path, const std::string& output_path,
                                  const TranscodeSpec& spec, const MediaLimits& limits,
                                  const TranscodeProgressFn& progress, const CancelFn& cancel) {
  AvLogCapture capture;
  Result<TranscodeResult> result = [&]() -> Result<TranscodeResult> {
    Pipeline pipeline(spec, progress, cancel);
    return pipeline.Run(input_path, output_path, limits);
  }();
  if (!result.ok()) {
    std::error_code ignored;
    std::filesystem::remove(output_path, ignored);
  }
  return result;
}

}  // namespace vidmill::engine
