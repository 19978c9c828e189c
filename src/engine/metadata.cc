#include "engine/metadata.h"

#include <cmath>
#include <limits>
#include <numeric>

#include "engine/av_error.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace vidmill::engine {
namespace {

Rational Reduced(int64_t num, int64_t den) {
  if (num <= 0 || den <= 0) {
    return Rational{0, 1};
  }
  int reduced_num = 0;
  int reduced_den = 0;
  av_reduce(&reduced_num, &reduced_den, num, den, 1 << 20);
  return Rational{reduced_num, reduced_den};
}

const char* FieldOrderName(FieldOrder order) {
  switch (order) {
    case FieldOrder::kTopFieldFirst:
      return "top_field";
    case FieldOrder::kBottomFieldFirst:
      return "bottom_field";
    case FieldOrder::kNone:
      break;
  }
  return nullptr;
}

// Decodes the first video frame and reads its interlacing flags.
Result<Scanning> ScanningFromFirstFrame(MediaInput& input) {
  ASSIGN_OR_RETURN(FramePtr frame, FirstVideoFrame(input));
  if (!frame->interlaced_frame) {
    return Scanning{};
  }
  return Scanning{ScanningType::kInterlaced, frame->top_field_first
                                                 ? FieldOrder::kTopFieldFirst
                                                 : FieldOrder::kBottomFieldFirst};
}

struct StreamCount {
  int64_t frames = 0;
  int64_t bytes = 0;
  bool exact = false;
  double seconds = 0;  // from the first packet's start to the last one's end; 0: unknown
  int joins = 0;       // transport streams cut together (TimestampJoiner)
  // The frames and seconds the average rate is counted over (CountPackets):
  // between keyframes where there are enough, else `frames` over `seconds`.
  int64_t rate_frames = 0;
  double rate_seconds = 0;
  // Where the first picture shown starts (time base of the stream), when
  // pictures before it were not counted: a stream cut at its start.
  std::optional<int64_t> shown_start;
};

// The sample tables of MP4/MOV list every frame: libavformat loads them into the
// stream index while parsing the moov atom.
std::optional<StreamCount> CountFromIndex(MediaInput& input) {
  AVStream* stream = input.video_stream();
  std::string_view demuxer = input.format()->iformat->name;
  int entries = avformat_index_get_entries_count(stream);
  if (demuxer != "mov,mp4,m4a,3gp,3g2,mj2" || stream->nb_frames <= 0 ||
      entries != stream->nb_frames) {
    return std::nullopt;
  }
  StreamCount count;
  count.exact = true;
  // Frames an edit list hides (an MP4 trimmed without re-encoding keeps them
  // back to the keyframe before its start) are stored but never shown: they
  // are not counted (counting them, an MP4 would report 50 frames for 35
  // shown).
  for (int entry_idx = 0; entry_idx < entries; ++entry_idx) {
    const AVIndexEntry* entry = avformat_index_get_entry(stream, entry_idx);
    if (entry->flags & AVINDEX_DISCARD_FRAME) continue;
    count.frames++;
    count.bytes += entry->size;
  }
  return count;
}

// The video packets CountPackets has read of one kind (shown, or not).
struct PacketTally {
  int64_t frames = 0;
  int64_t bytes = 0;
  int64_t first = INT64_MAX;  // the span's start and end, in the stream's time base
  int64_t end = INT64_MIN;

