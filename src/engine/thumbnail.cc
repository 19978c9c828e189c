#include "engine/thumbnail.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "engine/av_error.h"
#include "engine/colour.h"
#include "engine/media_input.h"

namespace vidmill::engine {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// The SWS_CS_* matrix `frame`'s YUV was made with: its tag, else by size
// (colour.h's UntaggedMatrix).
int SourceMatrix(const AVFrame* frame, int height) {
  switch (frame->colorspace) {
    case AVCOL_SPC_BT709:
      return SWS_CS_ITU709;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M:
      return SWS_CS_ITU601;
    case AVCOL_SPC_SMPTE240M:
      return SWS_CS_SMPTE240M;
    case AVCOL_SPC_FCC:
      return SWS_CS_FCC;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return SWS_CS_BT2020;
    default:
      return UntaggedMatrix(frame->width, height) == AVCOL_SPC_BT709 ? SWS_CS_ITU709
                                                                      : SWS_CS_ITU601;
  }
}

// `in` (8-bit planar, even sizes) turned `rotation` degrees clockwise.
Result<FramePtr> TurnedPicture(const AVFrame* in, int rotation) {
  const bool sideways = rotation % 180 != 0;
  ASSIGN_OR_RETURN(FramePtr out, NewFrame());
  out->format = in->format;
  out->color_range = in->color_range;
  out->width = sideways ? in->height : in->width;
  out->height = sideways ? in->width : in->height;
  int ret = av_frame_get_buffer(out.get(), 0);
  if (ret < 0) return AvStatus(ret, "thumbnail: allocating the picture");
  for (int plane = 0; plane < 3; ++plane) {
    const int w = plane == 0 ? in->width : in->width / 2;  // 4:2:0
    const int h = plane == 0 ? in->height : in->height / 2;
    const uint8_t* src = in->data[plane];
    uint8_t* dst = out->data[plane];
    const int src_stride = in->linesize[plane];
    const int dst_stride = out->linesize[plane];
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        int dx = x;
        int dy = y;
        if (rotation == 90) {
          dx = h - 1 - y;
          dy = x;
        } else if (rotation == 180) {
          dx = w - 1 - x;
          dy = h - 1 - y;
        } else if (rotation == 270) {
          dx = y;
          dy = w - 1 - x;
        }
        dst[dy * dst_stride + dx] = src[y * src_stride + x];
      }
    }
  }
  return out;
}

}  // namespace

void ThumbnailSize(int width, int height, AVRational sar, const ThumbnailOptions& options,
                   int* out_width, int* out_height) {
  double aspect = sar.num > 0 && sar.den > 0 ? av_q2d(sar) : 1.0;
  double display_width = width * aspect;
  double scale = std::min(
      {1.0, options.max_width / display_width, static_cast<double>(options.max_height) / height});
  *out_width = std::max(2, static_cast<int>(std::lround(display_width * scale)) & ~1);
  *out_height = std::max(2, static_cast<int>(std::lround(height * scale)) & ~1);
}

