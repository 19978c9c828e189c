// quality_bench: the C++ half of the quality benchmark (bench/quality/run.sh).
//
// Subcommands, all on raw planar 8-bit 4:2:0 files (ffmpeg's rawvideo yuv420p):
//   render SRC.yuv SW SH OUT.yuv W H FRAMES SEED
//       Ground truth: a virtual camera moving over a photograph (SRC, 4:4:4
//       planar, SW×SH) — a seeded random pan, a slow zoom and a small rotation —
//       rendered at W×H with a 2×2-supersampled bicubic warp, FRAMES pictures.
//   render SRC.yuv SW SH OUT.yuv W H FRAMES SEED SHAKE SHAKE_SEED
//       The same camera move (same SEED, same path) plus frame jitter: each
//       picture's view is shifted by an independent Gaussian offset of SHAKE
//       output pixels RMS per axis (clamped to ±3 SHAKE), drawn from SHAKE_SEED.
//   render SRC.yuv SW SH OUT.yuv W H FRAMES SEED SHAKE SHAKE_SEED LINES
//       The same plus line jitter (an analogue player's time-base error): each
//       output line of each picture is shifted horizontally by an independent
//       Gaussian offset of LINES output pixels RMS (clamped to ±3 LINES), drawn
//       from its own generator (seeded from SHAKE_SEED), so the frame shake is
//       the same with or without it. SHAKE may be 0.
//   weave IN.yuv W H OUT.yuv
//       Progressive pictures 2n and 2n+1 → one top-field-first woven frame n.
//   deint IN.yuv W H OUT.yuv [KEY=VALUE...]
//       Vidmill's deint at field rate (optional filter properties); prints "fps <output frames per
//       second> cpu_ms_per_frame <CPU time of all threads per output frame>", both measured around
//       the filter calls only (no file I/O).
//   deint-frames IN.yuv W H OUT.yuv [KEY=VALUE...]
//       The same at frame rate (one frame per woven frame, the first field's
//       time: compare with the progressive pictures 0, 2, 4…).
//   filmgrain IN.yuv W H OUT.yuv [KEY=VALUE...]
//       Vidmill's filmgrain (properties strength, seed); prints fps and
//       cpu_ms_per_frame like deint.
//   scale FILTER IN.yuv W H OUT_W OUT_H OUT.yuv [CLARITY]
//       Vidmill's pabsr1 or dvres to OUT_W×OUT_H (clarityBoost level for
//       pabsr1, default none); prints fps and cpu_ms_per_frame like deint.
//   noise IN.yuv OUT.yuv W H SIGMA SEED
//       White Gaussian noise of SIGMA code values on every sample, seeded.
//   dejit, jitter: the stabilisation benchmark, see dejit_bench.h.
//   denoise IN.yuv W H OUT.yuv [SIGMA], grain IN.yuv OUT.yuv W H STRENGTH SEED
//       Vidmill's denoise, and film-like noise (bench/quality/denoise_bench.cc).
//   chain IN.yuv W H OUT_W OUT_H OUT.yuv STEP...
//       Vidmill's filters chained (e.g. denoise then dvres), see chain_bench.cc.
//   event KIND A.yuv B.yuv W H OUT.yuv SEED
//       What steady camera moves never show, made from clip A (and B): cut —
//       the first half of A, then the rest of B; flash — A with its middle
//       picture from B; flicker — A's luma scaled by 1 ± up to 4 % per
//       picture (seeded); fade — A fading out (luma towards black and chroma
//       towards grey, linearly down to 30 % of its contrast). steady — A.
//   metrics REF.yuv TEST.yuv W H
//       Mean Y-PSNR (dB, per frame then averaged) and Y-SSIM (8×8 windows,
//       stride 4, the usual constants) over the frames both files have, and
//       the worst picture's Y-PSNR.
//
// Every number the benchmark prints comes from these functions or from ffmpeg
// run by run.sh on the same files; nothing is precomputed.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "chain_bench.h"
#include "dejit_bench.h"
#include "denoise_bench.h"
#include "filters/filter.h"
#include "filters/frame.h"
#include "raw_video.h"