  void Add(const AVPacket& packet) {
    ++frames;
    bytes += packet.size;
    // An MXF cut short, whose index went with its end, gives its I- and
    // P-pictures no pts: their dts stands for it in the span, which had
    // ended two pictures early and started two late (audit 31 F5).
    const int64_t when = packet.pts != AV_NOPTS_VALUE ? packet.pts : packet.dts;
    if (when == AV_NOPTS_VALUE) return;
    first = std::min(first, when);
    end = std::max(end, when + std::max<int64_t>(packet.duration, 0));
  }
  void Merge(const PacketTally& other) {
    frames += other.frames;
    bytes += other.bytes;
    first = std::min(first, other.first);
    end = std::max(end, other.end);
  }
};

// Returns an error when the index points past the end of the file.
Status CheckIndexWithinFile(MediaInput& input) {
  AVStream* stream = input.video_stream();
  int entries = avformat_index_get_entries_count(stream);
  int64_t end = 0;
  for (int entry_idx = 0; entry_idx < entries; ++entry_idx) {
    const AVIndexEntry* entry = avformat_index_get_entry(stream, entry_idx);
    end = std::max<int64_t>(end, entry->pos + entry->size);
  }
  if (end > input.file_size()) {
    // A whole file whose index was damaged says the same (audit 40 F7).
    return Status::CorruptMedia(
        "the file is truncated or its index damaged: the video's index "
        "reaches byte " +
        std::to_string(end) + ", the file has " + std::to_string(input.file_size()));
  }
  return Status::Ok();
}

Result<StreamCount> CountPackets(MediaInput& input, const ProbeOptions& options) {
  AVFormatContext* format = input.format();
  RETURN_IF_ERROR(input.Rewind());
  for (unsigned stream_idx = 0; stream_idx < format->nb_streams; ++stream_idx) {
    if (static_cast<int>(stream_idx) != input.video_stream_index()) {
      format->streams[stream_idx]->discard = AVDISCARD_ALL;
    }
  }
  ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
  StreamCount count;
  std::vector<int64_t> pts_list;  // every picture's, for the rate between keyframes
  std::vector<int64_t> key_pts;   // the keyframes', in decoding order
  TimestampJoiner joiner(format);
  // A stream cut at its start (an off-air capture begins mid-GOP) holds
  // pictures no decoder shows: those before its first keyframe, and those
  // after it shown before it (an open GOP's leading B-pictures). They are
  // not counted, and the span starts at the first picture shown: totalFrames
  // had said 48 where 39 decode (audit 31 F7). A stream without keyframe
  // flags is counted whole.
  std::optional<int64_t> first_key;
  bool first_key_timed = false;  // it has a pts (an elementary stream's have none)
  // A raw stream's first keyframe counts though it has no time (a cut .h264
  // had counted 61 pictures where 50 decode, those before the keyframe
  // lacking their parameter sets).
  const bool untimed = input.untimed();
  PacketTally counted, skipped;
  auto start = std::chrono::steady_clock::now();
  int64_t packet_idx = 0;
  bool eof = false;
  double read_share = 1;  // of the file, when the budget ends the count
  while (true) {
    RETURN_IF_ERROR(input.ReadPacket(packet.get(), &eof));
    if (eof) {
      count.exact = true;
      break;
    }
    if (packet->stream_index == input.video_stream_index()) {
      joiner.Apply(packet.get());
      const int64_t when = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
      if (!first_key && (packet->flags & AV_PKT_FLAG_KEY) && (when != AV_NOPTS_VALUE || untimed)) {
        first_key = when != AV_NOPTS_VALUE ? when : std::numeric_limits<int64_t>::min();
        first_key_timed = packet->pts != AV_NOPTS_VALUE;
      }
      const bool shown = first_key && (packet->pts == AV_NOPTS_VALUE || packet->pts >= *first_key);
      (shown ? counted : skipped).Add(*packet);
      if (shown && packet->pts != AV_NOPTS_VALUE) {
        pts_list.push_back(packet->pts);
        if (packet->flags & AV_PKT_FLAG_KEY) key_pts.push_back(packet->pts);
      }
    }
    if (++packet_idx % 256 == 0) {
      double read_fraction = input.file_size() > 0
                                 ? static_cast<double>(avio_tell(format->pb)) / input.file_size()
                                 : 0;
      if (options.on_count_progress) {
        options.on_count_progress(std::clamp(read_fraction, 0.0, 1.0));
      }
      if (options.count_policy == CountPolicy::kBudgeted &&
          std::chrono::steady_clock::now() - start >= options.count_budget) {
        read_share = read_fraction;
        break;
      }
    }
  }
  for (unsigned stream_idx = 0; stream_idx < format->nb_streams; ++stream_idx) {
    format->streams[stream_idx]->discard = AVDISCARD_DEFAULT;
  }
  if (!first_key) counted.Merge(skipped);
  count.frames = counted.frames;
  count.bytes = counted.bytes;
  if (read_share > 0 && read_share < 1) {
    // Extrapolate the bytes; the frame estimate comes from duration × rate.
    count.bytes = static_cast<int64_t>(std::llround(count.bytes / read_share));
  }
  const int64_t first_pts = counted.first, end_pts = counted.end;
  // Where pictures have no pts (a raw MPEG-2 stream's decoding times stand
  // in), the video keeps the demuxer's start, as the decoder's timeline does:
  // moved to the first keyframe's dts, a cut .m2v's start and span had run
  // past its duration (audit 37 F4).
  if (first_key_timed && skipped.frames > 0 && counted.frames > 0) count.shown_start = first_pts;
  if (count.exact && end_pts > first_pts) {
    const double time_base = av_q2d(input.video_stream()->time_base);
    count.seconds = (end_pts - first_pts) * time_base;
    count.joins = joiner.joins();
    count.rate_frames = count.frames;
    count.rate_seconds = count.seconds;
    // A stream cut at either end lacks pictures there: before its first
    // keyframe (a capture that starts mid-GOP), and the B-frames shown before
    // its last keyframe, which come after it. Between the first keyframe and
    // the last but one no picture is missing, and where that holds 10
    // pictures or more the rate is counted there: the whole span's count had
    // made a 25i MPEG-2 stream cut at its end 23.98 frames/s, and one cut at
    // its start 24.49 (audit 31 F1). Only where that rate explains the whole
    // span but for a few pictures (4, or 5 % of them: what a cut takes at
    // the ends): a variable-rate recording whose keyframes gather where it
    // is busy has another rate there (a screen recording of 13.2 frames/s
    // had read 30; audit 34 F3).
    if (key_pts.size() >= 3) {
      const int64_t from = key_pts.front(), to = key_pts[key_pts.size() - 2];
      const int64_t pictures = std::count_if(pts_list.begin(), pts_list.end(),
                                             [&](int64_t pts) { return pts >= from && pts < to; });
      if (to > from && pictures >= 10) {
        const double seconds = (to - from) * time_base;
        const double unexplained = std::fabs(count.frames - pictures / seconds * count.seconds);
        if (unexplained <= std::max(4.0, 0.05 * count.frames)) {
          count.rate_frames = pictures;
          count.rate_seconds = seconds;
        }
      }
    }
  }
  return count;
}

// VideoMetadata::nominal_framerate. An interlaced stream's r_frame_rate may
// be its field rate, and a ratio of 1.5 or more is more likely such a count
// of fields or ticks than dropped frames.
double NominalFramerate(const AVStream& stream, double average, const Scanning& scanning) {
  const AVRational r = stream.r_frame_rate;
  if (average <= 0 || r.num <= 0 || r.den <= 0 || scanning.interlaced()) return average;
  const double guess = av_q2d(r);
  return guess > average * 1.01 && guess < average * 1.5 ? guess : average;
}

}  // namespace

