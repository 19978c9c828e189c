#include "engine/thumbnail.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/av_error.h"

namespace vidmill::engine {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

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
  int width = 0;
  int height = 0;
  // A field has half the lines of the picture it belongs to: size from the frame.
  ThumbnailSize(frame->width, frame->height, frame->sample_aspect_ratio, options, &width, &height);

  SwsContextPtr scaler(sws_getContext(frame->width, source_height,
                                      static_cast<AVPixelFormat>(frame->format), width, height,
                                      AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!scaler) {
    return Status::Internal("thumbnail: cannot scale the frame");
  }
  // JPEG is full range: expand limited-range sources while scaling.
  const int* coefficients = sws_getCoefficients(SWS_CS_DEFAULT);
  bool source_full = frame->color_range == AVCOL_RANGE_JPEG;
  sws_setColorspaceDetails(scaler.get(), coefficients, source_full ? 1 : 0, coefficients, 1, 0,
                           1 << 16, 1 << 16);
  ASSIGN_OR_RETURN(FramePtr picture, NewFrame());
  picture->format = AV_PIX_FMT_YUV420P;
  picture->color_range = AVCOL_RANGE_JPEG;
  picture->width = width;
  picture->height = height;
  int ret = av_frame_get_buffer(picture.get(), 0);
  if (ret < 0) {
    return AvStatus(ret, "thumbnail: allocating the picture");
  }
  int strides[4];
  for (int plane = 0; plane < 4; ++plane) {
    strides[plane] = top_field_only ? frame->linesize[plane] * 2 : frame->linesize[plane];
  }
  sws_scale(scaler.get(), frame->data, strides, 0, source_height, picture->data, picture->linesize);

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
