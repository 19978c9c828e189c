#pragma once
// JPEG thumbnails of decoded frames, encoded in-process with libavcodec's mjpeg
// encoder.
//
// The picture is scaled to fit a box (default 640×360) at its display aspect
// ratio (the sample aspect ratio is applied, so anamorphic PAL becomes 4:3 with
// square pixels), never enlarged. Interlaced content is read from its top field
// only, so moving edges show no combing. A picture stored turned (phones'
// portrait video) is turned upright.
//
// Thread safety: reentrant.

#include <string>

#include "common/status.h"
#include "engine/av_ptr.h"

namespace vidmill::engine {

struct ThumbnailOptions {
  int max_width = 640;
  int max_height = 360;
  int jpeg_qscale = 3;  // mjpeg quantiser scale: 2 (best) … 31 (worst)
  // Degrees clockwise the picture is turned to stand upright (0, 90, 180,
  // 270): the stream's display matrix (UprightRotation).
  int rotation = 0;
  // The stored picture's pixel shape as the container gives it (VP9 and AV1
  // carry it only there); 0/1: the frame's own.
  AVRational sample_aspect{0, 1};
};

// The thumbnail size of a `width`×`height` picture with sample aspect ratio `sar`
// (0/x means square) under `options`: even numbers, at least 2×2.
void ThumbnailSize(int width, int height, AVRational sar, const ThumbnailOptions& options,
                   int* out_width, int* out_height);

// Encodes `frame` as a JPEG and writes it to `path` (created or replaced).
// Errors: kInternal when the encoder fails, kUnavailable when the file cannot
// be written.
Status WriteJpegThumbnail(const AVFrame* frame, bool top_field_only, const std::string& path,
                          const ThumbnailOptions& options = {});

}  // namespace vidmill::engine