std::optional<Scanning> ScanningFromFieldOrder(AVFieldOrder order) {
  switch (order) {
    case AV_FIELD_PROGRESSIVE:
      return Scanning{};
    case AV_FIELD_TT:
    case AV_FIELD_TB:
      return Scanning{ScanningType::kInterlaced, FieldOrder::kTopFieldFirst};
    case AV_FIELD_BB:
    case AV_FIELD_BT:
      return Scanning{ScanningType::kInterlaced, FieldOrder::kBottomFieldFirst};
    case AV_FIELD_UNKNOWN:
      break;
  }
  return std::nullopt;
}

boost::json::object Scanning::ToJson() const {
  boost::json::object out;
  out["scanningType"] = interlaced() ? "interlaced" : "progressive";
  const char* order = FieldOrderName(field_order);
  if (order != nullptr) {
    out["interlacedFieldOrder"] = order;
  } else {
    out["interlacedFieldOrder"] = nullptr;
  }
  return out;
}

std::string Scanning::ToString() const {
  if (!interlaced()) {
    return "progressive";
  }
  return std::string("interlaced ") + FieldOrderName(field_order);
}

std::string Rational::ToString() const {
  if (num <= 0 || den <= 0) {
    return "";
  }
  return std::to_string(num) + ":" + std::to_string(den);
}

PixelFormatInfo DescribePixelFormat(AVPixelFormat format) {
  PixelFormatInfo info;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (desc == nullptr) {
    return info;
  }
  info.name = desc->name;
  info.bits = desc->comp[0].depth;
  if (desc->nb_components <= 2) {
    info.chroma_subsampling = "4:0:0";  // grey (with or without alpha)
  } else if (desc->flags & AV_PIX_FMT_FLAG_RGB) {
    info.chroma_subsampling = "4:4:4";
  } else {
    int w = desc->log2_chroma_w;
    int h = desc->log2_chroma_h;
    if (w == 0 && h == 0) {
      info.chroma_subsampling = "4:4:4";
    } else if (w == 1 && h == 0) {
      info.chroma_subsampling = "4:2:2";
    } else if (w == 1 && h == 1) {
      info.chroma_subsampling = "4:2:0";
    } else if (w == 2 && h == 0) {
      info.chroma_subsampling = "4:1:1";
    } else if (w == 2 && h == 2) {
      info.chroma_subsampling = "4:1:0";
    } else if (w == 0 && h == 1) {
      info.chroma_subsampling = "4:4:0";
    } else {
      info.chroma_subsampling =
          "4:" + std::to_string(4 >> w) + ":" + std::to_string(h == 0 ? 4 >> w : 0);
    }
  }
  return info;
}

