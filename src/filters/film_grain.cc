#include "filters/film_grain.h"

#include "filters/av_frame_format.h"
#include "filters/film_grain_core.h"

namespace vidmill::filters {

Result<engine::VideoFormat> FilmGrain::Configure(const engine::VideoFormat& input) {
  RETURN_IF_ERROR(FilterPixelFormat(input.pixel_format, input.width, input.height).status());
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
  ASSIGN_OR_RETURN(PixelFormat format, FilterPixelFormat(static_cast<AVPixelFormat>(frame->format),
                                                         frame->width, frame->height));
  return AddFilmGrain(WrapFrame(frame, format), options_.strength, options_.seed, frame_index,
                      frame->color_range == AVCOL_RANGE_JPEG, &noise_, &blurred_);
}

AVPixelFormat FilmGrain::InputPixelFormat(AVPixelFormat offered) const {
  return NearestFilterPixelFormat(offered);
}

}  // namespace vidmill::filters
