#include "engine/encoders.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/pixdesc.h>
}

#include "common/mpeg2_levels.h"
#include "engine/av_error.h"

namespace vidmill::engine {
namespace {

int ProresProfileIndex(const std::string& profile) {
  if (profile == "proxy") return 0;
  if (profile == "lt") return 1;
  if (profile == "hq") return 3;
  if (profile == "4444") return 4;
  if (profile == "4444xq") return 5;
  return 2;  // standard
}

// FFV1's slice count: 4 (2 × 2) where a slice fits the encoder's limit of
// 8 × 2²⁴ for its pixels × (bits + 1) × planes, else the fewest of its grids
// (v × h slices, v ≤ h < 2v) that fit: 8K frames, 6000×4000 in 8 bits and 5K
// in 12 had failed to open the encoder with 4. Counted with 3 planes (the
// most a frame without alpha has), so the count chosen always opens.
int Ffv1Slices(int width, int height, AVPixelFormat format) {
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(format);
  const int64_t bits = descriptor != nullptr ? descriptor->comp[0].depth : 16;
  for (int rows = 2; rows <= 16; ++rows) {
    for (int columns = rows; columns < 2 * rows; ++columns) {
      const int64_t slice_pixels =
          static_cast<int64_t>((width + columns - 1) / columns) * ((height + rows - 1) / rows);
      if (slice_pixels * (bits + 1) * 3 <= (int64_t{8} << 24)) return rows * columns;
    }
  }
  return 256;
}

}  // namespace

Result<ContainerFormat> ContainerFormatFor(const std::string& container) {
  if (container == "mov") return ContainerFormat{"mov", "pcm_s24le", AV_SAMPLE_FMT_S32};
  if (container == "mxf") return ContainerFormat{"mxf", "pcm_s24le", AV_SAMPLE_FMT_S32};
  if (container == "mp4") return ContainerFormat{"mp4", "aac", AV_SAMPLE_FMT_FLTP};
  if (container == "mts") return ContainerFormat{"mpegts", "aac", AV_SAMPLE_FMT_FLTP};
  return Status::InvalidArgument("unknown container '" + container + "'");
}

std::string VideoEncoderName(const std::string& codec) {
  if (codec == "h264") return "libx264";
  if (codec == "hevc") return "libx265";
  if (codec == "prores") return "prores_ks";
  if (codec == "dnxhd") return "dnxhd";
  if (codec == "ffv1") return "ffv1";
  return "mpeg2video";  // mpeg2, xdcam
}

Status CopyDisplayMatrix(const AVStream* in, AVStream* out) {
  size_t size = 0;
  const uint8_t* matrix = av_stream_get_side_data(in, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (matrix == nullptr || size == 0) return Status::Ok();
  uint8_t* copy = av_stream_new_side_data(out, AV_PKT_DATA_DISPLAYMATRIX, size);
  if (copy == nullptr) return Status::Internal("out of memory copying the display matrix");
  std::memcpy(copy, matrix, size);
  return Status::Ok();
}

AVRational OutputSampleAspect(const TranscodeSpec& spec) {
  if (!(spec.sample_aspect > 0) || std::abs(spec.sample_aspect - 1.0) < 1e-9) {
    return AVRational{1, 1};
  }
  return av_d2q(spec.sample_aspect, 1 << 16);
}

Result<CodecContextPtr> OpenVideoEncoder(const TranscodeSpec& spec, AVRational frame_rate,
                                         bool global_header) {
  const std::string encoder_name = VideoEncoderName(spec.codec);
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
  ctx->sample_aspect_ratio = OutputSampleAspect(spec);
  if (spec.output_colour.range != 0) {  // colour.h; the muxers write it too (mov's colr)
    ctx->colorspace = static_cast<AVColorSpace>(spec.output_colour.matrix);
    ctx->color_primaries = static_cast<AVColorPrimaries>(spec.output_colour.primaries);
    ctx->color_trc = static_cast<AVColorTransferCharacteristic>(spec.output_colour.transfer);
    ctx->color_range = static_cast<AVColorRange>(spec.output_colour.range);
  }
  ctx->thread_count = spec.threads;
  if (global_header) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (spec.interlaced_output) {
    ctx->flags |= AV_CODEC_FLAG_INTERLACED_DCT;
    ctx->field_order = spec.top_field_first ? AV_FIELD_TT : AV_FIELD_BB;
  } else {
    ctx->field_order = AV_FIELD_PROGRESSIVE;
  }
  AvDictionary options;
  const int64_t bitrate =
      spec.bitrate_mbps ? static_cast<int64_t>(std::llround(*spec.bitrate_mbps * 1e6)) : 0;
  if (spec.codec == "h264" || spec.codec == "hevc") {
    ctx->bit_rate = bitrate;
    ctx->rc_max_rate = bitrate * 3 / 2;
    ctx->rc_buffer_size = static_cast<int>(std::min<int64_t>(bitrate * 2, INT32_MAX));
    ctx->gop_size = static_cast<int>(std::lround(av_q2d(frame_rate) * 2));
    options.Set("preset", "medium");
    // FFmpeg's MXF muxer stores no reordering for H.264 (only for MPEG-2), so
    // B-frames would come back with decode-order timestamps: none in mxf.
    if (spec.codec == "h264" && spec.container == "mxf") ctx->max_b_frames = 0;
    if (spec.codec == "h264" && spec.interlaced_output) {
      options.Set("x264-params",
                  spec.top_field_first ? "interlaced=1:tff=1" : "interlaced=1:bff=1");
    }
    if (spec.codec == "hevc") {
      std::string params = "log-level=error";
      if (!spec.hdr10_x265_params.empty()) params += ":hdr10=1:" + spec.hdr10_x265_params;
      options.Set("x265-params", params.c_str());
    }
  } else if (spec.codec == "prores") {
    options.Set("profile", std::to_string(ProresProfileIndex(spec.profile)).c_str());
    options.Set("vendor", "apl0");
    // Quantiser mode: several times faster than prores_ks's bitrate search.
    // 4444 XQ gets a finer one: at 4444's quantiser it coded the same pictures.
    const int quantiser = spec.profile == "proxy" || spec.profile == "lt" ? 11
                          : spec.profile == "4444xq"                      ? 4
                                                                          : 6;
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = FF_QP2LAMBDA * quantiser;
  } else if (spec.codec == "dnxhd") {
    const bool hr = spec.profile.rfind("dnxhr_", 0) == 0;
    options.Set("profile", hr ? spec.profile.c_str() : "dnxhd");
    if (!hr) ctx->bit_rate = bitrate;
  } else if (spec.codec == "ffv1") {
    options.Set("level", "3");
    options.Set("slicecrc", "1");
    options.Set("slices", int64_t{Ffv1Slices(spec.width, spec.height, ctx->pix_fmt)});
    options.Set("coder", "range_def");
    options.Set("context", "1");
    ctx->gop_size = 1;
  } else {  // mpeg2, xdcam
    ctx->bit_rate = bitrate;
    ctx->rc_max_rate = spec.codec == "xdcam" ? bitrate : bitrate * 3 / 2;
    ctx->rc_min_rate = spec.codec == "xdcam" ? bitrate : 0;
    // One second of video, or one frame where a frame lasts longer (below
    // 1 frame/s the encoder had refused "VBV buffer too small for bitrate"),
    // but an int: 2.1 Gb at most (bitrate.mbps goes to 4000).
    const double buffer_seconds = std::max(1.0, av_q2d(ctx->time_base));
    ctx->rc_buffer_size =
        spec.codec == "xdcam"
            ? 17'825'792
            : static_cast<int>(std::min<double>(std::ceil(bitrate * buffer_seconds), INT32_MAX));
    // Within the level the encoder writes (its sequence header declares the
    // peak rate and the buffer): a 15 Mb/s SD stream had declared 22.5 Mb/s
    // and a 15 Mbit buffer at Main Level (15 Mb/s, 1.8 Mbit; audit 34 F1).
    // An average rate above the level (asked for) is written as asked.
    const AVPixFmtDescriptor* format = av_pix_fmt_desc_get(ctx->pix_fmt);
    const bool four_two_two =
        format != nullptr && format->log2_chroma_w == 1 && format->log2_chroma_h == 0;
    const Mpeg2Level level = Mpeg2LevelFor(spec.width, spec.height, four_two_two);
    if (spec.codec == "mpeg2" && bitrate <= level.max_bit_rate) {
      ctx->rc_max_rate = std::min(ctx->rc_max_rate, level.max_bit_rate);
      ctx->rc_buffer_size =
          static_cast<int>(std::min<int64_t>(ctx->rc_buffer_size, level.max_vbv_bits));
    }
    ctx->rc_initial_buffer_occupancy = ctx->rc_buffer_size * 3 / 4;
    ctx->gop_size = 12;
    ctx->max_b_frames = 2;
    if (spec.interlaced_output) ctx->flags |= AV_CODEC_FLAG_INTERLACED_ME;
    if (spec.codec == "xdcam") {
      ctx->profile = 0;             // 4:2:2 profile
      ctx->level = 2;               // high level
      ctx->intra_dc_precision = 2;  // 10 bits
      options.Set("non_linear_quant", "1");
      ctx->qmin = 1;
      ctx->qmax = 12;
      options.Set("intra_vlc", "1");
      // A fixed GOP cadence, as XDCAM HD422 deliveries expect: mpeg2video's
      // scene-change detection had put extra I-frames at cuts and flashes
      // (GOPs of 3 among the 12s).
      options.Set("sc_threshold", "1000000000");
    } else if (ctx->pix_fmt == AV_PIX_FMT_YUV422P) {
      ctx->profile = 0;
    }
  }
  AvLogCapture capture;
  int ret = avcodec_open2(ctx.get(), codec, options.address());
  if (ret < 0) {
    // Not retried, and not the source's fault (FFV1's ENOSYS for too few
    // slices would otherwise read as corrupt media).
    return AvEncoderOpenStatus(ret,
                               "opening the " + encoder_name + " encoder (" +
                                   std::to_string(spec.width) + "x" + std::to_string(spec.height) +
                                   ", " + spec.pixel_format + ")",
                               capture.first_error());
  }
  return ctx;
}

Result<CodecContextPtr> NewAudioEncoder(const std::string& container,
                                        const AVChannelLayout& layout) {
  ASSIGN_OR_RETURN(ContainerFormat format, ContainerFormatFor(container));
  const AVCodec* codec = avcodec_find_encoder_by_name(format.audio_encoder);
  if (codec == nullptr)
    return Status::Internal(std::string("no ") + format.audio_encoder + " encoder");
  ASSIGN_OR_RETURN(CodecContextPtr ctx, NewCodecContext(codec));
  // AAC's 5.0 and 5.1 (channel configurations 5 and 6) have their surround
  // pair at the back; AC-3 (DVD, broadcast) and FFmpeg's defaults at the
  // side. The encoder takes the side layouts too, but only described by a
  // program config element (channel configuration 0), which players show as
  // an unknown layout (audit 31 F6); the conversion moves the side pair to
  // the back.
  const AVChannelLayout side51 = AV_CHANNEL_LAYOUT_5POINT1, side50 = AV_CHANNEL_LAYOUT_5POINT0;
  const AVChannelLayout back51 = AV_CHANNEL_LAYOUT_5POINT1_BACK;
  const AVChannelLayout back50 = AV_CHANNEL_LAYOUT_5POINT0_BACK;
  const AVChannelLayout* wanted = &layout;
  if (std::string_view(codec->name) == "aac") {
    if (av_channel_layout_compare(&layout, &side51) == 0) wanted = &back51;
    if (av_channel_layout_compare(&layout, &side50) == 0) wanted = &back50;
  }
  bool kept = false;
  if (codec->ch_layouts == nullptr) {  // PCM: any layout
    kept = layout.nb_channels >= 1 && layout.nb_channels <= 64;
  } else {
    for (const AVChannelLayout* known = codec->ch_layouts; known->nb_channels != 0; ++known) {
      if (av_channel_layout_compare(known, wanted) == 0) kept = true;
    }
  }
  // Else the encoder's own layout for the channel count (at most 8), which
  // the conversion maps the channels into: FFmpeg's default for 6 channels,
  // 5.1(side) — what AC-3 from a DVD or broadcast carries — is not AAC's,
  // whose encoder then wrote channel configuration 0, a layout players call
  // unknown (audit 31 F6); its 5.1 takes the side pair as the back pair.
  const AVChannelLayout* own = nullptr;
  if (!kept && codec->ch_layouts != nullptr) {
    const int wanted = std::clamp(layout.nb_channels, 1, 8);
    for (const AVChannelLayout* known = codec->ch_layouts; known->nb_channels != 0; ++known) {
      if (known->nb_channels <= wanted &&
          (own == nullptr || known->nb_channels > own->nb_channels)) {
        own = known;
      }
    }
  }
  if (kept || own != nullptr) {
    int ret = av_channel_layout_copy(&ctx->ch_layout, kept ? wanted : own);
    if (ret < 0) return AvStatus(ret, "copying the channel layout");
  } else {
    av_channel_layout_default(&ctx->ch_layout, std::clamp(layout.nb_channels, 1, 8));
  }
  const int channels = ctx->ch_layout.nb_channels;
  ctx->sample_rate = 48000;
  ctx->sample_fmt = format.audio_sample_format;
  ctx->time_base = AVRational{1, 48000};
  if (std::string(format.audio_encoder) == "aac") {
    ctx->bit_rate = 96'000 * std::min(channels, 2) + 64'000 * std::max(0, channels - 2);
  }
  ctx->bits_per_raw_sample = 24;
  return ctx;
}

}  // namespace vidmill::engine
