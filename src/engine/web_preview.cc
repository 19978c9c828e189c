#include "engine/web_preview.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/av_error.h"
#include "engine/encoders.h"
#include "engine/filter_graph.h"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace vidmill::engine {
namespace {

// A linear filter graph: source → description → sink.
struct FilterChain {
  FilterGraphPtr graph;
  AVFilterContext* source = nullptr;  // owned by graph
  AVFilterContext* sink = nullptr;    // owned by graph
};

Result<FilterChain> BuildChain(const char* source_name, const std::string& source_args,
                               const std::string& description, const char* sink_name) {
  FilterChain chain;
  ASSIGN_OR_RETURN(chain.graph, NewFilterGraph());
  AvLogCapture capture;
  int ret = avfilter_graph_create_filter(&chain.source, avfilter_get_by_name(source_name), "in",
                                         source_args.c_str(), nullptr, chain.graph.get());
  if (ret < 0) {
    return AvStatus(ret, "web preview: creating the filter source", capture.first_error());
  }
  ret = avfilter_graph_create_filter(&chain.sink, avfilter_get_by_name(sink_name), "out", nullptr,
                                     nullptr, chain.graph.get());
  if (ret < 0) {
    return AvStatus(ret, "web preview: creating the filter sink", capture.first_error());
  }
  FilterInOutPtr outputs(avfilter_inout_alloc());
  FilterInOutPtr inputs(avfilter_inout_alloc());
  if (!outputs || !inputs) {
    return Status::Internal("out of memory allocating filter pads");
  }
  outputs->name = av_strdup("in");
  outputs->filter_ctx = chain.source;
  inputs->name = av_strdup("out");
  inputs->filter_ctx = chain.sink;
  AVFilterInOut* in = inputs.release();
  AVFilterInOut* out = outputs.release();
  ret = avfilter_graph_parse_ptr(chain.graph.get(), description.c_str(), &in, &out, nullptr);
  inputs.reset(in);
  outputs.reset(out);
  if (ret < 0) {
    return AvStatus(ret, "web preview: parsing '" + description + "'", capture.first_error());
  }
  ret = avfilter_graph_config(chain.graph.get(), nullptr);
  if (ret < 0) {
    return AvStatus(ret, "web preview: configuring '" + description + "'", capture.first_error());
  }
  return chain;
}

// One output stream: decoder → filters → encoder → muxer.
struct Lane {
  int input_index = -1;
  AVRational input_time_base{1, 1};
  int64_t start_offset = 0;                 // subtracted from input timestamps (input time base)
  int64_t next_pts = 0;                     // for frames without a timestamp (input time base)
  int64_t last_video_pts = AV_NOPTS_VALUE;  // the last video frame sent on (input time base)
  int64_t next_audio_pts = AV_NOPTS_VALUE;  // where the audio sent on so far ends (filter output)
  AVRational frame_rate{0, 1};              // video only
  CodecContextPtr decoder;
  FilterChain filters;
  CodecContextPtr encoder;
  AVStream* output = nullptr;  // owned by the muxer
};

class PreviewWriter {
 public:
  PreviewWriter(MediaInput& input, const WebPreviewOptions& options)
      : input_(input), options_(options) {}

  Status Run(const std::string& path, const std::function<void(double)>& on_progress);

 private:
  Status OpenVideo();
  Status OpenAudio();
  Status OpenEncoder(Lane& lane, const AVCodec* codec, AvDictionary& options);
  // Decodes `packet` (nullptr: flush) on `lane` and pushes frames through.
  Status Decode(Lane& lane, const AVPacket* packet);
  Status Filter(Lane& lane, AVFrame* frame);  // frame nullptr: flush
  Status Encode(Lane& lane, AVFrame* frame);  // frame nullptr: flush
  Status Write(Lane& lane);