namespace vidmill::filters {
namespace {

float Cubic(float t, float a, float b, float c, float d) {
  // Catmull-Rom through b (t=0) and c (t=1).
  return b + 0.5f * t * (c - a + t * (2 * a - 5 * b + 4 * c - d + t * (3 * (b - c) + d - a)));
}

float SampleBicubic(const uint8_t* plane, int width, int height, float x, float y) {
  int ix = static_cast<int>(std::floor(x));
  int iy = static_cast<int>(std::floor(y));
  float fx = x - ix;
  float fy = y - iy;
  float rows[4];
  for (int j = 0; j < 4; ++j) {
    int yy = std::clamp(iy - 1 + j, 0, height - 1);
    const uint8_t* row = plane + static_cast<size_t>(yy) * width;
    auto at = [&](int xx) { return static_cast<float>(row[std::clamp(xx, 0, width - 1)]); };
    rows[j] = Cubic(fx, at(ix - 1), at(ix), at(ix + 1), at(ix + 2));
  }
  return Cubic(fy, rows[0], rows[1], rows[2], rows[3]);
}

int Render(int argc, char** argv) {
  if (argc != 10 && argc != 12 && argc != 13) return 1;
  std::vector<uint8_t> src = ReadFile(argv[2]);
  // The shake has its own generator, so the smooth path is the same with or without it.
  const float shake = argc >= 12 ? static_cast<float>(std::atof(argv[10])) : 0.0f;
  const uint32_t shake_seed = static_cast<uint32_t>(argc >= 12 ? std::atoi(argv[11]) : 0);
  std::mt19937 shake_rng(shake_seed);
  std::normal_distribution<float> shake_normal(0.0f, 1.0f);
  // And the line jitter its own.
  const float line_jitter = argc == 13 ? static_cast<float>(std::atof(argv[12])) : 0.0f;
  std::mt19937 line_rng(shake_seed + 0x9e3779b9u);
  std::normal_distribution<float> line_normal(0.0f, 1.0f);  // (a distribution caches draws)
  const int sw = std::atoi(argv[3]), sh = std::atoi(argv[4]);
  const int width = std::atoi(argv[6]), height = std::atoi(argv[7]);
  const int frames = std::atoi(argv[8]);
  std::mt19937 rng(static_cast<uint32_t>(std::atoi(argv[9])));
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  // Source pixels per output pixel at the start, so the view fits with room to move.
  const float scale0 =
      0.75f * std::min(static_cast<float>(sw) / width, static_cast<float>(sh) / height);
  const float zoom_end = 1.0f + 0.12f * uniform(rng);               // ±12 % over the clip
  const float rotation_end = 0.035f * uniform(rng);                 // ±2°
  const float speed = scale0 * (1.5f + 1.5f * (uniform(rng) + 1));  // 1.5–4.5 px/picture
  const float angle = 3.14159265f * uniform(rng);
  float vx = speed * std::cos(angle), vy = speed * std::sin(angle);
  float cx = sw / 2.0f - vx * frames / 2, cy = sh / 2.0f - vy * frames / 2;
  std::vector<uint8_t> out;
  const uint8_t* planes[3] = {src.data(), src.data() + static_cast<size_t>(sw) * sh,
                              src.data() + 2 * static_cast<size_t>(sw) * sh};
  std::vector<float> full[3];
  for (int frame = 0; frame < frames; ++frame) {
    const float t = frames > 1 ? static_cast<float>(frame) / (frames - 1) : 0;
    const float scale = scale0 / (1 + (zoom_end - 1) * t);
    const float theta = rotation_end * t;
    const float cs = std::cos(theta) * scale, sn = std::sin(theta) * scale;
    // The pan wanders: the velocity turns slowly (a hand-held camera, not a dolly).
    vx += 0.05f * speed * uniform(rng);
    vy += 0.05f * speed * uniform(rng);
    cx += vx;
    cy += vy;
    float ex = 0, ey = 0;  // this picture's shake, output pixels
    if (shake > 0) {
      ex = shake * std::clamp(shake_normal(shake_rng), -3.0f, 3.0f);
      ey = shake * std::clamp(shake_normal(shake_rng), -3.0f, 3.0f);
    }
    std::vector<float> line_shift(height, 0.0f);  // this picture's line jitter, output pixels
    if (line_jitter > 0) {
      for (float& shift : line_shift) {
        shift = line_jitter * std::clamp(line_normal(line_rng), -3.0f, 3.0f);
      }
    }
    for (int plane = 0; plane < 3; ++plane) {
      full[plane].assign(static_cast<size_t>(width) * height, 0);
      for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
          float sum = 0;
          for (int s = 0; s < 4; ++s) {
            float ox = x + 0.25f + 0.5f * (s & 1) - width / 2.0f + ex + line_shift[y];
            float oy = y + 0.25f + 0.5f * (s >> 1) - height / 2.0f + ey;
            float sx = cx + cs * ox - sn * oy;
            float sy = cy + sn * ox + cs * oy;
            sum += SampleBicubic(planes[plane], sw, sh, sx, sy);
          }
          full[plane][static_cast<size_t>(y) * width + x] = sum / 4;
        }
      }
    }
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        out.push_back(static_cast<uint8_t>(
            std::clamp(std::lround(full[0][static_cast<size_t>(y) * width + x]), 0L, 255L)));
      }
    }
    for (int plane = 1; plane < 3; ++plane) {
      for (int y = 0; y < (height + 1) / 2; ++y) {
        for (int x = 0; x < (width + 1) / 2; ++x) {
          float sum = 0;
          for (int j = 0; j < 2; ++j) {
            for (int i = 0; i < 2; ++i) {
              int xx = std::min(2 * x + i, width - 1), yy = std::min(2 * y + j, height - 1);
              sum += full[plane][static_cast<size_t>(yy) * width + xx];
            }
          }
          out.push_back(static_cast<uint8_t>(std::clamp(std::lround(sum / 4), 0L, 255L)));
        }
      }
    }
  }
  WriteFile(argv[5], out);
  return 0;
}