boost::json::object VideoMetadata::ToJson() const {
  boost::json::object out;
  out["containerName"] = container_name;
  out["longContainerName"] = long_container_name;
  out["codecName"] = codec_name;
  out["longCodecName"] = long_codec_name;
  out["pixelFormat"] = boost::json::object{
      {"name", pixel_format.name},
      {"chromaSubsampling",
       boost::json::object{{"yuv", pixel_format.chroma_subsampling}, {"bits", pixel_format.bits}}}};
  out["frameWidth"] = frame_width;
  out["frameHeight"] = frame_height;
  boost::json::object scanning;
  scanning["metadata"] = scanning_metadata.ToJson();
  // null without the deep analysis (light ingestion), so the document keeps
  // the reference's shape (the key is there either way).
  scanning["heuristics"] =
      scanning_heuristics ? boost::json::value(scanning_heuristics->ToJson()) : nullptr;
  out["scanning"] = std::move(scanning);
  out["averageFramerate"] = average_framerate;
  out["nominalFramerate"] = nominal_framerate;
  out["rotation"] = rotation;
  out["durationInMillis"] = duration_millis;
  out["videoDurationInMillis"] = video_duration_millis;
  out["videoStartInMillis"] = video_start_millis;
  out["timestampJoins"] = timestamp_joins;
  out["totalFrames"] = total_frames;
  out["totalFramesExact"] = total_frames_exact;
  out["size"] = size;
  out["videoStreamSize"] = video_stream_size;
  out["displayAspectRatio"] = display_aspect_ratio.ToString();
  out["sampleAspectRatio"] = sample_aspect_ratio.ToString();
  out["storageAspectRatio"] = storage_aspect_ratio.ToString();
  out["bitRate"] = bit_rate;
  if (has_audio) {
    out["audio"] = boost::json::object{{"codecName", audio_codec_name},
                                       {"channels", audio_channels},
                                       {"sampleRate", audio_sample_rate},
                                       {"streams", audio_streams}};
  } else {
    out["audio"] = nullptr;
  }
  return out;
}

