#include "filters/film_grain_core.h"

#include <algorithm>
#include <cmath>

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

}  // namespace

Status AddFilmGrain(const FrameView& frame, double strength, uint64_t seed, int64_t frame_index,
                    std::vector<float>* noise, std::vector<float>* blurred) {
  RETURN_IF_ERROR(frame.format.Validate());
  const int depth = frame.format.bit_depth;
  const float max_value = static_cast<float>(frame.format.max_value());
  const float sigma = static_cast<float>(strength) * 16.0f * (max_value / 255.0f);
  if (sigma <= 0) return Status::Ok();
  const PlaneView& luma_plane = frame.planes[0];
  (void)depth;

  for (int plane = 0; plane < 3; ++plane) {
    const bool chroma = plane > 0;
    const int shift_x = chroma ? ChromaShiftX(frame.format.chroma) : 0;
    const int shift_y = chroma ? ChromaShiftY(frame.format.chroma) : 0;
    const PlaneView& target = frame.planes[plane];
    const int width = target.width;
    const int height = target.height;
    const size_t count = static_cast<size_t>(width) * height;
    noise->resize(count);
    blurred->resize(count);
    const uint64_t plane_key =
        SplitMix64(seed ^ SplitMix64(static_cast<uint64_t>(frame_index) * 4 + plane));
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        uint64_t key = plane_key + (static_cast<uint64_t>(y) << 32) + static_cast<uint64_t>(x);
        (*noise)[static_cast<size_t>(y) * width + x] = GaussianFromHash(SplitMix64(key));
      }
    }
    // 3×3 box blur (edges clamped), times 3 to restore unit variance.
    for (int y = 0; y < height; ++y) {
      const float* up = &(*noise)[static_cast<size_t>(std::max(y - 1, 0)) * width];
      const float* mid = &(*noise)[static_cast<size_t>(y) * width];
      const float* down = &(*noise)[static_cast<size_t>(std::min(y + 1, height - 1)) * width];
      float* out = &(*blurred)[static_cast<size_t>(y) * width];
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
        float luma = luma_plane.At(std::min(x << shift_x, luma_plane.width - 1),
                                   std::min(y << shift_y, luma_plane.height - 1)) /
                     max_value;
        float response = 4.0f * luma * (1.0f - luma);
        float& value = (*blurred)[static_cast<size_t>(y) * width + x];
        value *= plane_sigma * response;
        total += value;
      }
    }
    const float mean = static_cast<float>(total / static_cast<double>(count));
    for (int y = 0; y < height; ++y) {
      const float* grain = &(*blurred)[static_cast<size_t>(y) * width];
      for (int x = 0; x < width; ++x) {
        float value = std::clamp(target.At(x, y) + grain[x] - mean, 0.0f, max_value);
        target.Set(x, y, static_cast<int>(std::lround(value)));
      }
    }
  }
  return Status::Ok();
}

}  // namespace vidmill::filters