  MediaInput& input_;
  const WebPreviewOptions& options_;
  FormatOutputPtr muxer_;
  Lane video_;
  Lane audio_;
  bool has_audio_ = false;
  FramePtr decoded_;
  FramePtr filtered_;
  // Hold the video and the audio to their first frames' formats.
  std::unique_ptr<FrameConformer> conformer_;
  std::unique_ptr<AudioConformer> audio_conformer_;
  PacketPtr encoded_;
  int64_t video_duration_ = 0;  // input time base, for progress
  double progress_ = 0;
};

Status PreviewWriter::OpenEncoder(Lane& lane, const AVCodec* codec, AvDictionary& options) {
  if (muxer_->oformat->flags & AVFMT_GLOBALHEADER) {
    lane.encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  }
  AvLogCapture capture;
  int ret = avcodec_open2(lane.encoder.get(), codec, options.address());
  if (ret < 0) {
    return AvStatus(ret, std::string("web preview: opening the ") + codec->name + " encoder",
                    capture.first_error());
  }
  lane.output = avformat_new_stream(muxer_.get(), nullptr);
  if (lane.output == nullptr) {
    return Status::Internal("out of memory adding an output stream");
  }
  ret = avcodec_parameters_from_context(lane.output->codecpar, lane.encoder.get());
  if (ret < 0) {
    return AvStatus(ret, "web preview: stream parameters");
  }
  lane.output->time_base = lane.encoder->time_base;
  return Status::Ok();
}

Status PreviewWriter::OpenVideo() {
  AVStream* stream = input_.video_stream();
  video_.input_index = input_.video_stream_index();
  video_.input_time_base = stream->time_base;
  ASSIGN_OR_RETURN(video_.decoder, OpenDecoder(stream, input_.limits()));
  const AVCodecParameters* par = stream->codecpar;
  AVRational sar =
      stream->sample_aspect_ratio.num > 0 ? stream->sample_aspect_ratio : par->sample_aspect_ratio;
  if (sar.num <= 0 || sar.den <= 0) {
    sar = AVRational{1, 1};
  }
  // Shown upright: a stream stored turned (a display matrix) is turned back.
  const int rotation = UprightRotation(stream);
  const PictureShape shown = Turned(rotation, par->width, par->height, sar);
  int width = 0;
  int height = 0;
  WebPreviewSize(shown.width, shown.height, shown.sar, options_.max_height, &width, &height);
  std::string upright = UprightFilter(rotation);
  if (!upright.empty()) upright += ",";

  std::string deinterlace;
  if (options_.scanning.interlaced()) {
    deinterlace = std::string("bwdif=mode=send_frame:deint=all:parity=") +
                  (options_.scanning.field_order == FieldOrder::kBottomFieldFirst ? "bff" : "tff") +
                  ",";
  }
  // The decoder's pixel format is known once it has opened (or from the stream).
  AVPixelFormat pix_fmt = video_.decoder->pix_fmt != AV_PIX_FMT_NONE
                              ? video_.decoder->pix_fmt
                              : static_cast<AVPixelFormat>(par->format);
  const char* pix_fmt_name = av_get_pix_fmt_name(pix_fmt);
  if (pix_fmt_name == nullptr) {
    return Status::CorruptMedia("web preview: the video's pixel format is unknown");
  }
  std::string source_args =
      "video_size=" + std::to_string(par->width) + "x" + std::to_string(par->height) +
      ":pix_fmt=" + pix_fmt_name + ":time_base=" + std::to_string(stream->time_base.num) + "/" +
      std::to_string(stream->time_base.den) + ":pixel_aspect=" + std::to_string(sar.num) + "/" +
      std::to_string(sar.den);
  std::string description = deinterlace + upright + "scale=" + std::to_string(width) + ":" +
                            std::to_string(height) + ":flags=bicubic,setsar=1,format=yuv420p";
  ASSIGN_OR_RETURN(video_.filters, BuildChain("buffer", source_args, description, "buffersink"));
  VideoFormat source_format;
  source_format.width = par->width;
  source_format.height = par->height;
  source_format.pixel_format = pix_fmt;
  source_format.time_base = stream->time_base;
  source_format.sample_aspect_ratio = sar;
  conformer_ = std::make_unique<FrameConformer>(source_format);

  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (codec == nullptr) {
    return Status::Internal("web preview: this libavcodec has no libx264 encoder");
  }
  ASSIGN_OR_RETURN(video_.encoder, NewCodecContext(codec));
  video_.encoder->width = width;
  video_.encoder->height = height;
  video_.encoder->pix_fmt = AV_PIX_FMT_YUV420P;
  video_.encoder->sample_aspect_ratio = AVRational{1, 1};
  video_.encoder->time_base = av_buffersink_get_time_base(video_.filters.sink);
  AVRational rate = stream->avg_frame_rate.num > 0 ? stream->avg_frame_rate : stream->r_frame_rate;
  if (rate.num > 0 && rate.den > 0) {
    video_.encoder->framerate = rate;
    video_.frame_rate = rate;
  }
  video_.encoder->color_primaries = par->color_primaries;
  video_.encoder->color_trc = par->color_trc;
  video_.encoder->colorspace = par->color_space;
  video_.encoder->color_range = AVCOL_RANGE_MPEG;
  AvDictionary encoder_options;
  encoder_options.Set("preset", options_.x264_preset.c_str());
  encoder_options.Set("crf", options_.x264_crf);
  encoder_options.Set("profile", "high");
  RETURN_IF_ERROR(OpenEncoder(video_, codec, encoder_options));

  if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
    video_duration_ = stream->duration;
  } else if (input_.format()->duration > 0) {
    video_duration_ = av_rescale_q(input_.format()->duration, AV_TIME_BASE_Q, stream->time_base);
  }
  return Status::Ok();
}

