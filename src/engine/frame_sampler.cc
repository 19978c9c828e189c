#include "engine/frame_sampler.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "engine/av_error.h"

namespace vidmill::engine {
namespace {

// Decodes the input's video stream one frame at a time.
class Decoder {
 public:
  Decoder(MediaInput& input, CodecContextPtr codec, PacketPtr packet, bool join)
      : input_(input), codec_(std::move(codec)), packet_(std::move(packet)) {
    if (join) joiner_.emplace(input.format());
  }

  // Next decoded frame into `frame`; `*eof` at the end of the stream.
  Status Next(AVFrame* frame, bool* eof) {
    *eof = false;
    while (true) {
      RETURN_IF_ERROR(input_.CheckInterrupt());
      int ret = avcodec_receive_frame(codec_.get(), frame);
      if (ret == 0) {
        if (frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT)) {
          RETURN_IF_ERROR(CountDamage());
          av_frame_unref(frame);
          continue;
        }
        consecutive_damage_ = 0;
        return Status::Ok();
      }
      if (ret == AVERROR_EOF) {
        *eof = true;
        return Status::Ok();
      }
      if (ret != AVERROR(EAGAIN)) {
        RETURN_IF_ERROR(CountDamage());  // A decode error: skip the frame, keep going.
        continue;
      }
      if (draining_) {
        *eof = true;
        return Status::Ok();
      }
      bool input_eof = false;
      RETURN_IF_ERROR(input_.ReadPacket(packet_.get(), &input_eof));
      if (input_eof) {
        draining_ = true;
        avcodec_send_packet(codec_.get(), nullptr);
        continue;
      }
      if (packet_->stream_index != input_.video_stream_index()) {
        continue;
      }
      if (joiner_) joiner_->Apply(packet_.get());
      ret = avcodec_send_packet(codec_.get(), packet_.get());
      if (ret < 0 && ret != AVERROR(EAGAIN)) {
        RETURN_IF_ERROR(CountDamage());
      }
    }
  }

  void Flush() {
    avcodec_flush_buffers(codec_.get());
    draining_ = false;
  }

  int64_t damaged() const { return damaged_; }

 private:
  // Tolerates damage, but not a stream where nothing decodes any more.
  Status CountDamage() {
    ++damaged_;
    if (++consecutive_damage_ > 500) {
      return Status::CorruptMedia(
          "the video stream does not decode: " + std::to_string(consecutive_damage_) +
          " damaged packets or frames in a row");
    }
    return Status::Ok();
  }

  MediaInput& input_;
  CodecContextPtr codec_;
  PacketPtr packet_;
  std::optional<TimestampJoiner> joiner_;
  bool draining_ = false;
  int64_t damaged_ = 0;
  int64_t consecutive_damage_ = 0;
};

}  // namespace

SamplingPlan SamplingPlanFor(const VideoMetadata& metadata, int windows,
                             int max_frames_per_window) {
  SamplingPlan plan;
  plan.windows = windows;
  plan.total_frames = metadata.total_frames;
  if (metadata.total_frames_exact) plan.pictures_millis = metadata.video_duration_millis;
  plan.timestamps_joined = metadata.timestamp_joins > 0;
  plan.frames_per_window = static_cast<int>(std::clamp<int64_t>(
      (metadata.total_frames + windows - 1) / windows, 3, max_frames_per_window));
  return plan;
}

