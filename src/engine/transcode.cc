// The processing pipeline. One pass over the input: packets are demuxed
// (MediaInput: allow-listed demuxers, limits, interruptible), decoded, pushed
// through the video chain (libavfilter graphs and Vidmill's own stages) and the
// audio graph, encoded and muxed as they come, so memory stays bounded by the
// codecs' and filters' own buffers whatever the length of the video.
//
// Timestamps: decoded frames keep the stream's time base through the chain;
// frames that leave it are re-stamped with a running counter in 1/output-rate,
// because every output is constant-rate (what mezzanine containers want), and
// audio is re-stamped by its sample count, so both start at zero together, at
// the first picture shown (the audio waits until it is decoded). A range is
// cut by trim/atrim; a range starting more than 2 s in seeks to a keyframe
// ~1 s before it first.
//
// Failure: any error returns before the trailer; Transcode() then removes the
// partial file.

#include "engine/transcode.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <vector>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/timecode.h>
}

#include "common/log.h"
#include "engine/av_error.h"
#include "engine/colour.h"
#include "engine/encoders.h"

namespace vidmill::engine {
namespace {

std::string Seconds(double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", seconds);
  return buf;
}

// One audio stream of the source on its way to one of the output's.
struct AudioLane {
  AVStream* input = nullptr;
  CodecContextPtr decoder;
  CodecContextPtr encoder;
  AVRational time_base{1, 48000};             // the decoder's 1/sample_rate
  std::unique_ptr<AudioConformer> conformer;  // to the first frames' format
  std::string trim;                           // the range's atrim, if any
  FilterGraph graph;                          // made by StartAudio
  std::vector<FramePtr> waiting;              // decoded before the origin was known
  int64_t waiting_samples = 0;
  int64_t samples = 0;        // written so far (the output's timestamps)
  std::deque<FramePtr> held;  // filtered, waiting for the pictures to reach them
  int64_t held_samples = 0;
  int output_index = -1;
  double read_to = -std::numeric_limits<double>::infinity();  // seconds demuxed
};

class Pipeline {
 public:
  Pipeline(const TranscodeSpec& spec, const TranscodeProgressFn& progress, const CancelFn& cancel)
      : spec_(spec), progress_(progress), cancel_(cancel) {}  // spec_ is a copy: Run completes it