Status PreviewWriter::OpenAudio() {
  AVStream* stream = input_.audio_stream();
  audio_.input_index = input_.audio_stream_index();
  audio_.input_time_base = stream->time_base;
  auto decoder = OpenDecoder(stream, input_.limits());
  if (!decoder.ok()) {
    // A preview without sound beats no preview: an undecodable audio track is skipped.
    return decoder.status();
  }
  audio_.decoder = std::move(decoder).value();
  AVChannelLayout layout{};
  if (audio_.decoder->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC ||
      audio_.decoder->ch_layout.nb_channels <= 0) {
    av_channel_layout_default(&layout, std::max(1, audio_.decoder->ch_layout.nb_channels));
  } else {
    av_channel_layout_copy(&layout, &audio_.decoder->ch_layout);
  }
  char layout_name[128] = {};
  av_channel_layout_describe(&layout, layout_name, sizeof(layout_name));
  av_channel_layout_uninit(&layout);
  const char* sample_fmt = av_get_sample_fmt_name(audio_.decoder->sample_fmt);
  if (sample_fmt == nullptr || audio_.decoder->sample_rate <= 0) {
    return Status::CorruptMedia("web preview: the audio format is unknown");
  }
  std::string args = "time_base=" + std::to_string(stream->time_base.num) + "/" +
                     std::to_string(stream->time_base.den) +
                     ":sample_rate=" + std::to_string(audio_.decoder->sample_rate) +
                     ":sample_fmt=" + sample_fmt + ":channel_layout=" + layout_name;
  audio_conformer_ =
      std::make_unique<AudioConformer>(audio_.decoder->sample_rate, audio_.decoder->sample_fmt,
                                       audio_.decoder->ch_layout, stream->time_base);
  ASSIGN_OR_RETURN(audio_.filters, BuildChain("abuffer", args,
                                              "aresample=48000:async=1000,aformat=sample_fmts=fltp:"
                                              "sample_rates=48000:channel_layouts=stereo",
                                              "abuffersink"));
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
  if (codec == nullptr) {
    return Status::Internal("web preview: this libavcodec has no AAC encoder");
  }
  ASSIGN_OR_RETURN(audio_.encoder, NewCodecContext(codec));
  audio_.encoder->sample_fmt = AV_SAMPLE_FMT_FLTP;
  audio_.encoder->sample_rate = 48000;
  av_channel_layout_default(&audio_.encoder->ch_layout, 2);
  audio_.encoder->bit_rate = options_.audio_bit_rate;
  audio_.encoder->time_base = AVRational{1, 48000};
  AvDictionary encoder_options;
  RETURN_IF_ERROR(OpenEncoder(audio_, codec, encoder_options));
  av_buffersink_set_frame_size(audio_.filters.sink, audio_.encoder->frame_size);
  has_audio_ = true;
  return Status::Ok();
}

Status PreviewWriter::Write(Lane& lane) {
  while (true) {
    int ret = avcodec_receive_packet(lane.encoder.get(), encoded_.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
      return Status::Ok();
    }
    if (ret < 0) {
      return AvStatus(ret, "web preview: encoding");
    }
    encoded_->stream_index = lane.output->index;
    // libx264 (before FFmpeg 6) leaves packet durations at 0, and the MP4
    // muxer then gives the last sample no duration: the preview would end one
    // frame early, and a one-frame video's preview would last 0 s.
    if (encoded_->duration <= 0 && &lane == &video_ && lane.frame_rate.num > 0 &&
        lane.frame_rate.den > 0) {
      encoded_->duration =
          std::max<int64_t>(1, av_rescale_q(1, av_inv_q(lane.frame_rate), lane.encoder->time_base));
    }
    av_packet_rescale_ts(encoded_.get(), lane.encoder->time_base, lane.output->time_base);
    AvLogCapture capture;
    ret = av_interleaved_write_frame(muxer_.get(), encoded_.get());
    if (ret < 0) {
      // I/O faults (EIO, ENOSPC) come back as kUnavailable and are retried
      // without limit; anything else the muxer refuses would be refused again.
      return AvStatus(ret, "web preview: writing", capture.first_error());
    }
  }
}

