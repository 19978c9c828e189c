#include "engine/media_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "common/log.h"
#include "engine/av_error.h"

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/mem.h>
}

namespace vidmill::engine {
namespace {

// More streams than the limit: the demuxer says so in its log and fails
// (EINVAL, ENOMEM), which would read as a fault worth retrying; it is the
// file's, for good.
std::optional<Status> TooManyStreams(const AvLogCapture& capture, const MediaLimits& limits) {
  if (capture.first_error().find("max_streams") == std::string::npos) return std::nullopt;
  return Status::CorruptMedia("the file has more than " + std::to_string(limits.max_streams) +
                              " streams; Vidmill reads files of at most " +
                              std::to_string(limits.max_streams));
}

constexpr int kIoBufferSize = 64 * 1024;

std::string JoinedAllowList() {
  std::string joined;
  for (std::string_view name : AllowedDemuxers()) {
    if (!joined.empty()) {
      joined += ',';
    }
    joined += name;
  }
  return joined;
}

}  // namespace

const std::vector<std::string_view>& AllowedDemuxers() {
  // Real audio/video containers and elementary video streams. Everything else is
  // refused, notably demuxers that open other files or URLs named inside the
  // input (hls, concat, dash, image2, ffmetadata, sdp, rtsp, tee, data) and still
  // images (image2pipe, *_pipe, mjpeg).
  static const std::vector<std::string_view> kAllowed = {
      "mov,mp4,m4a,3gp,3g2,mj2",  // QuickTime / MP4
      "matroska,webm",
      "mxf",
      "mpegts",
      "mpeg",       // MPEG program stream (VOB)
      "mpegvideo",  // MPEG-1/2 elementary video
      "m4v",        // MPEG-4 part 2 elementary video
      "h264",       // H.264 Annex B elementary video
      "hevc",       // H.265 Annex B elementary video
      "vc1",
      "obu",  // AV1 low-overhead bitstream
      "ivf",
      "avi",
      "flv",
      "dv",
      "asf",
      "ogg",
      "gxf",
      "nut",
      "yuv4mpegpipe",
  };
  return kAllowed;
}

bool IsAllowedDemuxer(std::string_view demuxer_name) {
  for (std::string_view allowed : AllowedDemuxers()) {
    if (allowed == demuxer_name) {
      return true;
    }
  }
  return false;
}

MediaInput::MediaInput(const MediaLimits& limits, CancelFn cancel)
    : limits_(limits), cancel_(std::move(cancel)) {}

MediaInput::~MediaInput() {
  format_.reset();
  avio_.reset();
  if (fd_ >= 0) {
    close(fd_);
  }
}

bool MediaInput::Interrupted() const {
  if (std::chrono::steady_clock::now() >= limits_.deadline) {
    return true;
  }
  return cancel_ && cancel_();
}

Status MediaInput::CheckInterrupt() const {
  if (std::chrono::steady_clock::now() >= limits_.deadline) {
    return Status::Timeout("deadline exceeded");
  }
  if (cancel_ && cancel_()) {
    return Status::Cancelled("cancelled");
  }
  return Status::Ok();
}

Status MediaInput::ErrorStatus(int averror, std::string_view context,
                               std::string_view detail) const {
  if (Status interrupted = CheckInterrupt(); !interrupted.ok()) {
    return interrupted.Annotate(context);
  }
  // A read that failed with an I/O fault (EIO from a disk or a network share)
  // is the error, whatever the demuxer made of the missing bytes: the probe
  // of a file it could not read had said "not a recognised media file", and
  // failed the video for good (audit 41 F2).
  if (read_error_ != 0) {
    Status io = AvStatus(read_error_, context);
    if (io.code() == Code::kUnavailable) return io;
  }
  Status status = AvStatus(averror, context, detail);
  // An error the demuxer finds with every read succeeding is the file's: the
  // same bytes give it again, so it fails at once, not as an internal fault
  // retried three times (a Y4M header of 30000x30000 is EINVAL, old demuxers
  // say -1; audit 40 F3).
  if (status.code() == Code::kInternal && read_error_ == 0 && averror != AVERROR(ENOMEM)) {
    return Status::CorruptMedia(status.message());
  }
  return status;
}

int MediaInput::ReadCallback(void* opaque, uint8_t* buf, int size) {
  auto* self = static_cast<MediaInput*>(opaque);
  if (self->Interrupted()) {
    return AVERROR_EXIT;
  }
  ssize_t got;
  do {
    got = pread(self->fd_, buf, static_cast<size_t>(size), self->position_);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    self->read_error_ = AVERROR(errno);
    return self->read_error_;
  }
  if (got == 0) {
    return AVERROR_EOF;
  }
  self->position_ += got;
  return static_cast<int>(got);
}

int64_t MediaInput::SeekCallback(void* opaque, int64_t offset, int whence) {
  auto* self = static_cast<MediaInput*>(opaque);
  whence &= ~AVSEEK_FORCE;
  int64_t target;
  switch (whence) {
    case AVSEEK_SIZE:
      return self->file_size_;
    case SEEK_SET:
      target = offset;
      break;
    case SEEK_CUR:
      target = self->position_ + offset;
      break;
    case SEEK_END:
      target = self->file_size_ + offset;
      break;
    default:
      return AVERROR(EINVAL);
  }
  if (target < 0) {
    return AVERROR(EINVAL);
  }
  self->position_ = target;
  return target;
}

namespace {

// Whether the first 256 KiB of `fd` hold ten MPEG-TS packets in a row (a sync
// byte every 188 bytes) somewhere.
bool LooksLikeTransportStream(int fd) {
  constexpr size_t kPacket = 188, kRun = 10, kWindow = 256 * 1024;
  std::vector<uint8_t> head(kWindow);
  const ssize_t got = pread(fd, head.data(), head.size(), 0);
  if (got <= 0) return false;
  const size_t size = static_cast<size_t>(got);
  for (size_t start = 0; start + kPacket * kRun <= size; ++start) {
    size_t run = 0;
    while (run < kRun && head[start + run * kPacket] == 0x47) ++run;
    if (run == kRun) return true;
  }
  return false;
}

}  // namespace

int MediaInput::InterruptCallback(void* opaque) {
  return static_cast<const MediaInput*>(opaque)->Interrupted() ? 1 : 0;
}

int MediaInput::RefuseNestedOpen(AVFormatContext* s, AVIOContext** pb, const char* url, int flags,
                                 AVDictionary** options) {
  av_log(s, AV_LOG_ERROR, "refused to open '%s' referenced by the input\n",
         url != nullptr ? url : "");
  return AVERROR(EPERM);
}

Result<std::unique_ptr<MediaInput>> MediaInput::Open(const std::string& path,
                                                     const MediaLimits& limits, CancelFn cancel) {
  std::unique_ptr<MediaInput> input(new MediaInput(limits, std::move(cancel)));

  input->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (input->fd_ < 0) {
    int error = errno;
    if (error == ENOENT) {
      return Status::NotFound("cannot open input: the file is missing");
    }
    // Messages reach API clients (failed jobs), so they name no server path.
    return Status::Unavailable(std::string("cannot open input: ") + std::strerror(error));
  }
  struct stat info {};
  if (fstat(input->fd_, &info) != 0) {
    return Status::Unavailable(std::string("cannot open input: fstat: ") + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return Status::CorruptMedia("cannot open input: not a regular file");
  }
  input->file_size_ = info.st_size;
  if (input->file_size_ == 0) {
    return Status::CorruptMedia("cannot open input: the file is empty");
  }

  AvFreePtr buffer(av_malloc(kIoBufferSize));
  if (buffer == nullptr) {
    return Status::Internal("out of memory allocating the input buffer");
  }
  input->avio_.reset(avio_alloc_context(static_cast<uint8_t*>(buffer.get()), kIoBufferSize,
                                        /*write_flag=*/0, input.get(), &MediaInput::ReadCallback,
                                        nullptr, &MediaInput::SeekCallback));
  if (!input->avio_) {
    return Status::Internal("out of memory allocating the input context");
  }
  buffer.release();  // the context owns it now (AvioContextDeleter frees it)

  FormatInputPtr format(avformat_alloc_context());
  if (!format) {
    return Status::Internal("out of memory allocating the demuxer");
  }
  format->pb = input->avio_.get();
  format->flags |= AVFMT_FLAG_CUSTOM_IO;
  format->io_open = &MediaInput::RefuseNestedOpen;
  format->interrupt_callback.callback = &MediaInput::InterruptCallback;
  format->interrupt_callback.opaque = input.get();
  format->max_streams = limits.max_streams;
  format->probesize = limits.probesize_bytes;
  format->max_analyze_duration = limits.analyzeduration_us;

  AvLogCapture capture;
  // Probe the container ourselves so a refused demuxer never runs its read_header.
  const AVInputFormat* detected = nullptr;
  int ret = av_probe_input_buffer2(
      input->avio_.get(), &detected, path.c_str(), format.get(), 0,
      static_cast<unsigned>(std::min<int64_t>(limits.probesize_bytes, 1 << 24)));
  // av_probe_input_buffer2 returns the score. It accepts any positive score once
  // the whole probe buffer is read (mov claims plain text with a score of 1);
  // real containers score far above AVPROBE_SCORE_RETRY.
  if (ret < AVPROBE_SCORE_RETRY || detected == nullptr) {
    if (ret >= 0 || ret == AVERROR_INVALIDDATA || detected == nullptr) {
      return input->ErrorStatus(AVERROR_INVALIDDATA, "cannot open input",
                                "not a recognised media file");
    }
    return input->ErrorStatus(ret, "cannot open input", capture.first_error());
  }
  if (std::string_view(detected->name) == "mpeg" && LooksLikeTransportStream(input->fd_)) {
    // A transport stream behind some junk (a capture that started mid-way,
    // padding) scores as a program stream of audio alone; its packets say
    // otherwise, and the mpegts demuxer finds its way in.
    detected = av_find_input_format("mpegts");
  }
  if (!IsAllowedDemuxer(detected->name)) {
    return Status::CorruptMedia(std::string("cannot open input: '") + detected->name + "' (" +
                                (detected->long_name ? detected->long_name : "?") +
                                ") is not an accepted video container");
  }

  AvDictionary options;
  std::string allow_list = JoinedAllowList();
  options.Set("format_whitelist", allow_list.c_str());
  options.Set("protocol_whitelist", "none");
  capture.Clear();
  AVFormatContext* raw = format.release();  // avformat_open_input frees it on failure.
  ret = avformat_open_input(&raw, path.c_str(), detected, options.address());
  if (ret < 0) {
    if (std::optional<Status> refusal = TooManyStreams(capture, limits)) return *refusal;
    return input->ErrorStatus(ret, "cannot open input", capture.first_error());
  }
  input->format_.reset(raw);

  capture.Clear();
  ret = avformat_find_stream_info(input->format_.get(), nullptr);
  if (ret < 0) {
    if (std::optional<Status> refusal = TooManyStreams(capture, limits)) return *refusal;
    return input->ErrorStatus(ret, "cannot read stream information", capture.first_error());
  }

  // The main video stream: the largest picture that is not cover art, and
  // not a still picture (an image codec, or one frame) while a moving one is
  // there: a poster JPEG muxed as an ordinary Matroska track, larger than the
  // video, would otherwise be taken for it (only one frame and the sound
  // would come out).
  int64_t best_area = -1;
  bool best_moving = false;
  for (unsigned stream_idx = 0; stream_idx < input->format_->nb_streams; ++stream_idx) {
    const AVStream* stream = input->format_->streams[stream_idx];
    const AVCodecParameters* par = stream->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO ||
        (stream->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      continue;
    }
    const bool image_codec =
        par->codec_id == AV_CODEC_ID_PNG || par->codec_id == AV_CODEC_ID_BMP ||
        par->codec_id == AV_CODEC_ID_TIFF || par->codec_id == AV_CODEC_ID_WEBP ||
        par->codec_id == AV_CODEC_ID_GIF || par->codec_id == AV_CODEC_ID_MJPEG ||
        par->codec_id == AV_CODEC_ID_JPEG2000;
    const bool moving = !image_codec && stream->nb_frames != 1;
    const int64_t area = int64_t{par->width} * par->height;
    if ((moving && !best_moving) || (moving == best_moving && area > best_area)) {
      best_area = area;
      best_moving = moving;
      input->video_stream_index_ = static_cast<int>(stream_idx);
    }
  }
  if (input->video_stream_index_ < 0) {
    // No stream of a codec it knows: a header cut short, as in the first
    // bytes of a faststart MP4 (a track without its handler).
    bool known = false;
    for (unsigned stream_idx = 0; stream_idx < input->format_->nb_streams; ++stream_idx) {
      known = known || input->format_->streams[stream_idx]->codecpar->codec_id != AV_CODEC_ID_NONE;
    }
    if (!known) {
      return Status::CorruptMedia(
          "the file has no stream it can read: its header is cut short (a truncated file?)");
    }
    return Status::CorruptMedia("the file has no video stream");
  }
  input->audio_stream_index_ =
      av_find_best_stream(input->format_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (input->audio_stream_index_ < 0) {
    input->audio_stream_index_ = -1;
  }
  for (unsigned stream_idx = 0; stream_idx < input->format_->nb_streams; ++stream_idx) {
    const AVCodecParameters* par = input->format_->streams[stream_idx]->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_AUDIO && par->sample_rate > 0 &&
        par->ch_layout.nb_channels > 0 && avcodec_find_decoder(par->codec_id) != nullptr &&
        ++input->audio_streams_found_ <= kMaxAudioStreams) {
      input->audio_stream_indices_.push_back(static_cast<int>(stream_idx));
    }
  }

  const AVCodecParameters* video = input->video_stream()->codecpar;
  if (video->width <= 0 || video->height <= 0) {
    return Status::CorruptMedia("cannot read stream information: the video frame size is unknown");
  }
  if (int64_t{video->width} * video->height > limits.max_frame_pixels) {
    return Status::CorruptMedia("video frame " + std::to_string(video->width) + "x" +
                                std::to_string(video->height) + " exceeds the limit of " +
                                std::to_string(limits.max_frame_pixels) + " pixels");
  }
  double duration_seconds = -1;
  if (input->format_->duration != AV_NOPTS_VALUE && input->format_->duration > 0) {
    duration_seconds = static_cast<double>(input->format_->duration) / AV_TIME_BASE;
  } else if (input->video_stream()->duration != AV_NOPTS_VALUE) {
    duration_seconds = static_cast<double>(input->video_stream()->duration) *
                       av_q2d(input->video_stream()->time_base);
  }
  if (duration_seconds > limits.max_duration_seconds) {
    return Status::CorruptMedia("video duration " + std::to_string(duration_seconds) +
                                " s exceeds the limit of " +
                                std::to_string(limits.max_duration_seconds) + " s");
  }
  return input;
}

TimestampJoiner::TimestampJoiner(const AVFormatContext* format)
    : format_(format), enabled_(format->iformat->flags & AVFMT_TS_DISCONT) {}

void TimestampJoiner::Apply(AVPacket* packet) {
  if (!enabled_ || packet->dts == AV_NOPTS_VALUE) return;
  const AVStream* stream = format_->streams[packet->stream_index];
  int64_t dts = av_rescale_q(packet->dts, stream->time_base, AV_TIME_BASE_Q) + offset_;
  auto last = std::find_if(last_dts_.begin(), last_dts_.end(),
                           [&](const auto& entry) { return entry.first == packet->stream_index; });
  if (last == last_dts_.end()) {
    last_dts_.emplace_back(packet->stream_index, dts);
  } else {
    const int64_t back = last->second - dts;
    const int64_t leap = dts - last_dts_of_file_;
    if (back > AV_TIME_BASE / 10 || leap > 10 * int64_t{AV_TIME_BASE}) {
      // On from the last timestamp read, by this packet's own duration.
      const int64_t duration =
          packet->duration > 0 ? av_rescale_q(packet->duration, stream->time_base, AV_TIME_BASE_Q)
                               : 0;
      const int64_t shift = last_dts_of_file_ + duration - dts;
      offset_ += shift;
      dts += shift;
      ++joins_;
      char moved[32];
      std::snprintf(moved, sizeof(moved), "%.3f", static_cast<double>(shift) / AV_TIME_BASE);
      LogInfo(std::string("timestamps jump at a join: moved on by ") + moved + " s");
    }
    last->second = dts;
  }
  last_dts_of_file_ = std::max(last_dts_of_file_, dts);
  if (offset_ != 0) {
    const int64_t shift = av_rescale_q(offset_, AV_TIME_BASE_Q, stream->time_base);
    packet->dts += shift;
    if (packet->pts != AV_NOPTS_VALUE) packet->pts += shift;
  }
}

Status MediaInput::ReadPacket(AVPacket* packet, bool* eof) {
  *eof = false;
  av_packet_unref(packet);
  AvLogCapture capture;
  int ret = av_read_frame(format_.get(), packet);
  if (ret == AVERROR_EOF) {
    if (Status interrupted = CheckInterrupt(); !interrupted.ok()) {
      return interrupted.Annotate("reading input");
    }
    *eof = true;
    return Status::Ok();
  }
  if (ret < 0) {
    // (A transport stream announces its streams as its packets come.)
    if (std::optional<Status> refusal = TooManyStreams(capture, limits_)) return *refusal;
    return ErrorStatus(ret, "reading input", capture.first_error());
  }
  return Status::Ok();
}

Status MediaInput::SeekTo(int stream_index, int64_t timestamp) {
  // Demuxers without an index (MPEG-TS, MPEG-PS) seek by the timestamps of
  // any packet and may land after the keyframe that the pictures from
  // `timestamp` need: nothing would decode until the next keyframe (seconds
  // later in broadcast streams). So the landing is checked, and the seek goes
  // further back (1, 2, 4 … s) until the first keyframe read is at or before
  // `timestamp`, or to the start.
  const AVStream* stream = format_->streams[stream_index];
  const int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
  const int64_t second = std::max<int64_t>(1, av_rescale_q(1, AVRational{1, 1}, stream->time_base));
  int64_t target = timestamp;
  for (int64_t back = second;; back *= 2) {
    RETURN_IF_ERROR(SeekBackward(stream_index, target));
    ASSIGN_OR_RETURN(const bool landed, KeyframeComesBy(stream_index, timestamp));
    if (landed) return SeekBackward(stream_index, target);
    if (target <= start) return Rewind();
    target = std::max(start, timestamp - back);
  }
}

Status MediaInput::SeekBackward(int stream_index, int64_t timestamp) {
  AvLogCapture capture;
  int ret = av_seek_frame(format_.get(), stream_index, timestamp, AVSEEK_FLAG_BACKWARD);
  if (ret < 0) {
    return ErrorStatus(ret, "seeking input", capture.first_error());
  }
  return Status::Ok();
}

Result<bool> MediaInput::KeyframeComesBy(int stream_index, int64_t timestamp) {
  ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
  bool eof = false;
  while (true) {
    RETURN_IF_ERROR(ReadPacket(packet.get(), &eof));
    if (eof) return true;  // nothing later to decode: no earlier landing helps
    if (packet->stream_index != stream_index) continue;
    const int64_t when = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
    if (packet->flags & AV_PKT_FLAG_KEY) return when == AV_NOPTS_VALUE || when <= timestamp;
    if (packet->dts != AV_NOPTS_VALUE && packet->dts > timestamp) return false;
  }
}

Status MediaInput::Rewind() {
  AvLogCapture capture;
  // By libavformat's default stream; when that is not the video (a poster
  // picture track before it), by the video's own timestamps: by the poster's,
  // Matroska lands past the video's first packets (two of a hundred would go
  // uncounted).
  int ret = 0;
  if (av_find_default_stream_index(format_.get()) == video_stream_index_) {
    ret = avformat_seek_file(format_.get(), -1, INT64_MIN, 0, 0, 0);
  } else {
    const AVStream* video = video_stream();
    const int64_t start = video->start_time != AV_NOPTS_VALUE ? video->start_time : 0;
    ret = avformat_seek_file(format_.get(), video_stream_index_, INT64_MIN, start, start, 0);
  }
  if (ret < 0) {
    ret = av_seek_frame(format_.get(), -1, 0, AVSEEK_FLAG_BYTE);
  }
  if (ret < 0) {
    return ErrorStatus(ret, "rewinding input", capture.first_error());
  }
  return Status::Ok();
}

Result<CodecContextPtr> OpenDecoder(const AVStream* stream, const MediaLimits& limits,
                                    int thread_count) {
  const AVCodecParameters* par = stream->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (codec == nullptr) {
    return Status::CorruptMedia(std::string("no decoder for codec '") +
                                avcodec_get_name(par->codec_id) + "'");
  }
  ASSIGN_OR_RETURN(CodecContextPtr decoder, NewCodecContext(codec));
  AvLogCapture capture;
  int ret = avcodec_parameters_to_context(decoder.get(), par);
  if (ret < 0) {
    return AvStatus(ret, "cannot configure the decoder", capture.first_error());
  }
  decoder->pkt_timebase = stream->time_base;
  AvDictionary options;
  options.Set("max_pixels", limits.max_frame_pixels);
  if (thread_count > 0) {
    options.Set("threads", thread_count);
  } else {
    options.Set("threads", "auto");
  }
  ret = avcodec_open2(decoder.get(), codec, options.address());
  if (ret < 0) {
    Status status = AvStatus(ret, std::string("cannot open the ") + codec->name + " decoder",
                             capture.first_error());
    if (status.code() == Code::kInternal) {
      return Status::CorruptMedia(status.message());
    }
    return status;
  }
  return decoder;
}

Result<FramePtr> FirstVideoFrame(MediaInput& input) {
  ASSIGN_OR_RETURN(CodecContextPtr decoder, OpenDecoder(input.video_stream(), input.limits(), 1));
  ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
  ASSIGN_OR_RETURN(FramePtr frame, NewFrame());
  bool eof = false;
  for (int packet_idx = 0; packet_idx < 1000; ++packet_idx) {
    RETURN_IF_ERROR(input.ReadPacket(packet.get(), &eof));
    if (eof) {
      avcodec_send_packet(decoder.get(), nullptr);
    } else if (packet->stream_index != input.video_stream_index()) {
      continue;
    } else {
      int ret = avcodec_send_packet(decoder.get(), packet.get());
      if (ret < 0 && ret != AVERROR(EAGAIN)) {
        continue;  // A damaged first packet; the next may decode.
      }
    }
    int ret = avcodec_receive_frame(decoder.get(), frame.get());
    if (ret == 0) return frame;
    if (eof || (ret < 0 && ret != AVERROR(EAGAIN))) break;
  }
  return Status::CorruptMedia("cannot decode the first video frame");
}

int64_t FrameDuration(const AVFrame* frame, AVRational frame_rate, AVRational time_base) {
  if (frame->pkt_duration > 0) return frame->pkt_duration;
  if (frame->nb_samples > 0 && frame->sample_rate > 0) {
    return std::max<int64_t>(
        1, av_rescale_q(frame->nb_samples, AVRational{1, frame->sample_rate}, time_base));
  }
  if (frame_rate.num > 0 && frame_rate.den > 0) {
    return std::max<int64_t>(1, av_rescale_q(1, av_inv_q(frame_rate), time_base));
  }
  return 1;
}

int UprightRotation(const AVStream* stream) {
  size_t size = 0;
  const uint8_t* matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (matrix == nullptr || size < 9 * sizeof(int32_t)) return 0;
  // av_display_rotation_get gives the counter-clockwise angle the matrix
  // turns by; the picture is shown turned that much the other way round.
  const double angle = av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
  if (std::isnan(angle)) return 0;
  const int quarter = static_cast<int>(std::lround(-angle / 90.0));
  return ((quarter % 4) + 4) % 4 * 90;
}

PictureShape Turned(int rotation, int width, int height, AVRational sar) {
  if (rotation % 180 == 0) return PictureShape{width, height, sar};
  return PictureShape{height, width, sar.num > 0 && sar.den > 0 ? av_inv_q(sar) : sar};
}

std::string UprightFilter(int rotation) {
  switch (rotation) {
    case 90:
      return "transpose=clock";
    case 180:
      return "hflip,vflip";
    case 270:
      return "transpose=cclock";
    default:
      return "";
  }
}

}  // namespace vidmill::engine