  Result<TranscodeResult> Run(const std::string& input_path, const std::string& output_path,
                              const MediaLimits& limits) {
    ASSIGN_OR_RETURN(input_, MediaInput::Open(input_path, limits, cancel_));
    AVStream* video_in = input_->video_stream();
    ASSIGN_OR_RETURN(video_decoder_, OpenDecoder(video_in, limits, spec_.threads));
    // Timestamps of the file's start (the range is measured from it) and of the
    // video's first frame (output time zero for both streams).
    double start_time = input_->format()->start_time != AV_NOPTS_VALUE
                            ? static_cast<double>(input_->format()->start_time) / AV_TIME_BASE
                            : 0.0;
    const double video_start = video_in->start_time != AV_NOPTS_VALUE
                                   ? video_in->start_time * av_q2d(video_in->time_base)
                                   : start_time;
    const double format_seconds =
        input_->format()->duration > 0
            ? static_cast<double>(input_->format()->duration) / AV_TIME_BASE
            : 0.0;
    // Where the file says its pictures end (NotePictureEnd): the video
    // stream's recorded end, else the file's; unknown (0) without either.
    recorded_end_ = video_in->duration > 0
                        ? video_start + video_in->duration * av_q2d(video_in->time_base)
                    : format_seconds > 0 ? start_time + format_seconds
                                         : 0.0;
    if (spec_.has_range) {
      spec_.clip_seconds = (spec_.end_ms - spec_.start_ms) / 1000.0;
      range_start_ = start_time + spec_.start_ms / 1000.0;
      range_end_ = start_time + spec_.end_ms / 1000.0;
    } else if (spec_.clip_seconds <= 0) {
      spec_.clip_seconds = video_in->duration > 0
                               ? video_in->duration * av_q2d(video_in->time_base)
                               : std::max(0.0, format_seconds - (video_start - start_time));
    }
    spec_.source_colour = SourceColour(video_in->codecpar, video_decoder_->pix_fmt);
    spec_.output_colour =
        OutputColour(spec_.source_colour, spec_.width, spec_.height, spec_.pixel_format);
    if (spec_.codec == "hevc" && spec_.output_colour.transfer == AVCOL_TRC_SMPTE2084) {
      ASSIGN_OR_RETURN(spec_.hdr10_x265_params, SourceHdr10());
    }
    ASSIGN_OR_RETURN(std::vector<FilterStep> steps, BuildVideoSteps(spec_, start_time));
    RETURN_IF_ERROR(SetUpVideoChain(steps));
    if (spec_.keep_audio) {
      // Both streams start at the first picture the output shows: a range's
      // first picture at or after its start, a whole file's first decoded
      // picture (audio before it is dropped, a gap before the audio's start
      // is filled with silence), so sources whose streams start apart
      // (MPEG-TS) or whose range starts between two pictures stay in sync.
      // Until that picture is decoded the audio waits (StartAudioAtTheFirstPicture).
      audio_origin_fallback_ = spec_.has_range ? range_start_ : video_start;
      // Every audio stream becomes one of the output's (8 mono tracks of a
      // broadcast MXF stay 8, not just the first).
      for (int index : input_->audio_stream_indices()) {
        RETURN_IF_ERROR(SetUpAudio(index, limits));
      }
    }
    const bool audio = !audio_.empty();
    RETURN_IF_ERROR(SetUpOutput(output_path));
    // Progress: against the range, else the pictures' length where known
    // (against the file's, a Matroska file whose sound runs on would stop at
    // 75 %, then end).
    expected_seconds_ = std::max(0.001, !spec_.has_range && spec_.source_video_seconds > 0
                                            ? spec_.source_video_seconds
                                        : spec_.clip_seconds > 0 ? spec_.clip_seconds
                                                                 : format_seconds);
    // A raw stream cannot be seeked by time (raw H.264 and HEVC have none:
    // the seek fails). It is read from its start, every picture following on
    // from 0 (StampVideo), where the metadata puts the first.
    untimed_ = input_->untimed();
    if (spec_.has_range && spec_.start_ms > 2000 && !spec_.source_timestamp_joins && !untimed_) {
      // Land on a keyframe a little before the clip; trim drops the rest.
      double seek_to = range_start_ - 1.0;
      int64_t ts = static_cast<int64_t>(seek_to / av_q2d(video_in->time_base));
      RETURN_IF_ERROR(input_->SeekTo(input_->video_stream_index(), ts));
    }
    started_ = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(Pump());
    if (frames_written_ == 0) {
      // Said so, rather than an empty file the job's probe refuses.
      return Status::CorruptMedia(
          "no picture came out: the video (or the range of it) holds none that decodes");
    }
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
  Status SetUpVideoChain(const std::vector<FilterStep>& steps) {
    AVStream* in = input_->video_stream();
    VideoFormat format;
    format.width = video_decoder_->width;
    format.height = video_decoder_->height;
    format.pixel_format = video_decoder_->pix_fmt;
    format.time_base = in->time_base;
    format.sample_aspect_ratio = video_decoder_->sample_aspect_ratio.num > 0
                                     ? video_decoder_->sample_aspect_ratio
                                     : AVRational{1, 1};
    format.frame_rate = av_guess_frame_rate(input_->format(), in, nullptr);
    if (format.frame_rate.num <= 0) format.frame_rate = RateRational(spec_.source_fps);
    video_frame_rate_ = format.frame_rate;
    ASSIGN_OR_RETURN(video_chain_, VideoFilterChain::Create(steps, format, spec_.threads));
    return Status::Ok();
  }

  // Adds the lane of audio stream `stream_index`, unless its decoder refuses
  // it (a damaged configuration): that stream is left out, so one bad track
  // does not make the video impossible to process (every job would fail).
  Status SetUpAudio(int stream_index, const MediaLimits& limits) {
    AVStream* input = input_->format()->streams[stream_index];
    Result<CodecContextPtr> decoder = OpenDecoder(input, limits, 1);
    if (!decoder.ok()) {
      if (decoder.status().code() == Code::kUnavailable) return decoder.status();
      av_log(nullptr, AV_LOG_WARNING, "audio stream %d left out: %s\n", stream_index,
             decoder.status().ToString().c_str());
      return Status::Ok();
    }
    AudioLane& lane = *audio_.emplace_back(std::make_unique<AudioLane>());
    lane.input = input;
    lane.decoder = std::move(*decoder);
    if (lane.decoder->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
      av_channel_layout_default(&lane.decoder->ch_layout, lane.decoder->ch_layout.nb_channels);
    }
    ASSIGN_OR_RETURN(lane.encoder, NewAudioEncoder(spec_.container, lane.decoder->ch_layout));
    lane.time_base = AVRational{1, lane.decoder->sample_rate};
    lane.conformer =
        std::make_unique<AudioConformer>(lane.decoder->sample_rate, lane.decoder->sample_fmt,
                                         lane.decoder->ch_layout, lane.time_base);
    // A range's sound is cut at its start only: its last picture may run up
    // to a frame past the range's end (when the first falls after its start),
    // and the sound goes on under it; WriteAudio cuts it at the pictures' end
    // (cut at the range's end, the last 10-20 ms would be silence).
    if (spec_.has_range) {
      lane.trim = "atrim=start=" + Seconds(range_start_) + ",";
    }
    return Status::Ok();
  }

  // Every audio graph, once the instant the output starts at (`origin`, in
  // the input's seconds) is known; the audio that waited for it goes in first.
  Status StartAudio(double origin) {
    audio_started_ = true;
    audio_origin_ = origin;
    for (const std::unique_ptr<AudioLane>& lane : audio_) {
      char layout[128];
      av_channel_layout_describe(&lane->decoder->ch_layout, layout, sizeof(layout));
      char args[512];
      std::snprintf(args, sizeof(args),
                    "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s", 1,
                    lane->decoder->sample_rate, lane->decoder->sample_rate,
                    av_get_sample_fmt_name(lane->decoder->sample_fmt), layout);
      char out_layout[128];
      av_channel_layout_describe(&lane->encoder->ch_layout, out_layout, sizeof(out_layout));
      // Stamped from the origin; aresample's first_pts=0 pads or trims the
      // start (the end: WriteAudio).
      const std::string chain = lane->trim + "asetpts=PTS-" + Seconds(origin) +
                                "/TB,aresample=48000:first_pts=0,aformat=sample_fmts=" +
                                std::string(av_get_sample_fmt_name(lane->encoder->sample_fmt)) +
                                ":channel_layouts=" + out_layout;
      // The buffer source's time base is 1/sample_rate; frames are stamped in it.
      ASSIGN_OR_RETURN(lane->graph, MakeFilterGraph("abuffer", args, "abuffersink", chain, 1));
      if (lane->encoder->frame_size > 0 &&
          !(lane->encoder->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE)) {
        av_buffersink_set_frame_size(lane->graph.sink, lane->encoder->frame_size);
      }
      std::vector<FramePtr> waiting = std::move(lane->waiting);
      for (FramePtr& frame : waiting) RETURN_IF_ERROR(FilterAudio(*lane, frame.get()));
    }
    return Status::Ok();
  }

  // The first decoded picture the output shows (NoteVideoOrigin) fixes the
  // audio's origin. Taking the range's start instead would put the video up
  // to a picture early against the audio when the range begins between two.
  Status StartAudioAtTheFirstPicture() {
    if (audio_started_ || audio_.empty() || !video_origin_set_) return Status::Ok();
    return StartAudio(video_origin_);
  }

  // HDR10's static metadata (as x265 parameters): from the stream, where the
  // container carries it (Matroska, mov/mp4 mdcv), else from the first
  // picture, where HEVC carries it (SEI); then the input is rewound.
  Result<std::string> SourceHdr10() {
    const AVStream* stream = input_->video_stream();
    const auto* mastering = reinterpret_cast<const AVMasteringDisplayMetadata*>(
        av_stream_get_side_data(stream, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, nullptr));
    const auto* light = reinterpret_cast<const AVContentLightMetadata*>(
        av_stream_get_side_data(stream, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, nullptr));
    std::string params = X265Hdr10Params(mastering, light);
    if (!params.empty()) return params;
    // A picture that does not decode is the transcode's to report.
    if (Result<FramePtr> first = FirstVideoFrame(*input_); first.ok()) {
      const AVFrameSideData* frame_mastering =
          av_frame_get_side_data(first->get(), AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);
      const AVFrameSideData* frame_light =
          av_frame_get_side_data(first->get(), AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
      params = X265Hdr10Params(
          frame_mastering
              ? reinterpret_cast<const AVMasteringDisplayMetadata*>(frame_mastering->data)
              : nullptr,
          frame_light ? reinterpret_cast<const AVContentLightMetadata*>(frame_light->data)
                      : nullptr);
    } else if (first.status().code() != Code::kCorruptMedia) {
      return first.status();
    }
    RETURN_IF_ERROR(input_->Rewind());
    return params;
  }

  Status SetUpOutput(const std::string& path) {
    ASSIGN_OR_RETURN(ContainerFormat format, ContainerFormatFor(spec_.container));
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
    if (spec_.codec == "hevc" && (spec_.container == "mov" || spec_.container == "mp4")) {
      // Apple's players take only `hvc1` (parameter sets in the hvcC box, as
      // x265 writes them with a global header), not FFmpeg's default `hev1`.
      video_out->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
    }
    video_out->time_base = video_encoder_->time_base;
    video_out->avg_frame_rate = output_rate_;
    video_out->r_frame_rate = output_rate_;
    video_out->sample_aspect_ratio = OutputSampleAspect(spec_);
    // Pictures not turned upright keep the source's display matrix instead.
    if (spec_.source_rotation < 0) {
      RETURN_IF_ERROR(CopyDisplayMatrix(input_->video_stream(), video_out));
    }
    const std::string timecode = OutputTimecode();
    if (!timecode.empty()) {
      // mov and mp4 write a tmcd track for it, mxf its timecode track.
      av_dict_set(&video_out->metadata, "timecode", timecode.c_str(), 0);
    }
    video_stream_ = video_out->index;
    for (const std::unique_ptr<AudioLane>& lane : audio_) {
      if (global_header) lane->encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
      ret = avcodec_open2(lane->encoder.get(), lane->encoder->codec, nullptr);
      if (ret < 0) return AvStatus(ret, "opening the audio encoder");
      AVStream* audio_out = avformat_new_stream(output_.get(), nullptr);
      if (audio_out == nullptr) return Status::Internal("cannot add an audio stream");
      ret = avcodec_parameters_from_context(audio_out->codecpar, lane->encoder.get());
      if (ret < 0) return AvStatus(ret, "describing an audio stream");
      audio_out->time_base = lane->encoder->time_base;
      // The track's language and title (a broadcast MXF's or a film's tracks).
      av_dict_copy(&audio_out->metadata, lane->input->metadata, 0);
      av_dict_set(&audio_out->metadata, "timecode", nullptr, 0);
      audio_out->disposition = lane->input->disposition;
      lane->output_index = audio_out->index;
    }
    ret = avio_open(&output_->pb, path.c_str(), AVIO_FLAG_WRITE);
    if (ret < 0) return AvOutputStatus(ret, "creating the output file");
    AvDictionary options;
    if (spec_.container == "mp4" || spec_.container == "mov") options.Set("movflags", "+faststart");
    ret = avformat_write_header(output_.get(), options.address());
    if (ret < 0) return AvStatus(ret, "writing the output header");
    return Status::Ok();
  }

  // The source's start timecode (a mov/mp4 tmcd track, an MXF timecode
  // track, …), moved on to the output's first picture (a range's first
  // picture at or after its start) and counted at the output's rate; "" when
  // the source has none. Post houses conform by it.
  std::string OutputTimecode() const {
    const AVFormatContext* format = input_->format();
    const AVDictionaryEntry* entry =
        av_dict_get(input_->video_stream()->metadata, "timecode", nullptr, 0);
    if (entry == nullptr) entry = av_dict_get(format->metadata, "timecode", nullptr, 0);
    for (unsigned i = 0; entry == nullptr && i < format->nb_streams; ++i) {
      entry = av_dict_get(format->streams[i]->metadata, "timecode", nullptr, 0);
    }
    if (entry == nullptr) return "";
    AVTimecode source;
    if (av_timecode_init_from_string(&source, video_frame_rate_, entry->value, nullptr) < 0) {
      return "";
    }
    // The label is kept (01:00:00;00 at 29.97 is 01:00:00:00 at 25, not
    // 3.6 s earlier), its frames counted at the output's rate; then the
    // output's first picture's distance from the source's first moves it on.
    char label[AV_TIMECODE_STR_SIZE];
    av_timecode_make_string(&source, label, 0);
    int hours = 0, minutes = 0, seconds = 0, frames = 0;
    if (std::sscanf(label, "%d:%d:%d%*[:;.]%d", &hours, &minutes, &seconds, &frames) != 4) {
      return "";
    }
    const bool drop = (source.flags & AV_TIMECODE_FLAG_DROPFRAME) &&
                      (output_rate_.num == 30000 || output_rate_.num == 60000) &&
                      output_rate_.den == 1001;
    const int output_fps = static_cast<int>(std::lround(av_q2d(output_rate_)));
    AVTimecode output;
    const int output_frame = static_cast<int>(
        std::min<int64_t>(output_fps - 1, int64_t{frames} * output_fps / std::max(1u, source.fps)));
    if (av_timecode_init_from_components(
            &output, output_rate_,
            (drop ? AV_TIMECODE_FLAG_DROPFRAME : 0) | AV_TIMECODE_FLAG_24HOURSMAX, hours, minutes,
            seconds, output_frame, nullptr) < 0) {
      return "";
    }
    const double source_fps = av_q2d(video_frame_rate_);
    const int64_t skipped =  // source pictures before the first shown
        spec_.has_range
            ? static_cast<int64_t>(std::ceil(spec_.start_ms / 1000.0 * source_fps - 1e-6))
            : 0;
    const int64_t moved_on = std::llround(skipped / source_fps * av_q2d(output_rate_));
    char text[AV_TIMECODE_STR_SIZE];
    return av_timecode_make_string(&output, text, static_cast<int>(moved_on));
  }

  Status Pump() {
    ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
    ASSIGN_OR_RETURN(FramePtr frame, NewFrame());
    bool eof = false;
    // Once the video has ended (a range's trim), the audio is read on to the
    // last picture's end: a muxer may store it well after the video of the
    // same instant (MPEG program streams do, by half a second). Not further
    // than the video 10 s past the range, should the audio have ended before.
    double video_read_to = -std::numeric_limits<double>::infinity();
    auto audio_pending = [&] {
      if (!spec_.has_range || video_read_to >= range_end_ + 10) return false;
      const double pictures_end =
          audio_started_ ? audio_origin_ + frames_written_ / av_q2d(output_rate_) : range_end_;
      for (const std::unique_ptr<AudioLane>& lane : audio_) {
        if (lane->read_to < pictures_end) return true;
      }
      return false;
    };
    while (!eof && (!video_chain_->finished() || audio_pending())) {
      if (cancel_ && cancel_()) return Status::Cancelled("processing was cancelled");
      RETURN_IF_ERROR(input_->ReadPacket(packet.get(), &eof));
      if (eof) break;
      MakeContinuous(packet.get());
      if (packet->stream_index == input_->video_stream_index()) {
        if (!video_chain_->finished()) {
          RETURN_IF_ERROR(Decode(video_decoder_.get(), packet.get(), frame.get(), nullptr));
        } else if (packet->dts != AV_NOPTS_VALUE) {
          video_read_to = packet->dts * av_q2d(input_->video_stream()->time_base);
        }
      } else if (AudioLane* lane = LaneOf(packet->stream_index); lane != nullptr) {
        if (packet->pts != AV_NOPTS_VALUE) {
          lane->read_to = (packet->pts + packet->duration) * av_q2d(lane->input->time_base);
        }
        RETURN_IF_ERROR(Decode(lane->decoder.get(), packet.get(), frame.get(), lane));
      }
      av_packet_unref(packet.get());
    }
    // Drain decoders, graphs and encoders.
    RETURN_IF_ERROR(Decode(video_decoder_.get(), nullptr, frame.get(), nullptr));
    RETURN_IF_ERROR(ShowThePictureOnScreenAtTheRangeStart(nullptr));
    RETURN_IF_ERROR(PushVideo(nullptr));
    RETURN_IF_ERROR(Encode(video_encoder_.get(), nullptr, video_stream_));
    for (const std::unique_ptr<AudioLane>& lane : audio_) {
      RETURN_IF_ERROR(Decode(lane->decoder.get(), nullptr, frame.get(), lane.get()));
      RETURN_IF_ERROR(PushAudio(*lane, nullptr));
      RETURN_IF_ERROR(WriteAudio(*lane, true));
      RETURN_IF_ERROR(Encode(lane->encoder.get(), nullptr, lane->output_index));
    }
    return Status::Ok();
  }

  // A join of cut-together transport streams moves the later parts' packets
  // on (TimestampJoiner); only the streams processed take part.
  void MakeContinuous(AVPacket* packet) {
    if (packet->stream_index != input_->video_stream_index() &&
        LaneOf(packet->stream_index) == nullptr) {
      return;
    }
    if (!joiner_) joiner_.emplace(input_->format());
    joiner_->Apply(packet);
  }

  AudioLane* LaneOf(int stream_index) const {
    for (const std::unique_ptr<AudioLane>& lane : audio_) {
      if (lane->input->index == stream_index) return lane.get();
    }
    return nullptr;
  }

  // Decodes into the video chain, or into `lane`'s audio graph. A packet or
  // frame the decoder refuses is damaged and skipped, as players and the web
  // preview do, whatever the error says: a bit error in an AAC frame can
  // read as a feature FFmpeg lacks (AVERROR_PATCHWELCOME) or give the ADTS
  // parser's own codes, and had failed the whole job (audit 40 F2). Only
  // running out of memory stops the job.
  Status Decode(AVCodecContext* decoder, AVPacket* packet, AVFrame* frame, AudioLane* lane) {
    const bool video = lane == nullptr;
    int ret = avcodec_send_packet(decoder, packet);
    if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR(EAGAIN)) {
      if (ret == AVERROR(ENOMEM)) return AvStatus(ret, video ? "decoding video" : "decoding audio");
      return Status::Ok();
    }
    while (true) {
      ret = avcodec_receive_frame(decoder, frame);
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return Status::Ok();
      if (ret < 0) {
        if (ret == AVERROR(ENOMEM)) {
          return AvStatus(ret, video ? "decoding video" : "decoding audio");
        }
        continue;
      }
      frame->pts = frame->best_effort_timestamp;
      if (video) {
        StampVideo(frame);
        RETURN_IF_ERROR(ShowThePictureOnScreenAtTheRangeStart(frame));
        NoteVideoOrigin(frame);
        NotePictureEnd(frame);
        RETURN_IF_ERROR(StartAudioAtTheFirstPicture());
      }
      Status status = video ? PushVideo(frame) : PushAudio(*lane, frame);
      av_frame_unref(frame);
      RETURN_IF_ERROR(status);
    }
  }

  // A video frame without a timestamp (raw elementary streams have none; an
  // MPEG program stream's last frames may lack one) follows on from the frame
  // before by its duration, or by one frame period: the filters time every
  // frame (deint's field times, fps), and a missing one would make deint's
  // field-rate output jump to a time without end (the job would never finish)
  // and fps drop the frames of a raw stream.
  // In a raw stream (untimed_) every frame follows on so, from 0: a range
  // from 0 of a raw MPEG-2 stream had lost its first picture, and [0, 40]
  // had ended without a picture.
  void StampVideo(AVFrame* frame) {
    const AVStream* stream = input_->video_stream();
    if (frame->pts == AV_NOPTS_VALUE || untimed_) {
      frame->pts = next_video_pts_ != AV_NOPTS_VALUE      ? next_video_pts_
                   : stream->start_time != AV_NOPTS_VALUE ? stream->start_time
                                                          : 0;
    }
    next_video_pts_ = frame->pts + FrameDuration(frame, video_frame_rate_, stream->time_base);
  }

  // The first picture the output shows: a range's first at or after its
  // start (trim drops those before), else the first of all. The chain's
  // clock starts there (setpts=PTS-STARTPTS).
  void NoteVideoOrigin(const AVFrame* frame) {
    if (video_origin_set_) return;
    // As trim decides: its start rounded to the stream's time base, to the
    // nearest tick. MXF counts in whole frames, so a start in a frame's first
    // half keeps that frame; compared in exact seconds, the sound would start
    // a frame after the pictures.
    if (spec_.has_range && frame->pts < RangeTick(range_start_)) return;
    video_origin_ = frame->pts * av_q2d(input_->video_stream()->time_base);
    video_origin_set_ = true;
  }

  // The output holds no more than the pictures it shows last: the rate
  // converters' end padding (filter_graph.cc) is cut where the last of them
  // ends, which only the decoded pictures tell. A stream or file duration can
  // end at the last picture's start (a variable-rate MP4 would lose its last
  // 40 ms), run on with the sound (Matroska), and a range's length counts
  // from its start, not from its first picture (one held frame too many).
  // A picture lasts what its packet says as far as the file's recorded end
  // confirms it, and at least one period of the stream's rate, or the
  // interval from the picture before where that is shorter (a rate guessed
  // too high must not shorten the end, one guessed too low not stretch it).
  // Muxers record a last sample of one tick (FFmpeg's variable-rate MP4
  // without B-frames), which would cut the last picture short; a Matroska
  // default duration may be anything (0.5 s would hold the last picture two
  // frames longer), but not past the file's end. Counted as trim counts, a
  // picture that starts before the end is kept; an end past a frame
  // boundary by less than a millisecond (the rounding of timestamps to their
  // time base) adds no frame.
  void NotePictureEnd(const AVFrame* frame) {
    if (!video_origin_set_) return;
    const AVRational time_base = input_->video_stream()->time_base;
    if (spec_.has_range && frame->pts >= RangeTick(range_end_)) {
      // The first picture past the range tells where the range's last one
      // ends, which its packet may not say (Matroska, MPEG-TS, B-frames): a
      // still screen held into the range's end lasts to it.
      if (last_picture_pts_ != AV_NOPTS_VALUE && frame->pts > last_picture_pts_) {
        pictures_end_ =
            std::max(pictures_end_, std::min(range_end_, frame->pts * av_q2d(time_base)));
        FollowThePicturesEnd();
      }
      return;
    }
    const int64_t period = SourcePeriod();
    const int64_t interval = last_picture_pts_ != AV_NOPTS_VALUE && frame->pts > last_picture_pts_
                                 ? frame->pts - last_picture_pts_
                                 : period;
    if (last_picture_pts_ != AV_NOPTS_VALUE && frame->pts > last_picture_pts_) {
      last_interval_ = interval;
    }
    last_picture_pts_ = frame->pts;
    const double start = frame->pts * av_q2d(time_base);
    const double least = start + (period > 0 ? std::min(period, interval)
                                             : FrameDuration(frame, video_frame_rate_, time_base)) *
                                     av_q2d(time_base);
    // Without a packet duration (B-frames), the interval from the picture
    // before is the better guess than the nominal rate.
    const int64_t said = frame->pkt_duration > 0 ? frame->pkt_duration
                         : last_interval_ > 0    ? last_interval_
                                                 : std::max<int64_t>(period, 1);
    const double recorded = start + said * av_q2d(time_base);
    const double limit = recorded_end_ > 0 ? std::max(recorded_end_, least) : least;
    double picture_end = std::max(least, std::min(recorded, limit));
    // Within a range, a picture held longer than a period (a variable-rate
    // source's still screen) ends with the range.
    if (spec_.has_range) picture_end = std::min(picture_end, std::max(range_end_, least));
    pictures_end_ = std::max(pictures_end_, picture_end);
    FollowThePicturesEnd();
  }

  // Follows `pictures_end_`: the output frames that fill from the first
  // picture shown to it, at the output's rate, and the chain's end there, so
  // that the converters fill to where the last picture ends, not one period
  // past its start (a last picture of one second would lose its sound).
  void FollowThePicturesEnd() {
    const double end = pictures_end_ - video_origin_;
    const double rate = av_q2d(output_rate_);
    const double slack = std::min(0.001, 0.25 / rate);
    const int64_t frames = static_cast<int64_t>(std::ceil((end - slack) * rate));
    max_frames_ = std::max(max_frames_, frames);
    const double tick = av_q2d(input_->video_stream()->time_base);
    video_chain_->SetInputEnd(std::llround(pictures_end_ / tick),
                              std::llround(video_origin_ / tick));
  }

  // A range that starts inside a gap of a variable-rate source (a screen
  // recording's still screen) shows from its start the picture then on
  // screen, the last one before it: until the range's first picture, or to
  // its end when none starts in it. The last picture before the range is
  // kept until the range's first picture is decoded (`next`; null at the
  // input's end, where the kept one lasts no longer than it does itself: the
  // sound may run on past the pictures). A range between two pictures of a
  // constant-rate source, its first within a period of its start, starts at
  // that picture, as trim cuts it.
  Status ShowThePictureOnScreenAtTheRangeStart(const AVFrame* next) {
    if (!spec_.has_range || video_origin_set_) return Status::Ok();
    const int64_t start = RangeTick(range_start_);
    if (next != nullptr && next->pts < start) {
      if (!before_range_) {
        ASSIGN_OR_RETURN(before_range_, NewFrame());
      }
      av_frame_unref(before_range_.get());
      const int ret = av_frame_ref(before_range_.get(), next);
      return ret < 0 ? AvStatus(ret, "keeping the picture before the range") : Status::Ok();
    }
    const AVRational time_base = input_->video_stream()->time_base;
    const int64_t period = SourcePeriod();
    const bool starts_with_its_own =
        next != nullptr && next->pts < RangeTick(range_end_) && next->pts - start <= period;
    if (starts_with_its_own || !before_range_ || before_range_->buf[0] == nullptr) {
      before_range_.reset();
      return Status::Ok();
    }
    FramePtr held = std::move(before_range_);
    double until = range_end_;
    if (next != nullptr) {
      until = std::min(until, next->pts * av_q2d(time_base));
    } else {
      double own_end =
          (held->pts + FrameDuration(held.get(), video_frame_rate_, time_base)) * av_q2d(time_base);
      if (recorded_end_ > 0) own_end = std::min(own_end, std::max(recorded_end_, range_start_));
      until = std::min(until, own_end);
      if (until <= range_start_) return Status::Ok();
    }
    held->pts = start;
    NoteVideoOrigin(held.get());
    last_picture_pts_ = start;
    pictures_end_ = std::max(pictures_end_, until);
    FollowThePicturesEnd();
    RETURN_IF_ERROR(StartAudioAtTheFirstPicture());
    // Once: the chain's end (FollowThePicturesEnd) holds it until
    // `until` in every graph, and an own filter need not work a still screen
    // over at every period.
    return PushVideo(held.get());
  }

  // One frame period of the source's rate in the video stream's time base; 0
  // when the rate is unknown.
  int64_t SourcePeriod() const {
    return video_frame_rate_.num > 0
               ? av_rescale_q(1, av_inv_q(video_frame_rate_), input_->video_stream()->time_base)
               : 0;
  }

  // A time in the input's seconds as a tick of the video stream's time base,
  // rounded to the nearest as trim rounds its bounds.
  int64_t RangeTick(double seconds) const {
    return av_rescale_q(std::llround(seconds * AV_TIME_BASE), AV_TIME_BASE_Q,
                        input_->video_stream()->time_base);
  }

  Status PushVideo(AVFrame* frame) {
    return video_chain_->Push(frame, [this](AVFrame* filtered) -> Status {
      // Also between the frames one input frame makes (a rate converter can
      // make many), so a stop request is heard however the chain runs.
      if (cancel_ && cancel_()) return Status::Cancelled("processing was cancelled");
      if (frames_written_ >= max_frames_) return Status::Ok();
      filtered->pts = frames_written_;  // constant-rate output
      filtered->pict_type = AV_PICTURE_TYPE_NONE;
      filtered->sample_aspect_ratio = OutputSampleAspect(spec_);
      filtered->colorspace = video_encoder_->colorspace;
      filtered->color_primaries = video_encoder_->color_primaries;
      filtered->color_trc = video_encoder_->color_trc;
      filtered->color_range = video_encoder_->color_range;
      RETURN_IF_ERROR(PaintBarsBlack(filtered, spec_));
      if (spec_.interlaced_output) {
        filtered->interlaced_frame = 1;
        filtered->top_field_first = spec_.top_field_first ? 1 : 0;
      }
      RETURN_IF_ERROR(Encode(video_encoder_.get(), filtered, video_stream_));
      frames_written_++;
      for (const std::unique_ptr<AudioLane>& lane : audio_) {
        if (!lane->held.empty()) RETURN_IF_ERROR(WriteAudio(*lane, false));
      }
      return Status::Ok();
    });
  }

  Status PushAudio(AudioLane& lane, AVFrame* frame) {
    if (frame != nullptr) {
      // Stamp in 1/sample_rate (the abuffer's time base).
      frame->pts = frame->pts == AV_NOPTS_VALUE
                       ? AV_NOPTS_VALUE
                       : av_rescale_q(frame->pts, lane.input->time_base, lane.time_base);
    }
    return lane.conformer->Push(
        frame, [this, &lane](AVFrame* conformed) { return FilterAudio(lane, conformed); });
  }

  // Audio of the stream's first format (or null, the end) into its graph.
  // Before the graphs exist (their origin is not known yet) the audio waits,
  // at most 10 s of it (a file that stores its audio far ahead of its video);
  // then, or at the end, the origin is taken from the timestamps alone.
  Status FilterAudio(AudioLane& lane, AVFrame* frame) {
    if (!lane.graph.graph) {
      if (frame != nullptr && lane.waiting_samples < 10 * lane.decoder->sample_rate) {
        ASSIGN_OR_RETURN(FramePtr copy, NewFrame());
        int ret = av_frame_ref(copy.get(), frame);
        if (ret < 0) return AvStatus(ret, "keeping audio");
        lane.waiting_samples += frame->nb_samples;
        lane.waiting.push_back(std::move(copy));
        return Status::Ok();
      }
      RETURN_IF_ERROR(StartAudio(audio_origin_fallback_));
    }
    int ret = av_buffersrc_add_frame_flags(lane.graph.source, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0 && ret != AVERROR_EOF) return AvStatus(ret, "filtering audio");
    ASSIGN_OR_RETURN(FramePtr filtered, NewFrame());
    while (true) {
      ret = av_buffersink_get_frame(lane.graph.sink, filtered.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return Status::Ok();
      if (ret < 0) return AvStatus(ret, "filtering audio");
      lane.held.push_back(FramePtr(av_frame_clone(filtered.get())));
      av_frame_unref(filtered.get());
      if (!lane.held.back()) return Status::Internal("out of memory keeping audio");
      lane.held_samples += lane.held.back()->nb_samples;
      RETURN_IF_ERROR(WriteAudio(lane, false));
    }
  }

  // Every track lasts exactly as long as the pictures (mezzanine deliveries
  // want them equal; otherwise a whole file's longer sound would run on under
  // no picture in mov, a range's would stop short, and one cut to the range's
  // length would run a second past a range's last picture): audio is written
  // only as far as the pictures written so far reach; at the end (`last`),
  // the rest is cut there and silence fills what is missing.
  Status WriteAudio(AudioLane& lane, bool last) {
    const int64_t rate = lane.encoder->sample_rate;
    const int64_t video_samples =
        av_rescale(frames_written_, rate * output_rate_.den, output_rate_.num);
    while (!lane.held.empty()) {
      AVFrame* frame = lane.held.front().get();
      const int64_t room = video_samples - lane.samples;
      // More than 20 s ahead of the pictures (sound that runs on for long
      // after the video's end): written anyway, so memory stays bounded.
      const bool overflowing = !last && lane.held_samples > 20 * rate;
      if (!overflowing) {
        if (room <= 0 && !last) return Status::Ok();
        if (room < frame->nb_samples) {
          if (!last) return Status::Ok();  // the pictures may still reach it
          if (room <= 0) {
            lane.held.clear();
            break;
          }
          frame->nb_samples = static_cast<int>(room);  // the last, cut at the last picture's end
        }
        if (last && lane.held.size() == 1 && lane.encoder->frame_size > 0 &&
            frame->nb_samples < lane.encoder->frame_size && room > frame->nb_samples) {
          break;  // a short last frame that silence follows: filled below
        }
      }
      lane.held_samples -= frame->nb_samples;
      RETURN_IF_ERROR(EncodeAudio(lane, frame));
      lane.held.pop_front();
    }
    if (!last) return Status::Ok();
    // Silence for what the sound lacks (after the short frame kept back, if
    // any: fixed-size encoders take a short frame only at the end).
    const int frame_size = lane.encoder->frame_size > 0 ? lane.encoder->frame_size : 1024;
    while (lane.samples < video_samples) {
      const AVFrame* tail = lane.held.empty() ? nullptr : lane.held.front().get();
      ASSIGN_OR_RETURN(FramePtr out, NewFrame());
      out->format = lane.encoder->sample_fmt;
      out->sample_rate = static_cast<int>(rate);
      int ret = av_channel_layout_copy(&out->ch_layout, &lane.encoder->ch_layout);
      if (ret < 0) return AvStatus(ret, "making silence");
      out->nb_samples =
          static_cast<int>(std::min<int64_t>(frame_size, video_samples - lane.samples));
      ret = av_frame_get_buffer(out.get(), 0);
      if (ret < 0) return AvStatus(ret, "making silence");
      const int channels = out->ch_layout.nb_channels;
      const auto format = static_cast<AVSampleFormat>(out->format);
      const int kept = tail != nullptr ? std::min(tail->nb_samples, out->nb_samples) : 0;
      if (kept > 0)
        av_samples_copy(out->extended_data, tail->extended_data, 0, 0, kept, channels, format);
      av_samples_set_silence(out->extended_data, kept, out->nb_samples - kept, channels, format);
      lane.held.clear();
      RETURN_IF_ERROR(EncodeAudio(lane, out.get()));
    }
    lane.held.clear();
    return Status::Ok();
  }

  Status EncodeAudio(AudioLane& lane, AVFrame* frame) {
    frame->pts = lane.samples;
    lane.samples += frame->nb_samples;
    return Encode(lane.encoder.get(), frame, lane.output_index);
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
      // Progress counts pictures coded, not pictures handed to the encoder:
      // x264 holds dozens back (its look-ahead), and at 1080p coding the last
      // of them takes 8 s: counted when handed over, the progress would read
      // "99 %, 0 s left" all that time.
      if (stream_index == video_stream_) {
        ReportProgress(static_cast<double>(++video_packets_) / av_q2d(output_rate_));
      }
    }
  }

  void ReportProgress(double output_seconds) {
    if (!progress_) return;
    double fraction = std::clamp(output_seconds / expected_seconds_, 0.0, 1.0);
    TranscodeProgress report;
    report.fraction = fraction;
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (fraction > 0.01) report.eta_seconds = elapsed * (1 - fraction) / fraction;
    progress_(report);
  }

  TranscodeSpec spec_;
  const TranscodeProgressFn& progress_;
  const CancelFn& cancel_;
  std::unique_ptr<MediaInput> input_;
  CodecContextPtr video_decoder_;
  CodecContextPtr video_encoder_;
  std::unique_ptr<VideoFilterChain> video_chain_;
  std::vector<std::unique_ptr<AudioLane>> audio_;  // one per audio stream kept
  bool audio_started_ = false;                     // StartAudio has run
  double audio_origin_ = 0;                        // input seconds the output starts at
  double audio_origin_fallback_ = 0;               // the origin by the timestamps alone
  double range_start_ = 0;                         // seconds, in the input's timestamps
  FormatOutputPtr output_;
  AVRational output_rate_{25, 1};
  int video_stream_ = -1;
  int64_t frames_written_ = 0;
  std::optional<TimestampJoiner> joiner_;                     // MakeContinuous
  int64_t video_packets_ = 0;                                 // coded pictures written (progress)
  int64_t max_frames_ = 0;   // where the pictures shown so far end (NotePictureEnd)
  int64_t last_picture_pts_ = AV_NOPTS_VALUE;  // of the last picture NotePictureEnd saw
  int64_t last_interval_ = 0;                  // from the picture before it
  double pictures_end_ = 0;                    // input seconds where they end (NotePictureEnd)
  double video_origin_ = 0;  // input seconds of the first picture shown
  FramePtr before_range_;    // the last picture before a range (kept until its first)
  bool video_origin_set_ = false;
  AVRational video_frame_rate_{25, 1};       // the source's, as the chain was built for
  int64_t next_video_pts_ = AV_NOPTS_VALUE;  // where the last decoded frame ends
  bool untimed_ = false;                     // a raw stream, read from its start
  double expected_seconds_ = 1;
  double range_end_ = 0;  // seconds, in the input's timestamps (with a range)
  double recorded_end_ = 0;  // input seconds where the file says the video ends; 0: unknown
  std::chrono::steady_clock::time_point started_;
};

// FFmpeg 5.1's MXF muxer writes a DNxHR stream's display aspect as its
// frame's, width:height, whatever the pixel shape (16:9 PAL at 720x576 comes
// out 5:4, shown about 30 % too narrow; DNxHD's fixed HD frames are 16:9 and
// other codecs' aspect is read from their headers). The descriptor's
// AspectRatio item (local tag 0x320E, length 8: numerator and denominator as
// 32-bit big-endian integers) is rewritten in place, wherever the header
// metadata sits (the first and last MiB of the file).
Status CorrectMxfDisplayAspect(const std::string& path, const TranscodeSpec& spec) {
  const AVRational sar = OutputSampleAspect(spec);
  if (spec.container != "mxf" || spec.codec != "dnxhd" || !spec.profile.starts_with("dnxhr") ||
      sar.num == sar.den) {
    return Status::Ok();
  }
  auto item = [](int64_t num, int64_t den) {
    int reduced_num = 0, reduced_den = 0;
    av_reduce(&reduced_num, &reduced_den, num, den, INT32_MAX);
    std::string bytes = {0x32, 0x0e, 0x00, 0x08};
    for (int value : {reduced_num, reduced_den}) {
      for (int shift = 24; shift >= 0; shift -= 8)
        bytes += static_cast<char>((value >> shift) & 0xff);
    }
    return bytes;
  };
  const std::string written = item(spec.width, spec.height);
  const std::string wanted = item(int64_t{spec.width} * sar.num, int64_t{spec.height} * sar.den);
  std::FILE* file = std::fopen(path.c_str(), "r+b");
  if (file == nullptr) return Status::Internal("cannot reopen " + path + " to set its aspect");
  std::fseek(file, 0, SEEK_END);
  const int64_t size = std::ftell(file);
  constexpr int64_t kWindow = 1 << 20;
  int patched = 0;
  for (int64_t start : {int64_t{0}, std::max<int64_t>(kWindow, size - kWindow)}) {
    if (start >= size) continue;
    std::string window(static_cast<size_t>(std::min(kWindow, size - start)), '\0');
    std::fseek(file, static_cast<long>(start), SEEK_SET);
    window.resize(std::fread(window.data(), 1, window.size(), file));
    for (size_t at = window.find(written); at != std::string::npos;
         at = window.find(written, at + 1)) {
      std::fseek(file, static_cast<long>(start + static_cast<int64_t>(at)), SEEK_SET);
      std::fwrite(wanted.data(), 1, wanted.size(), file);
      ++patched;
    }
  }
  const bool closed = std::fclose(file) == 0;
  if (!closed) return Status::Unavailable("cannot write the aspect ratio into " + path);
  if (patched == 0) {
    LogWarning("the MXF descriptor's aspect ratio was not found in " + path +
               "; it may show the frame's shape");
  }
  return Status::Ok();
}

}  // namespace

Result<TranscodeResult> Transcode(const std::string& input_path, const std::string& output_path,
                                  const TranscodeSpec& spec, const MediaLimits& limits,
                                  const TranscodeProgressFn& progress, const CancelFn& cancel) {
  AvLogCapture capture;
  Result<TranscodeResult> result = [&]() -> Result<TranscodeResult> {
    Result<TranscodeResult> written = [&] {
      Pipeline pipeline(spec, progress, cancel);
      return pipeline.Run(input_path, output_path, limits);
    }();  // the pipeline, and with it the file, closed
    if (written.ok()) RETURN_IF_ERROR(CorrectMxfDisplayAspect(output_path, spec));
    return written;
  }();
  if (!result.ok()) {
    std::error_code ignored;
    std::filesystem::remove(output_path, ignored);
  }
  return result;
}

}  // namespace vidmill::engine
