#pragma once
// Opening an untrusted media file safely.
//
// Uploaded files are hostile until proven otherwise. MediaInput opens one with:
//  * Vidmill's own AVIOContext: read/seek callbacks on a file descriptor of the
//    stored regular file. No libavformat protocol is ever used — the URL given to
//    libavformat is only a name — and the demuxer's io_open callback refuses every
//    nested open, so a playlist or a reference inside the file can never reach
//    `file:///etc/passwd` or the network.
//  * A demuxer allow-list (kAllowedDemuxers): the container is probed from the
//    bytes by Vidmill, and anything not a real video container (hls, concat,
//    image2 and the image pipes, tee, data, ffmetadata, sdp, rtsp …) is refused
//    before a demuxer runs. format_whitelist is set as well, as a second lock.
//  * max_streams, probesize and analyzeduration from MediaLimits.
//  * An interrupt callback — also checked on every read — that stops any call once
//    the deadline passes or the cancel callback says so.
//  * max_pixels on every decoder opened with OpenDecoder().
//  * Limits checked after probing: a video stream must exist, its frame size and
//    the duration must be within MediaLimits.
//
// Errors (see av_error.h for the classification):
//  * kCorruptMedia: not a video, refused container, truncated, undecodable, no
//    video stream, over a limit. Retrying will not help. Messages read like
//    "cannot open input: moov atom not found".
//  * kNotFound: the path does not exist. kUnavailable: an I/O fault.
//  * kTimeout: the deadline passed. kCancelled: the cancel callback returned true.
//
// Thread safety: a MediaInput is used by one thread at a time. Distinct inputs
// are independent.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/audio_streams.h"
#include "common/status.h"
#include "engine/av_ptr.h"

namespace vidmill::engine {

// Returns true when the work should stop (job deleted, shutdown). Called often,
// from the thread doing the work; must be cheap and must not throw.
using CancelFn = std::function<bool()>;

// Limits applied to one untrusted input (worker flags --max-frame-pixels and
// --max-duration-seconds map onto the first two).
struct MediaLimits {
  // Largest accepted width × height of the video stream; also given to decoders
  // as max_pixels. Default: 8K UHD.
  int64_t max_frame_pixels = int64_t{7680} * 4320;
  // Longest accepted duration. Default: 6 hours.
  double max_duration_seconds = 6 * 3600.0;
  // Every read and every interruptible call fails with kTimeout after this.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Demuxer limits.
  // Streams a file may hold (all kinds): room for kMaxAudioStreams
  // audio streams, the video and data or timecode tracks.
  int max_streams = 128;
  int64_t probesize_bytes = 10'000'000;
  int64_t analyzeduration_us = 10'000'000;
};

// Demuxer names (AVInputFormat::name) MediaInput accepts. A demuxer whose name
// is a comma list (e.g. "mov,mp4,m4a,3gp,3g2,mj2") is listed as it is named.
const std::vector<std::string_view>& AllowedDemuxers();

// True when `demuxer_name` (an AVInputFormat::name) is on the allow-list.
bool IsAllowedDemuxer(std::string_view demuxer_name);

// MPEG transport streams cut together (two .mts files joined with cat, a
// recorder's segments) start their clock again at each join: the second
// part's timestamps run backwards, and its pictures would be dropped as
// duplicates. Where the format says its timestamps may jump
// (AVFMT_TS_DISCONT), a stream going back more than 0.1 s, or any leap
// forward of more than 10 s, is taken as a join: the timestamps of every
// packet given are moved on from there, as ffmpeg's own tool does, so the
// parts follow one another. Give it only the streams used: a data stream's
// own clock (SCTE-35 cues, teletext) must not move the pictures and sound.
class TimestampJoiner {
 public:
  explicit TimestampJoiner(const AVFormatContext* format);
  // Moves `packet` (of the format's stream `packet->stream_index`) on past
  // the joins seen so far.
  void Apply(AVPacket* packet);
  // Joins found so far.
  int joins() const { return joins_; }

 private:
  const AVFormatContext* format_;
  bool enabled_;
  int joins_ = 0;
  int64_t offset_ = 0;  // in AV_TIME_BASE units
  int64_t last_dts_of_file_ = INT64_MIN;
  std::vector<std::pair<int, int64_t>> last_dts_;  // per stream, moved on
};

class MediaInput {
 public:
  // Opens `path`, probes it and finds its streams (avformat_find_stream_info).
  // `cancel` may be empty. The returned object is pinned (callbacks point at it).
  static Result<std::unique_ptr<MediaInput>> Open(const std::string& path,
                                                  const MediaLimits& limits,
                                                  CancelFn cancel = nullptr);

  ~MediaInput();
  MediaInput(const MediaInput&) = delete;
  MediaInput& operator=(const MediaInput&) = delete;

