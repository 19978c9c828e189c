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
                    bool full_range, std::vector<float>* noise, std::vector<float>* blurred) {
  RETURN_IF_ERROR(frame.format.Validate());
  const float max_value = static_cast<float>(frame.format.max_value());
  const float sigma = static_cast<float>(strength) * 16.0f * (max_value / 255.0f);
  if (sigma <= 0) return Status::Ok();
  const PlaneView& luma_plane = frame.planes[0];
  // The luma's black and white, where the response is zero: in limited range
  // the grain leaves black bars at 16 and peak white at 235 untouched.
  const float black = full_range ? 0.0f : 16.0f * (max_value + 1) / 256.0f;
  const float white = full_range ? max_value : 235.0f * (max_value + 1) / 256.0f;

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
    // Modulate by intensity, then make the field exactly zero-mean, taking
    // the mean out where the grain is (in proportion to the response), so a
    // pixel with no response stays exactly as it was.
    double total = 0, total_response = 0;
    const float plane_sigma = sigma * (chroma ? 0.3f : 1.0f);
    std::vector<float>& response = *noise;  // the white noise is used up
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const float luma =
            std::clamp((luma_plane.At(std::min(x << shift_x, luma_plane.width - 1),
                                      std::min(y << shift_y, luma_plane.height - 1)) -
                        black) /
                           (white - black),
                       0.0f, 1.0f);
        const size_t at = static_cast<size_t>(y) * width + x;
        response[at] = 4.0f * luma * (1.0f - luma);
        float& value = (*blurred)[at];
        value *= plane_sigma * response[at];
        total += value;
        total_response += response[at];
      }
    }
    const float mean_per_response =
        total_response > 0 ? static_cast<float>(total / total_response) : 0.0f;
    for (int y = 0; y < height; ++y) {
      const float* grain = &(*blurred)[static_cast<size_t>(y) * width];
      const float* weight = &response[static_cast<size_t>(y) * width];
      for (int x = 0; x < width; ++x) {
        if (weight[x] <= 0) continue;
        float value =
            std::clamp(target.At(x, y) + grain[x] - mean_per_response * weight[x], 0.0f, max_value);
        target.Set(x, y, static_cast<int>(std::lround(value)));
      }
    }
  }
  return Status::Ok();
}

}  // namespace vidmill::filters