Status WriteJpegThumbnail(const AVFrame* frame, bool top_field_only, const std::string& path,
                          const ThumbnailOptions& options) {
  const int source_height = top_field_only ? frame->height / 2 : frame->height;
  const int rotation = options.rotation == 90 || options.rotation == 180 || options.rotation == 270
                           ? options.rotation
                           : 0;
  int width = 0;
  int height = 0;
  // A field has half the lines of the picture it belongs to: size from the
  // frame, as shown (upright), then scaled to that size as stored.
  const AVRational sar =
      options.sample_aspect.num > 0 ? options.sample_aspect : frame->sample_aspect_ratio;
  const PictureShape upright = Turned(rotation, frame->width, frame->height, sar);
  ThumbnailSize(upright.width, upright.height, upright.sar, options, &width, &height);
  if (rotation % 180 != 0) std::swap(width, height);

  // Scaled to RGB with the source's own matrix and range, then to full-range
  // BT.601 YUV, which is what JPEG readers assume. (A single YUV → YUV pass
  // changes neither matrix nor, at the same size, range: small sources' and
  // HD thumbnails would come out with limited-range levels or BT.709 colours
  // in a full-range BT.601 file.)
  SwsContextPtr to_rgb(sws_getContext(
      frame->width, source_height, static_cast<AVPixelFormat>(frame->format), width, height,
      AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
  SwsContextPtr to_yuv(sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height,
                                      AV_PIX_FMT_YUV420P, SWS_BICUBIC | SWS_ACCURATE_RND, nullptr,
                                      nullptr, nullptr));
  if (!to_rgb || !to_yuv) {
    return Status::Internal("thumbnail: cannot scale the frame");
  }
  const bool source_full =
      frame->color_range == AVCOL_RANGE_JPEG || frame->format == AV_PIX_FMT_YUVJ420P ||
      frame->format == AV_PIX_FMT_YUVJ422P || frame->format == AV_PIX_FMT_YUVJ444P;
  const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);
  sws_setColorspaceDetails(to_rgb.get(), sws_getCoefficients(SourceMatrix(frame, source_height)),
                           source_full ? 1 : 0, bt601, 1, 0, 1 << 16, 1 << 16);
  sws_setColorspaceDetails(to_yuv.get(), bt601, 1, bt601, 1, 0, 1 << 16, 1 << 16);
  ASSIGN_OR_RETURN(FramePtr rgb, NewFrame());
  rgb->format = AV_PIX_FMT_RGB24;
  rgb->width = width;
  rgb->height = height;
  int ret = av_frame_get_buffer(rgb.get(), 0);
  if (ret < 0) {
    return AvStatus(ret, "thumbnail: allocating the picture");
  }
  ASSIGN_OR_RETURN(FramePtr picture, NewFrame());
  picture->format = AV_PIX_FMT_YUV420P;
  picture->color_range = AVCOL_RANGE_JPEG;
  picture->width = width;
  picture->height = height;
  ret = av_frame_get_buffer(picture.get(), 0);
  if (ret < 0) {
    return AvStatus(ret, "thumbnail: allocating the picture");
  }
  int strides[4];
  for (int plane = 0; plane < 4; ++plane) {
    strides[plane] = top_field_only ? frame->linesize[plane] * 2 : frame->linesize[plane];
  }
  sws_scale(to_rgb.get(), frame->data, strides, 0, source_height, rgb->data, rgb->linesize);
  sws_scale(to_yuv.get(), rgb->data, rgb->linesize, 0, height, picture->data, picture->linesize);
  if (rotation != 0) {
    ASSIGN_OR_RETURN(picture, TurnedPicture(picture.get(), rotation));
    width = picture->width;
    height = picture->height;
  }

  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (codec == nullptr) {
    return Status::Internal("thumbnail: no mjpeg encoder in this libavcodec");
  }
  ASSIGN_OR_RETURN(CodecContextPtr encoder, NewCodecContext(codec));
  encoder->width = width;
  encoder->height = height;
  encoder->pix_fmt = AV_PIX_FMT_YUV420P;
  encoder->color_range = AVCOL_RANGE_JPEG;
  encoder->time_base = AVRational{1, 25};
  encoder->flags |= AV_CODEC_FLAG_QSCALE;
  encoder->global_quality = FF_QP2LAMBDA * options.jpeg_qscale;
  AvLogCapture capture;
  ret = avcodec_open2(encoder.get(), codec, nullptr);
  if (ret < 0) {
    return AvStatus(ret, "thumbnail: opening the mjpeg encoder", capture.first_error());
  }
  picture->quality = encoder->global_quality;
  picture->pts = 0;
  ret = avcodec_send_frame(encoder.get(), picture.get());
  if (ret >= 0) {
    ret = avcodec_send_frame(encoder.get(), nullptr);
  }
  if (ret < 0) {
    return AvStatus(ret, "thumbnail: encoding", capture.first_error());
  }
  ASSIGN_OR_RETURN(PacketPtr packet, NewPacket());
  ret = avcodec_receive_packet(encoder.get(), packet.get());
  if (ret < 0) {
    return AvStatus(ret, "thumbnail: encoding", capture.first_error());
  }

  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (!file) {
    return Status::Unavailable(std::string("thumbnail: cannot create the file: ") +
                               std::strerror(errno));
  }
  if (std::fwrite(packet->data, 1, packet->size, file.get()) != static_cast<size_t>(packet->size) ||
      std::fflush(file.get()) != 0) {
    return Status::Unavailable(std::string("thumbnail: cannot write the file: ") +
                               std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace vidmill::engine