int Event(int argc, char** argv) {
  if (argc != 9) return 1;
  const std::string kind = argv[2];
  std::vector<uint8_t> a = ReadFile(argv[3]);
  std::vector<uint8_t> b = ReadFile(argv[4]);
  const int width = std::atoi(argv[5]), height = std::atoi(argv[6]);
  std::mt19937 rng(static_cast<uint32_t>(std::atoi(argv[8])));
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const size_t frames = std::min(a.size(), b.size()) / FrameBytes(width, height);
  if (frames == 0) return 1;
  std::vector<uint8_t> out;
  for (size_t n = 0; n < frames; ++n) {
    const bool from_b = (kind == "cut" && n >= frames / 2) || (kind == "flash" && n == frames / 2);
    FrameView frame = ViewAt(from_b ? b : a, width, height, n);
    // Luma and chroma gains about their black and grey levels.
    float luma_gain = 1, chroma_gain = 1;
    if (kind == "flicker") {
      luma_gain = 1 + 0.04f * uniform(rng);
    } else if (kind == "fade") {
      luma_gain = chroma_gain = 1 - 0.7f * static_cast<float>(n) / std::max<size_t>(frames - 1, 1);
    } else if (kind != "cut" && kind != "flash" && kind != "steady") {
      return 1;
    }
    if (luma_gain != 1 || chroma_gain != 1) {
      for (int plane = 0; plane < 3; ++plane) {
        const PlaneView& p = frame.planes[plane];
        const float gain = plane ? chroma_gain : luma_gain;
        const float base = plane ? 128.0f : (kind == "fade" ? 16.0f : 0.0f);
        for (int y = 0; y < p.height; ++y) {
          uint8_t* row = p.Row8(y);
          for (int x = 0; x < p.width; ++x) {
            const long value = std::lround(base + (row[x] - base) * gain);
            row[x] = static_cast<uint8_t>(std::clamp(value, 0L, 255L));
          }
        }
      }
    }
    Append(frame, &out);
  }
  WriteFile(argv[7], out);
  return 0;
}

int Weave(int argc, char** argv) {
  if (argc != 6) return 1;
  std::vector<uint8_t> in = ReadFile(argv[2]);
  const int width = std::atoi(argv[3]), height = std::atoi(argv[4]);
  const size_t frames = in.size() / FrameBytes(width, height);
  std::vector<uint8_t> out;
  OwnedFrame woven(PixelFormat{width, height, 8, Chroma::k420});
  for (size_t n = 0; n + 1 < frames; n += 2) {
    FrameView top = ViewAt(in, width, height, n);
    FrameView bottom = ViewAt(in, width, height, n + 1);
    const FrameView dst = woven.view();
    for (int plane = 0; plane < 3; ++plane) {
      for (int y = 0; y < dst.planes[plane].height; ++y) {
        const PlaneView& from = (y & 1) ? bottom.planes[plane] : top.planes[plane];
        std::copy(from.Row8(y), from.Row8(y) + from.width, dst.planes[plane].Row8(y));
      }
    }
    Append(dst, &out);
  }
  WriteFile(argv[5], out);
  return 0;
}

// FILTER IN.yuv W H OUT.yuv [KEY=VALUE...] (argv[1] is the subcommand): one
// of Vidmill's size-keeping filters over a raw file, with optional properties.
int RunNamedFilter(const char* filter, bool field_rate, int argc, char** argv) {
  if (argc < 6) return 1;
  std::vector<uint8_t> in = ReadFile(argv[2]);
  const int width = std::atoi(argv[3]), height = std::atoi(argv[4]);
  FilterConfig config;
  config.input = PixelFormat{width, height, 8, Chroma::k420};
  config.field_rate = field_rate;
  for (int arg = 6; arg < argc; ++arg) {
    std::string property = argv[arg];
    const size_t equals = property.find('=');
    if (equals == std::string::npos) return 1;
    config.properties[property.substr(0, equals)] = property.substr(equals + 1);
  }
  return RunFilterOverFile(filter, config, in, argv[5]);
}