  // The demuxer. Owned by this object; valid for its lifetime.
  AVFormatContext* format() const { return format_.get(); }
  // The main video stream (never an attached picture / cover art).
  int video_stream_index() const { return video_stream_index_; }
  AVStream* video_stream() const { return format_->streams[video_stream_index_]; }
  // A raw stream (.m2v, .h264, .hevc): its video has no start time, and its
  // packets no times but libavformat's guesses from the decoding order, a
  // frame late where pictures are reordered, or none at all (H.264, HEVC).
  // The metadata and the transcoder time its pictures from 0 by count.
  bool untimed() const { return video_stream()->start_time == AV_NOPTS_VALUE; }
  // The best audio stream, or -1.
  int audio_stream_index() const { return audio_stream_index_; }
  AVStream* audio_stream() const {
    return audio_stream_index_ < 0 ? nullptr : format_->streams[audio_stream_index_];
  }
  // Every audio stream with a known sample rate and channel count and a
  // decoder, in the file's order (broadcast MXF: one per channel), at most
  // kMaxAudioStreams (common/audio_streams.h); audio_streams_found() counts
  // them all.
  const std::vector<int>& audio_stream_indices() const { return audio_stream_indices_; }
  int audio_streams_found() const { return audio_streams_found_; }
  // Size of the file in bytes.
  int64_t file_size() const { return file_size_; }
  const MediaLimits& limits() const { return limits_; }

  // Reads the next packet into `packet` (unreferenced first). Returns OK, or
  // AVERROR_EOF via `*eof = true` with an OK status at the end of the file, or an
  // error Status (kTimeout/kCancelled when interrupted).
  Status ReadPacket(AVPacket* packet, bool* eof);

  // Seeks so that the next packets of `stream_index` start at the keyframe at or
  // before `timestamp` (in that stream's time base), checked by reading (see
  // media_input.cc). Errors as ReadPacket.
  Status SeekTo(int stream_index, int64_t timestamp);

  // Goes back to the first packet: a timestamp seek to the start, or a byte seek
  // to offset 0 for inputs without timestamps. Errors as ReadPacket.
  Status Rewind();

  // Converts a libav error from a call on this input into a Status, reporting
  // kTimeout/kCancelled when the interrupt callback caused it, the read's own
  // error when a read of the file failed with an I/O fault (kUnavailable:
  // retried, whatever the demuxer made of it), and kCorruptMedia for an error
  // AvStatus calls internal while no read has failed (the demuxer refused the
  // bytes).
  Status ErrorStatus(int averror, std::string_view context, std::string_view detail = {}) const;

  // The Status the interrupt callback would report now (OK if none). Loops that
  // do not call into libavformat (decoding, filtering) check this too.
  Status CheckInterrupt() const;

 private:
  // av_seek_frame backwards to `timestamp` of `stream_index`.
  Status SeekBackward(int stream_index, int64_t timestamp);
  // Reads on to the first keyframe of `stream_index`: whether it starts at or
  // before `timestamp` (true at the end of the input too), false as soon as a
  // later packet of that stream comes first.
  Result<bool> KeyframeComesBy(int stream_index, int64_t timestamp);

  MediaInput(const MediaLimits& limits, CancelFn cancel);
  static int ReadCallback(void* opaque, uint8_t* buf, int size);
  static int64_t SeekCallback(void* opaque, int64_t offset, int whence);
  static int InterruptCallback(void* opaque);
  static int RefuseNestedOpen(AVFormatContext* s, AVIOContext** pb, const char* url, int flags,
                              AVDictionary** options);
  bool Interrupted() const;

  MediaLimits limits_;
  CancelFn cancel_;
  int fd_ = -1;
  int64_t file_size_ = 0;
  int64_t position_ = 0;
  int read_error_ = 0;  // the AVERROR of the last read of the file that failed (ReadCallback)
  // Declaration order is destruction order reversed: the demuxer goes first,
  // then the AVIOContext it reads through; the fd is closed in ~MediaInput.
  AvioContextPtr avio_;
  FormatInputPtr format_;
  int video_stream_index_ = -1;
  int audio_stream_index_ = -1;
  std::vector<int> audio_stream_indices_;
  int audio_streams_found_ = 0;
};

// How long decoded `frame` lasts in `time_base` (at least 1): its packet's
// duration, else its samples' (audio), else one period of `frame_rate`.
int64_t FrameDuration(const AVFrame* frame, AVRational frame_rate, AVRational time_base);

// How many degrees clockwise `stream`'s stored pictures are turned to stand
// upright (0, 90, 180 or 270), from its display matrix: phones store portrait
// video landscape with such a matrix. 0 without one; mirroring is ignored.
int UprightRotation(const AVStream* stream);

// A `width`×`height` picture with pixels `sar` as it stands after turning it
// `rotation` degrees clockwise: width and height swapped and the pixel shape
// inverted for a quarter turn.
struct PictureShape {
  int width = 0;
  int height = 0;
  AVRational sar{1, 1};
};
PictureShape Turned(int rotation, int width, int height, AVRational sar);

// The libavfilter steps that turn a picture `rotation` degrees clockwise
// ("" for 0 or -1).
std::string UprightFilter(int rotation);

// Opens a decoder for `stream` with the limits applied (max_pixels, thread
// count: 0 = libavcodec's choice). The decoder's packet time base is the
// stream's. Errors: kCorruptMedia when no decoder exists or it refuses the
// parameters.
Result<CodecContextPtr> OpenDecoder(const AVStream* stream, const MediaLimits& limits,
                                    int thread_count = 0);

// The first video frame that decodes, read from wherever `input` is (a
// damaged first packet is skipped; at most 1000 packets are read), with a
// decoder of its own. kCorruptMedia when none decodes. The caller rewinds.
Result<FramePtr> FirstVideoFrame(MediaInput& input);

}  // namespace vidmill::engine
