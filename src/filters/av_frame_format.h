#pragma once
// Vidmill's own filters on AVFrames: which libav pixel formats they take, the
// nearest one they take for any other, and the plain-plane view of a frame.
//
// The filters work on planar Y'CbCr 4:2:0, 4:2:2 or 4:4:4 at 8–16 bits,
// little-endian, without alpha. Archives bring more: DV's 4:1:1, packed
// 4:2:2 (uyvy422), grey, RGB. The processing chain converts such frames
// (libavfilter's `format` filter) to NearestFilterPixelFormat before an own
// filter, rather than failing the job.

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
}

#include "common/status.h"
#include "filters/frame.h"

namespace vidmill::filters {

// The plain-plane format of `av_format` at this size, or kInvalidArgument
// naming the format when the filters do not take it.
Result<PixelFormat> FilterPixelFormat(AVPixelFormat av_format, int width, int height);

// `offered` when the filters take it; otherwise the format they take that
// loses least of it (libavutil's av_find_best_pix_fmt_of_2 over the formats
// they take): yuv411p → yuv422p, uyvy422 → yuv422p, gray10 → a 10-bit
// format, rgb24 → yuv444p.
AVPixelFormat NearestFilterPixelFormat(AVPixelFormat offered);

// `frame`'s planes as a FrameView of `format` (borrowed).
FrameView WrapFrame(const AVFrame* frame, const PixelFormat& format);

}  // namespace vidmill::filters
