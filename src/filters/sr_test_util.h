#pragma once
// Helpers shared by the super-resolution and clarity tests: a real photo crop
// (through ffmpeg), box downscaling, PSNR. Header-only, tests only.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace vidmill::filters {

// The luma of a size × size crop from the middle of wallpaper `name`, scaled to
// 1280 wide first (floats in 8-bit code units). False when the wallpaper or
// ffmpeg is missing.
inline bool LoadPhotoCrop(const std::string& name, int size, std::vector<float>* out) {
  const std::string dir = "/usr/share/wallpapers/" + name + "/contents/images";
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return false;
  std::string image;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().filename() == "1920x1080.jpg" || image.empty()) image = entry.path();
  }
  // Named by process: ctest runs tests that load the same crop at once.
  const std::string raw = std::filesystem::temp_directory_path() /
                          ("vidmill_sr_crop_" + name + std::to_string(size) + "_" +
                           std::to_string(getpid()) + ".gray");
  const std::string command = "ffmpeg -nostdin -loglevel error -y -i '" + image +
                              "' -vf scale=1280:-2,crop=" + std::to_string(size) + ":" +
                              std::to_string(size) + ",format=gray -frames:v 1 -f rawvideo '" +
                              raw + "'";
  if (std::system(command.c_str()) != 0) return false;
  std::ifstream in(raw, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::remove(raw.c_str());
  if (bytes.size() != static_cast<size_t>(size) * size) return false;
  out->resize(bytes.size());
  for (size_t k = 0; k < bytes.size(); ++k) (*out)[k] = static_cast<uint8_t>(bytes[k]);
  return true;
}

// The mean of each factor × factor block (what ffmpeg's AREA does at integer ratios).
inline std::vector<float> BoxDownscale(const std::vector<float>& in, int width, int height,
                                       int factor) {
  const int w = width / factor, h = height / factor;
  std::vector<float> out(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      float sum = 0;
      for (int j = 0; j < factor; ++j) {
        for (int i = 0; i < factor; ++i) sum += in[(y * factor + j) * width + x * factor + i];
      }
      out[y * w + x] = sum / (factor * factor);
    }
  }
  return out;
}

// PSNR of `test` against `ref` (8-bit code units), test rounded like a picture.
inline double PsnrOf(const std::vector<float>& ref, const std::vector<float>& test) {
  double sse = 0;
  for (size_t k = 0; k < ref.size(); ++k) {
    const double d = std::round(test[k]) - ref[k];
    sse += d * d;
  }
  return 10 * std::log10(255.0 * 255.0 / std::max(sse / ref.size(), 1e-10));
}

}  // namespace vidmill::filters