Status PreviewWriter::Encode(Lane& lane, AVFrame* frame) {
  if (frame != nullptr && &lane == &video_) {
    frame->pict_type = AV_PICTURE_TYPE_NONE;  // let x264 choose
  }
  int ret = avcodec_send_frame(lane.encoder.get(), frame);
  if (ret < 0 && ret != AVERROR_EOF) {
    return AvStatus(ret, "web preview: encoding");
  }
  return Write(lane);
}

Status PreviewWriter::Filter(Lane& lane, AVFrame* frame) {
  int ret = av_buffersrc_add_frame_flags(lane.filters.source, frame, 0);
  if (ret < 0 && !(frame == nullptr && ret == AVERROR_EOF)) {
    return AvStatus(ret, "web preview: filtering");
  }
  while (true) {
    ret = av_buffersink_get_frame(lane.filters.sink, filtered_.get());
    if (ret == AVERROR(EAGAIN)) {
      return Status::Ok();
    }
    if (ret == AVERROR_EOF) {
      return Encode(lane, nullptr);
    }
    if (ret < 0) {
      return AvStatus(ret, "web preview: filtering");
    }
    if (&lane == &audio_ && filtered_->pts != AV_NOPTS_VALUE) {
      // Streams spliced together can overlap by a few milliseconds at a cut
      // (each part's audio starts with its encoder's priming); the muxer
      // refuses time going back, so such audio follows on from the last.
      if (lane.next_audio_pts != AV_NOPTS_VALUE && filtered_->pts < lane.next_audio_pts) {
        filtered_->pts = lane.next_audio_pts;
      }
      lane.next_audio_pts =
          filtered_->pts + av_rescale_q(filtered_->nb_samples,
                                        AVRational{1, filtered_->sample_rate},
                                        av_buffersink_get_time_base(lane.filters.sink));
    }
    Status encoded = Encode(lane, filtered_.get());
    av_frame_unref(filtered_.get());
    RETURN_IF_ERROR(encoded);
  }
}

Status PreviewWriter::Decode(Lane& lane, const AVPacket* packet) {
  int ret = avcodec_send_packet(lane.decoder.get(), packet);
  if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR(EAGAIN)) {
    return Status::Ok();  // A damaged packet: skip it, as players do.
  }
  while (true) {
    ret = avcodec_receive_frame(lane.decoder.get(), decoded_.get());
    if (ret == AVERROR(EAGAIN)) {
      return Status::Ok();
    }
    if (ret == AVERROR_EOF) {
      return Filter(lane, nullptr);
    }
    if (ret < 0) {
      continue;  // A damaged frame.
    }
    int64_t pts = decoded_->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) {
      pts = lane.next_pts;  // No timestamp (raw streams): follow on from the last frame.
    } else {
      pts -= lane.start_offset;
    }
    if (&lane == &video_) {
      // A decoder concealing a damaged stream can repeat a timestamp or step
      // back; the encoder and muxer refuse that, so such a frame is dropped.
      if (lane.last_video_pts != AV_NOPTS_VALUE && pts <= lane.last_video_pts) {
        av_frame_unref(decoded_.get());
        continue;
      }
      lane.last_video_pts = pts;
    }
    decoded_->pts = pts;
    lane.next_pts = pts + FrameDuration(decoded_.get(), lane.frame_rate, lane.input_time_base);
    if (&lane == &video_ && video_duration_ > 0) {
      progress_ = std::clamp(static_cast<double>(decoded_->pts) / video_duration_, 0.0, 1.0);
    }
    Status filtered =
        &lane == &video_
            ? conformer_->Push(decoded_.get(), [&](AVFrame* frame) { return Filter(lane, frame); })
            : audio_conformer_->Push(decoded_.get(),
                                     [&](AVFrame* frame) { return Filter(lane, frame); });
    av_frame_unref(decoded_.get());
    RETURN_IF_ERROR(filtered);
  }
}