Result<VideoMetadata> ProbeMetadata(MediaInput& input, const ProbeOptions& options) {
  VideoMetadata meta;
  const AVFormatContext* format = input.format();
  const AVStream* stream = input.video_stream();
  const AVCodecParameters* par = stream->codecpar;

  meta.container_name = format->iformat->name;
  meta.long_container_name = format->iformat->long_name ? format->iformat->long_name : "";
  meta.codec_name = avcodec_get_name(par->codec_id);
  const AVCodecDescriptor* codec_desc = avcodec_descriptor_get(par->codec_id);
  meta.long_codec_name = codec_desc && codec_desc->long_name ? codec_desc->long_name : "";
  meta.pixel_format = DescribePixelFormat(static_cast<AVPixelFormat>(par->format));
  AVRational sar =
      stream->sample_aspect_ratio.num > 0 ? stream->sample_aspect_ratio : par->sample_aspect_ratio;
  if (sar.num <= 0 || sar.den <= 0) {
    sar = AVRational{1, 1};
  }
  meta.rotation = UprightRotation(stream);
  const PictureShape upright = Turned(meta.rotation, par->width, par->height, sar);
  meta.frame_width = upright.width;
  meta.frame_height = upright.height;
  sar = upright.sar;
  meta.sample_aspect_ratio = Reduced(sar.num, sar.den);
  meta.display_aspect_ratio =
      Reduced(int64_t{meta.frame_width} * sar.num, int64_t{meta.frame_height} * sar.den);
  meta.storage_aspect_ratio = Reduced(meta.frame_width, meta.frame_height);

  AVRational rate = stream->avg_frame_rate.num > 0 && stream->avg_frame_rate.den > 0
                        ? stream->avg_frame_rate
                        : stream->r_frame_rate;
  meta.average_framerate = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;

  if (format->duration != AV_NOPTS_VALUE && format->duration > 0) {
    meta.duration_millis = av_rescale(format->duration, 1000, AV_TIME_BASE);
  } else if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
    meta.duration_millis = av_rescale_q(stream->duration, stream->time_base, AVRational{1, 1000});
  }
  // Milliseconds from the file's start to `pts` of the video stream.
  const auto since_file_start = [format, stream](int64_t pts) {
    const int64_t file_start = format->start_time != AV_NOPTS_VALUE ? format->start_time : 0;
    const int64_t at = av_rescale_q(pts, stream->time_base, AV_TIME_BASE_Q);
    return std::max<int64_t>(0, (at - file_start) / 1000);
  };
  if (stream->start_time != AV_NOPTS_VALUE) {
    meta.video_start_millis = since_file_start(stream->start_time);
  }
  meta.size = input.file_size();
  meta.bit_rate = format->bit_rate > 0 ? format->bit_rate : 0;

  if (const AVStream* audio = input.audio_stream(); audio != nullptr) {
    meta.has_audio = true;
    meta.audio_codec_name = avcodec_get_name(audio->codecpar->codec_id);
    meta.audio_channels = audio->codecpar->ch_layout.nb_channels;
    meta.audio_sample_rate = audio->codecpar->sample_rate;
    meta.audio_streams = input.audio_streams_found();
  }

  // Frame count and stream size.
  std::optional<StreamCount> count = CountFromIndex(input);
  if (count) {
    RETURN_IF_ERROR(CheckIndexWithinFile(input));
  } else {
    ASSIGN_OR_RETURN(StreamCount counted, CountPackets(input, options));
    count = counted;
  }

  // Scanning from metadata: the stream's field order, else the first frame.
  // The mixed codes (tb, bt) are ambiguous: FFmpeg's own muxers write top field
  // first as tb in MOV, while its MXF demuxer reports bottom-field-first
  // content (field dominance "last") as tb. There the codec's own flag, on the
  // first decoded frame, decides.
  std::optional<Scanning> scanning = ScanningFromFieldOrder(par->field_order);
  const bool mixed = par->field_order == AV_FIELD_TB || par->field_order == AV_FIELD_BT;
  if (!scanning || mixed) {
    RETURN_IF_ERROR(input.Rewind());
    ASSIGN_OR_RETURN(Scanning from_frame, ScanningFromFirstFrame(input));
    if (!scanning || from_frame.interlaced()) {
      scanning = from_frame;
    }
  }
  meta.scanning_metadata = *scanning;
  const std::string_view demuxer = format->iformat->name;
  if ((demuxer == "matroska,webm" || demuxer == "mpegts") && count->rate_seconds > 0) {
    // Matroska's avg_frame_rate is its default frame duration, and MPEG-TS's
    // the stream's rate, whatever the frames do: a variable-rate WebM of 35
    // frames over 2 s says 25. Their packets are their frames, so the count
    // over their span is the average (between keyframes: CountPackets).
    const double measured = count->rate_frames / count->rate_seconds;
    if (std::fabs(measured - meta.average_framerate) > 0.02 * measured) {
      meta.average_framerate = measured;
    }
  }
  meta.nominal_framerate = NominalFramerate(*stream, meta.average_framerate, *scanning);

  if (count->joins > 0 && count->seconds > 0) {
    // A recording cut together: its header's duration spans one part.
    meta.timestamp_joins = count->joins;
    meta.duration_millis =
        std::max(meta.duration_millis, static_cast<int64_t>(std::llround(count->seconds * 1000)));
  }
  if (count->exact && count->shown_start) {
    // The pictures before the first one shown are not the video's.
    meta.video_start_millis = since_file_start(*count->shown_start);
  }
  meta.video_stream_size = count->bytes;
  meta.video_stream_size_exact = count->exact;
  meta.total_frames_exact = count->exact;
  if (count->exact) {
    meta.total_frames = count->frames;
  } else {
    meta.total_frames = std::max<int64_t>(
        count->frames, std::llround(meta.duration_millis / 1000.0 * meta.average_framerate));
  }
  if (count->frames == 0 && count->exact) {
    return Status::CorruptMedia("the video stream has no frames");
  }
  if (meta.duration_millis == 0 && meta.average_framerate > 0) {
    meta.duration_millis = std::llround(meta.total_frames * 1000.0 / meta.average_framerate);
  }
  // The counted span is exact where frames ÷ average is not: an average
  // within 2 % of the header's keeps the header's, and 2 % of an hour is
  // 72 s of pictures a range could not start in (audit 30).
  if (count->exact && count->seconds > 0) {
    // (Less a microsecond: 47 × 0.04 s is 1.8800000000000001 in floats.)
    meta.video_duration_millis = static_cast<int64_t>(std::ceil(count->seconds * 1000 - 1e-3));
  } else if (meta.average_framerate > 0) {
    meta.video_duration_millis =
        static_cast<int64_t>(std::ceil(meta.total_frames * 1000.0 / meta.average_framerate));
  }
  if (meta.duration_millis > input.limits().max_duration_seconds * 1000) {
    return Status::CorruptMedia("video duration " + std::to_string(meta.duration_millis / 1000) +
                                " s exceeds the limit of " +
                                std::to_string(input.limits().max_duration_seconds) + " s");
  }
  return meta;
}

}  // namespace vidmill::engine
