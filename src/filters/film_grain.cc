#include "filters/film_grain.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "filters/film_grain_core.h"

namespace vidmill::filters {
namespace {

bool Supported(const AVPixFmtDescriptor* desc) {
  return desc != nullptr && (desc->flags & AV_PIX_FMT_FLAG_PLANAR) &&
         !(desc->flags & AV_PIX_FMT_FLAG_RGB) && !(desc->flags & AV_PIX_FMT_FLAG_FLOAT) &&
         !(desc->flags & AV_PIX_FMT_FLAG_BE) && desc->nb_components >= 3 &&
         desc->comp[0].depth >= 8 && desc->comp[0].depth <= 16;
}

}  // namespace

Result<engine::VideoFormat> FilmGrain::Configure(const engine::VideoFormat& input) {
  if (!Supported(av_pix_fmt_desc_get(input.pixel_format))) {
    return Status::InvalidArgument(std::string("filmgrain needs planar YUV frames, got ") +
                                   (av_get_pix_fmt_name(input.pixel_format)
                                        ? av_get_pix_fmt_name(input.pixel_format)
                                        : "unknown"));
  }
  if (options_.strength < 0 || options_.strength > 1) {
    return Status::InvalidArgument("filmgrain strength must be between 0 and 1");
  }
  return input;
}

Status FilmGrain::Filter(engine::FramePtr frame, const EmitFn& emit) {
  if (!frame) return Status::Ok();
  if (av_frame_make_writable(frame.get()) < 0) {
    return Status::Internal("filmgrain: cannot make the frame writable");
  }
  RETURN_IF_ERROR(Apply(frame.get(), frame_index_++));
  return emit(std::move(frame));
}

Status FilmGrain::Apply(AVFrame* frame, int64_t frame_index) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  if (!Supported(desc)) return Status::InvalidArgument("filmgrain needs planar YUV frames");
  FrameView view;
  view.format.width = frame->width;
  view.format.height = frame->height;
  view.format.bit_depth = desc->comp[0].depth;
  view.format.chroma = desc->log2_chroma_w == 0   ? Chroma::k444
                       : desc->log2_chroma_h == 0 ? Chroma::k422
                                                  : Chroma::k420;
  if (desc->log2_chroma_w > 1 || desc->log2_chroma_h > desc->log2_chroma_w) {
    return Status::InvalidArgument("filmgrain needs 4:2:0, 4:2:2 or 4:4:4 chroma");
  }
  for (int plane = 0; plane < 3; ++plane) {
    view.planes[plane] = PlaneView{frame->data[plane], view.format.PlaneWidth(plane),
                                   view.format.PlaneHeight(plane), frame->linesize[plane],
                                   view.format.bit_depth};
  }
  return AddFilmGrain(view, options_.strength, options_.seed, frame_index, &noise_, &blurred_);
}

}  // namespace vidmill::filters
