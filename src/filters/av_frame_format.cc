#include "filters/av_frame_format.h"

#include <string>

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace vidmill::filters {
namespace {

// Y, Cb and Cr each alone in planes 0, 1 and 2 (FFmpeg calls nv12 planar
// too), one 8-bit or 16-bit word per sample.
bool Taken(const AVPixFmtDescriptor* desc) {
  if (desc == nullptr || !(desc->flags & AV_PIX_FMT_FLAG_PLANAR) ||
      (desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_FLOAT | AV_PIX_FMT_FLAG_BE |
                      AV_PIX_FMT_FLAG_ALPHA | AV_PIX_FMT_FLAG_HWACCEL)) ||
      desc->nb_components != 3 || desc->comp[0].depth < 8 || desc->comp[0].depth > 16 ||
      desc->log2_chroma_w > 1 || desc->log2_chroma_h > desc->log2_chroma_w) {
    return false;
  }
  const int word = desc->comp[0].depth > 8 ? 2 : 1;
  for (int c = 0; c < 3; ++c) {
    const AVComponentDescriptor& comp = desc->comp[c];
    if (comp.plane != c || comp.step != word || comp.offset != 0 || comp.shift != 0 ||
        comp.depth != desc->comp[0].depth) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<PixelFormat> FilterPixelFormat(AVPixelFormat av_format, int width, int height) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(av_format);
  if (!Taken(desc)) {
    const char* name = av_get_pix_fmt_name(av_format);
    return Status::InvalidArgument(std::string("Vidmill's filters need planar Y'CbCr 4:2:0, "
                                               "4:2:2 or 4:4:4 at 8-16 bits, got ") +
                                   (name ? name : "unknown"));
  }
  PixelFormat format;
  format.width = width;
  format.height = height;
  format.bit_depth = desc->comp[0].depth;
  format.chroma = desc->log2_chroma_w == 0   ? Chroma::k444
                  : desc->log2_chroma_h == 0 ? Chroma::k422
                                             : Chroma::k420;
  return format;
}

AVPixelFormat NearestFilterPixelFormat(AVPixelFormat offered) {
  if (Taken(av_pix_fmt_desc_get(offered))) return offered;
  static constexpr AVPixelFormat kTaken[] = {
      AV_PIX_FMT_YUV420P,     AV_PIX_FMT_YUV422P,     AV_PIX_FMT_YUV444P,
      AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_YUV422P10LE, AV_PIX_FMT_YUV444P10LE,
      AV_PIX_FMT_YUV420P12LE, AV_PIX_FMT_YUV422P12LE, AV_PIX_FMT_YUV444P12LE,
      AV_PIX_FMT_YUV420P16LE, AV_PIX_FMT_YUV422P16LE, AV_PIX_FMT_YUV444P16LE};
  AVPixelFormat best = AV_PIX_FMT_NONE;
  for (AVPixelFormat candidate : kTaken) {
    best = av_find_best_pix_fmt_of_2(best, candidate, offered, /*has_alpha=*/0, nullptr);
  }
  return best;
}

FrameView WrapFrame(const AVFrame* frame, const PixelFormat& format) {
  FrameView view;
  view.format = format;
  for (int plane = 0; plane < 3; ++plane) {
    view.planes[plane] =
        PlaneView{frame->data[plane], format.PlaneWidth(plane), format.PlaneHeight(plane),
                  frame->linesize[plane], format.bit_depth};
  }
  return view;
}

}  // namespace vidmill::filters