int Scale(int argc, char** argv) {
  if (argc != 9 && argc != 10) return 1;
  std::vector<uint8_t> in = ReadFile(argv[3]);
  const int width = std::atoi(argv[4]), height = std::atoi(argv[5]);
  FilterConfig config;
  config.input = PixelFormat{width, height, 8, Chroma::k420};
  config.output_width = std::atoi(argv[6]);
  config.output_height = std::atoi(argv[7]);
  if (argc == 10) {
    auto level = ParseClarityBoost(argv[9]);
    if (!level.ok()) return 1;
    config.clarity_boost = *level;
  }
  return RunFilterOverFile(argv[2], config, in, argv[8]);
}

// Adds white Gaussian noise of standard deviation SIGMA (8-bit code values) to
// every plane, from a seeded generator.
int Noise(int argc, char** argv) {
  if (argc != 8) return 1;
  std::vector<uint8_t> data = ReadFile(argv[2]);
  const double sigma = std::atof(argv[6]);
  std::mt19937_64 rng(static_cast<uint64_t>(std::atoll(argv[7])));
  std::normal_distribution<double> normal(0.0, sigma);
  for (uint8_t& sample : data) {
    sample = static_cast<uint8_t>(std::clamp(std::lround(sample + normal(rng)), 0L, 255L));
  }
  (void)argv[4];
  (void)argv[5];
  WriteFile(argv[3], data);
  return 0;
}

double Ssim(const PlaneView& a, const PlaneView& b) {
  const double c1 = 6.5025, c2 = 58.5225;  // (0.01·255)², (0.03·255)²
  double total = 0;
  int count = 0;
  for (int y = 0; y + 8 <= a.height; y += 4) {
    for (int x = 0; x + 8 <= a.width; x += 4) {
      double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (int j = 0; j < 8; ++j) {
        for (int i = 0; i < 8; ++i) {
          double va = a.At(x + i, y + j), vb = b.At(x + i, y + j);
          sa += va;
          sb += vb;
          saa += va * va;
          sbb += vb * vb;
          sab += va * vb;
        }
      }
      double ma = sa / 64, mb = sb / 64;
      double va = saa / 64 - ma * ma, vb = sbb / 64 - mb * mb, cov = sab / 64 - ma * mb;
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      ++count;
    }
  }
  return count ? total / count : 1.0;
}

int Metrics(int argc, char** argv) {
  if (argc != 6) return 1;
  std::vector<uint8_t> ref = ReadFile(argv[2]);
  std::vector<uint8_t> test = ReadFile(argv[3]);
  const int width = std::atoi(argv[4]), height = std::atoi(argv[5]);
  const size_t frames = std::min(ref.size(), test.size()) / FrameBytes(width, height);
  double psnr_sum = 0, ssim_sum = 0, worst = 1e9;
  for (size_t n = 0; n < frames; ++n) {
    PlaneView a = ViewAt(ref, width, height, n).planes[0];
    PlaneView b = ViewAt(test, width, height, n).planes[0];
    double sse = 0;
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        double d = a.At(x, y) - b.At(x, y);
        sse += d * d;
      }
    }
    double mse = std::max(sse / (static_cast<double>(width) * height), 1e-10);
    const double psnr = 10 * std::log10(255.0 * 255.0 / mse);
    psnr_sum += psnr;
    worst = std::min(worst, psnr);
    if (std::getenv("QUALITY_PER_FRAME")) std::fprintf(stderr, "%.1f ", psnr);
    ssim_sum += Ssim(a, b);
  }
  std::printf("frames %zu psnr %.3f ssim %.4f worst_psnr %.3f\n", frames, psnr_sum / frames,
              ssim_sum / frames, worst);
  return 0;
}

}  // namespace
}  // namespace vidmill::filters

int main(int argc, char** argv) {
  using namespace vidmill::filters;
  std::string command = argc > 1 ? argv[1] : "";
  int rc = 1;
  if (command == "render") rc = Render(argc, argv);
  if (command == "weave") rc = Weave(argc, argv);
  if (command == "event") rc = Event(argc, argv);
  if (command == "deint") rc = RunNamedFilter("deint", /*field_rate=*/true, argc, argv);
  if (command == "deint-frames") rc = RunNamedFilter("deint", /*field_rate=*/false, argc, argv);
  if (command == "filmgrain") rc = RunNamedFilter("filmgrain", /*field_rate=*/false, argc, argv);
  if (command == "metrics") rc = Metrics(argc, argv);
  if (command == "noise") rc = Noise(argc, argv);
  if (command == "scale") rc = Scale(argc, argv);
  if (command == "dejit") rc = DejitCommand(argc, argv);
  if (command == "jitter") rc = JitterCommand(argc, argv);
  if (command == "denoise") rc = DenoiseCommand(argc, argv);
  if (command == "grain") rc = GrainCommand(argc, argv);
  if (command == "chain") rc = ChainCommand(argc, argv);
  if (rc == 1) std::cerr << "usage: see the comment at the top of bench/quality/quality_bench.cc\n";
  return rc;
}
