#include "filters/film_grain.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace vidmill::filters {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// An approximately standard-normal value from one 64-bit hash: the sum of four
// 16-bit uniforms (Irwin–Hall), centred and scaled to unit variance.
float GaussianFromHash(uint64_t h) {
  constexpr float kScale = 1.0f / 65536.0f;
  float sum = static_cast<float>(h & 0xffff) + static_cast<float>((h >> 16) & 0xffff) +
              static_cast<float>((h >> 32) & 0xffff) + static_cast<float>(h >> 48);
  // Four U(0,1): mean 2, variance 4/12.
  return (sum * kScale - 2.0f) * 1.7320508f;
}

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
  const int depth = desc->comp[0].depth;
  const bool wide = depth > 8;
  const float max_value = static_cast<float>((1 << depth) - 1);
  const float sigma = static_cast<float>(options_.strength) * 16.0f * (max_value / 255.0f);
  if (sigma <= 0) return Status::Ok();

  auto luma_at = [&](int x, int y) -> float {
    const uint8_t* row = frame->data[0] + static_cast<ptrdiff_t>(y) * frame->linesize[0];
    return wide ? reinterpret_cast<const uint16_t*>(row)[x] : row[x];
  };

  for (int plane = 0; plane < 3; ++plane) {
    const bool chroma = plane > 0;
    const int shift_x = chroma ? desc->log2_chroma_w : 0;
    const int shift_y = chroma ? desc->log2_chroma_h : 0;
    const int width = AV_CEIL_RSHIFT(frame->width, shift_x);
    const int height = AV_CEIL_RSHIFT(frame->height, shift_y);
    const size_t count = static_cast<size_t>(width) * height;
    noise_.resize(count);
    blurred_.resize(count);
    const uint64_t plane_key =
        SplitMix64(options_.seed ^ SplitMix64(static_cast<uint64_t>(frame_index) * 4 + plane));
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        uint64_t key = plane_key + (static_cast<uint64_t>(y) << 32) + static_cast<uint64_t>(x);
        noise_[static_cast<size_t>(y) * width + x] = GaussianFromHash(SplitMix64(key));
      }
    }
    // 3×3 box blur (edges clamped), times 3 to restore unit variance.
    for (int y = 0; y < height; ++y) {
      const float* up = &noise_[static_cast<size_t>(std::max(y - 1, 0)) * width];
      const float* mid = &noise_[static_cast<size_t>(y) * width];
      const float* down = &noise_[static_cast<size_t>(std::min(y + 1, height - 1)) * width];
      float* out = &blurred_[static_cast<size_t>(y) * width];
      for (int x = 0; x < width; ++x) {
        int left = std::max(x - 1, 0);
        int right = std::min(x + 1, width - 1);
        float sum = up[left] + up[x] + up[right] + mid[left] + mid[x] + mid[right] + down[left] +
                    down[x] + down[right];
        out[x] = sum * (3.0f / 9.0f);
      }
    }
    // Modulate by intensity, then make the field exactly zero-mean.
    double total = 0;
    const float plane_sigma = sigma * (chroma ? 0.3f : 1.0f);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        float luma = luma_at(std::min(x << shift_x, frame->width - 1),
                             std::min(y << shift_y, frame->height - 1)) / max_value;
        float response = 4.0f * luma * (1.0f - luma);
        float& value = blurred_[static_cast<size_t>(y) * width + x];
        value *= plane_sigma * response;
        total += value;
      }
    }
    const float mean = static_cast<float>(total / static_cast<double>(count));
    for (int y = 0; y < height; ++y) {
      uint8_t* row = frame->data[plane] + static_cast<ptrdiff_t>(y) * frame->linesize[plane];
      const float* grain = &blurred_[static_cast<size_t>(y) * width];
      for (int x = 0; x < width; ++x) {
        float original = wide ? reinterpret_cast<uint16_t*>(row)[x] : row[x];
        float value = std::clamp(original + grain[x] - mean, 0.0f, max_value);
        if (wide) {
          reinterpret_cast<uint16_t*>(row)[x] = static_cast<uint16_t>(std::lround(value));
        } else {
          row[x] = static_cast<uint8_t>(std::lround(value));
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace vidmill::filters