Result<int64_t> SampleFrames(MediaInput& input, const SamplingPlan& plan, const FrameSink& sink,
                             const std::function<void(double)>& on_progress) {
  AVStream* stream = input.video_stream();
  AVFormatContext* format = input.format();
  for (unsigned stream_idx = 0; stream_idx < format->nb_streams; ++stream_idx) {
    format->streams[stream_idx]->discard =
        static_cast<int>(stream_idx) == input.video_stream_index() ? AVDISCARD_DEFAULT
                                                                   : AVDISCARD_ALL;
  }
  ASSIGN_OR_RETURN(CodecContextPtr codec, OpenDecoder(stream, input.limits()));
  ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
  ASSIGN_OR_RETURN(FramePtr frame, NewFrame());
  Decoder decoder(input, std::move(codec), std::move(packet), plan.timestamps_joined);

  const AVRational time_base = stream->time_base;
  const int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
  int64_t duration = AV_NOPTS_VALUE;
  if (plan.timestamps_joined && plan.total_frames > 0) {
    // by frame index (see SamplingPlan)
  } else if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
    duration = stream->duration;
  } else if (format->duration != AV_NOPTS_VALUE && format->duration > 0) {
    duration = av_rescale_q(format->duration, AV_TIME_BASE_Q, time_base);
  }
  AVRational rate = stream->avg_frame_rate.num > 0 ? stream->avg_frame_rate : stream->r_frame_rate;
  const int64_t frame_step = rate.num > 0 && rate.den > 0
                                 ? std::max<int64_t>(1, av_rescale_q(1, av_inv_q(rate), time_base))
                                 : 1;
  if (duration != AV_NOPTS_VALUE && plan.pictures_millis > 0) {
    const int64_t pictures = av_rescale_q(plan.pictures_millis, AVRational{1, 1000}, time_base);
    if (2 * duration > 3 * pictures) duration = pictures;  // a file cut short (see SamplingPlan)
  }
  // Windows closer than this are reached by decoding forward instead of seeking.
  const int64_t seek_threshold = av_rescale_q(2, AVRational{1, 1}, time_base);

  int64_t last_pts = std::numeric_limits<int64_t>::min();
  int64_t handed_out = 0;
  // Whether the next frame decoded follows the last one handed out: no seek,
  // and no frame decoded and passed over, or skipped as damaged, since.
  bool in_sequence = false;
  int64_t damaged_before = 0;
  int64_t decoded_index = 0;  // frames decoded so far (meaningful while not seeking)
  bool can_seek = duration != AV_NOPTS_VALUE;
  bool eof = false;
  for (int window_idx = 0; window_idx < plan.windows && !eof; ++window_idx) {
    int64_t target = start;
    if (duration != AV_NOPTS_VALUE) {
      target = start + av_rescale(duration, window_idx, plan.windows);
    }
    int64_t accept_from = target;
    if (window_idx > 0 && can_seek && target > last_pts + seek_threshold) {
      if (input.SeekTo(input.video_stream_index(), target).ok()) {
        decoder.Flush();
        in_sequence = false;
        accept_from = std::numeric_limits<int64_t>::min();  // take frames from the keyframe on
      } else {
        RETURN_IF_ERROR(input.CheckInterrupt());
        can_seek = false;  // decode forward from here on
      }
    }
    // Without a duration, windows start at frame indices instead.
    const int64_t first_index = duration == AV_NOPTS_VALUE && plan.total_frames > 0
                                    ? av_rescale(plan.total_frames, window_idx, plan.windows)
                                    : 0;
    int taken = 0;
    while (taken < plan.frames_per_window) {
      RETURN_IF_ERROR(decoder.Next(frame.get(), &eof));
      if (eof) {
        break;
      }
      const bool follows = in_sequence && decoder.damaged() == damaged_before;
      in_sequence = false;
      if (decoded_index++ < first_index) {
        av_frame_unref(frame.get());
        continue;
      }
      int64_t pts = frame->best_effort_timestamp;
      if (pts == AV_NOPTS_VALUE) {
        pts = last_pts == std::numeric_limits<int64_t>::min() ? start : last_pts + frame_step;
      }
      if (pts <= last_pts || pts < accept_from) {
        av_frame_unref(frame.get());
        continue;
      }
      last_pts = pts;
      frame->pts = pts;
      Status sunk = sink(frame.get(), window_idx, taken, follows);
      av_frame_unref(frame.get());
      RETURN_IF_ERROR(sunk);
      in_sequence = true;
      damaged_before = decoder.damaged();
      ++taken;
      ++handed_out;
      if (on_progress) {
        on_progress((window_idx + static_cast<double>(taken) / plan.frames_per_window) /
                    plan.windows);
      }
    }
  }
  if (handed_out == 0) {
    return Status::CorruptMedia("no video frame could be decoded");
  }
  return handed_out;
}

}  // namespace vidmill::engine