Status PreviewWriter::Run(const std::string& path, const std::function<void(double)>& on_progress) {
  ASSIGN_OR_RETURN(decoded_, NewFrame());
  ASSIGN_OR_RETURN(filtered_, NewFrame());
  ASSIGN_OR_RETURN(encoded_, NewPacket());
  AVFormatContext* raw = nullptr;
  int ret = avformat_alloc_output_context2(&raw, nullptr, "mp4", path.c_str());
  muxer_.reset(raw);
  if (ret < 0) {
    return AvStatus(ret, "web preview: creating the mp4 muxer");
  }
  RETURN_IF_ERROR(OpenVideo());
  if (input_.audio_stream() != nullptr) {
    Status audio = OpenAudio();
    if (!audio.ok()) {
      if (audio.code() == Code::kTimeout || audio.code() == Code::kCancelled) {
        return audio;
      }
      has_audio_ = false;  // No sound rather than no preview.
    }
  }

  AVFormatContext* format = input_.format();
  int64_t start = format->start_time != AV_NOPTS_VALUE ? format->start_time : 0;
  video_.start_offset = av_rescale_q(start, AV_TIME_BASE_Q, video_.input_time_base);
  audio_.start_offset = av_rescale_q(start, AV_TIME_BASE_Q, audio_.input_time_base);
  for (unsigned stream_idx = 0; stream_idx < format->nb_streams; ++stream_idx) {
    bool wanted = static_cast<int>(stream_idx) == video_.input_index ||
                  (has_audio_ && static_cast<int>(stream_idx) == audio_.input_index);
    format->streams[stream_idx]->discard = wanted ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  }

  AvLogCapture capture;
  ret = avio_open2(&muxer_->pb, path.c_str(), AVIO_FLAG_WRITE, nullptr, nullptr);
  if (ret < 0) {
    return AvOutputStatus(ret, "web preview: creating the file");
  }
  AvDictionary mux_options;
  mux_options.Set("movflags", "+faststart");
  ret = avformat_write_header(muxer_.get(), mux_options.address());
  if (ret < 0) {
    return AvStatus(ret, "web preview: writing the header", capture.first_error());
  }

  ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
  int64_t packet_count = 0;
  // Transport streams cut together: the parts follow one another, so the
  // second half of a cat-joined recording is in the preview too.
  TimestampJoiner joiner(input_.format());
  while (true) {
    bool eof = false;
    RETURN_IF_ERROR(input_.ReadPacket(packet.get(), &eof));
    if (eof) {
      break;
    }
    if (packet->stream_index == video_.input_index) {
      joiner.Apply(packet.get());
      RETURN_IF_ERROR(Decode(video_, packet.get()));
    } else if (has_audio_ && packet->stream_index == audio_.input_index) {
      joiner.Apply(packet.get());
      RETURN_IF_ERROR(Decode(audio_, packet.get()));
    }
    if (on_progress && ++packet_count % 16 == 0) {
      on_progress(progress_);
    }
  }
  RETURN_IF_ERROR(Decode(video_, nullptr));
  if (has_audio_) {
    RETURN_IF_ERROR(Decode(audio_, nullptr));
  }
  ret = av_write_trailer(muxer_.get());
  if (ret < 0) {
    return AvStatus(ret, "web preview: finishing the file", capture.first_error());
  }
  ret = avio_closep(&muxer_->pb);
  if (ret < 0) {
    return AvOutputStatus(ret, "web preview: closing the file");
  }
  if (on_progress) {
    on_progress(1.0);
  }
  return Status::Ok();
}

}  // namespace

void WebPreviewSize(int width, int height, AVRational sar, int max_height, int* out_width,
                    int* out_height) {
  double aspect = sar.num > 0 && sar.den > 0 ? av_q2d(sar) : 1.0;
  int target_height = std::min(height, max_height) & ~1;
  target_height = std::max(target_height, 2);
  double display_width = width * aspect;
  *out_width =
      std::max(2, static_cast<int>(std::lround(display_width * target_height / height)) & ~1);
  *out_height = target_height;
}

Status EncodeWebPreview(MediaInput& input, const std::string& output_path,
                        const WebPreviewOptions& options,
                        const std::function<void(double)>& on_progress) {
  Status status;
  {
    PreviewWriter writer(input, options);
    status = writer.Run(output_path, on_progress);
  }  // The muxer (and its file) is closed here.
  if (!status.ok()) {
    std::error_code ignored;
    std::filesystem::remove(output_path, ignored);
  }
  return status;
}

}  // namespace vidmill::engine
