#include "filters/denoise.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "filters/picture_test_util.h"

namespace vidmill::filters {
namespace {

// A detailed picture in [0, 1]: smooth waves plus fine stripes and a sharp
// edge, sampled at (x + shift_x, y + shift_y).
double Pattern(double x, double y) {
  double v = 0.5 + 0.15 * std::sin(x * 0.21 + y * 0.13) + 0.1 * std::cos(x * 0.07 - y * 0.19) +
             0.12 * std::sin(x * 1.9) * std::cos(y * 0.05) + (x + 0.5 * y > 40 ? 0.08 : -0.08);
  return std::clamp(v, 0.0, 1.0);
}

// The pattern moved by `shift` pixels per frame, plus Gaussian noise of
// `sigma` (8-bit code values, scaled to the depth) from `rng`; also returns
// the clean frame.
OwnedFrame MakeFrame(const PixelFormat& format, double shift, double sigma, std::mt19937* rng,
                     OwnedFrame* clean, bool negative = false) {
  OwnedFrame frame(format);
  *clean = OwnedFrame(format);
  std::normal_distribution<double> normal(0.0, sigma * format.max_value() / 255.0);
  for (int plane = 0; plane < 3; ++plane) {
    const PlaneView p = frame.plane(plane);
    const PlaneView c = clean->plane(plane);
    const int sx = plane ? ChromaShiftX(format.chroma) : 0;
    const int sy = plane ? ChromaShiftY(format.chroma) : 0;
    for (int y = 0; y < p.height; ++y) {
      for (int x = 0; x < p.width; ++x) {
        const double value =
            (plane ? 0.3 + 0.4 * Pattern((x << sx) + shift + 7 * plane, (y << sy) + 0.5 * shift)
                   : Pattern(x + shift, y + 0.5 * shift)) *
            format.max_value();
        const double shown = negative ? format.max_value() - value : value;
        c.Set(x, y, static_cast<int>(std::lround(shown)));
        p.Set(
            x, y,
            std::clamp(static_cast<int>(std::lround(shown + normal(*rng))), 0, format.max_value()));
      }
    }
  }
  return frame;
}

// `frames` pictures of the pattern moving `speed` pixels per picture with
// noise of `sigma` (MakeFrame), from a generator seeded with `seed`; the clean
// pictures go to `clean` when given.
std::vector<OwnedFrame> NoisyClip(const PixelFormat& format, int frames, double speed, double sigma,
                                  unsigned seed, std::vector<OwnedFrame>* clean = nullptr) {
  std::mt19937 rng(seed);
  std::vector<OwnedFrame> input, clean_frames(static_cast<size_t>(frames));
  for (int index = 0; index < frames; ++index) {
    input.push_back(MakeFrame(format, speed * index, sigma, &rng, &clean_frames[index]));
  }
  if (clean != nullptr) *clean = std::move(clean_frames);
  return input;
}

std::vector<OwnedFrame> RunDenoise(const FilterConfig& config,
                                   const std::vector<OwnedFrame>& input) {
  auto filter = MakeFilter("denoise", config);
  EXPECT_TRUE(filter.ok()) << filter.status().ToString();
  std::vector<OwnedFrame> out;
  for (size_t index = 0; index < input.size(); ++index) {
    EXPECT_TRUE((*filter)->Push(input[index].view(), static_cast<int64_t>(index) * 40).ok());
    EXPECT_TRUE((*filter)->Pull(&out).ok());
    // Two pictures of look-ahead: nothing comes out for the first two.
    EXPECT_EQ(out.size(), index < 2 ? 0u : index - 1);
  }
  EXPECT_TRUE((*filter)->Flush().ok());
  EXPECT_TRUE((*filter)->Pull(&out).ok());
  EXPECT_FALSE((*filter)->Push(input[0].view(), 999).ok());
  return out;
}

double LumaPsnr(const OwnedFrame& a, const OwnedFrame& b) {
  const PlaneView pa = a.plane(0), pb = b.plane(0);
  double sse = 0;
  for (int y = 0; y < pa.height; ++y) {
    for (int x = 0; x < pa.width; ++x) {
      const double d = pa.At(x, y) - pb.At(x, y);
      sse += d * d;
    }
  }
  const double peak = a.format().max_value();
  return 10 * std::log10(peak * peak * pa.width * pa.height / std::max(sse, 1e-9));
}

TEST(DenoiseTest, KeepsFormatsSizesAndTimestamps) {
  for (Chroma chroma : {Chroma::k420, Chroma::k422, Chroma::k444}) {
    for (int depth : {8, 10}) {
      for (auto [width, height] :
           {std::pair{40, 24}, std::pair{37, 23}, std::pair{6, 4}, std::pair{1, 1}}) {
        FilterConfig config;
        config.input = PixelFormat{width, height, depth, chroma};
        const std::vector<OwnedFrame> input = NoisyClip(config.input, 5, 1, 6, 1);
        std::vector<OwnedFrame> out = RunDenoise(config, input);
        ASSERT_EQ(out.size(), input.size());
        for (size_t index = 0; index < out.size(); ++index) {
          EXPECT_EQ(out[index].format(), config.input);
          EXPECT_EQ(out[index].pts, static_cast<int64_t>(index) * 40);
          for (int plane = 0; plane < 3; ++plane) {
            const PlaneView p = out[index].plane(plane);
            for (int y = 0; y < p.height; ++y) {
              for (int x = 0; x < p.width; ++x) ASSERT_LE(p.At(x, y), config.input.max_value());
            }
          }
        }
      }
    }
  }
}

TEST(DenoiseTest, IsDeterministic) {
  FilterConfig config;
  config.input = PixelFormat{64, 48, 10, Chroma::k422};
  const std::vector<OwnedFrame> input = NoisyClip(config.input, 6, 1.3, 10, 3);
  ExpectSamePictures(RunDenoise(config, input), RunDenoise(config, input));
}

// The AVX2 loops and the portable ones (VIDMILL_NO_SIMD selects them) give
// the same pictures bit for bit, so a job's output does not depend on the
// machine that ran it; in both the frame mode and the field mode, 8 and 10
// bits, on moving noisy content that exercises the search, the compensation
// near the edges, the fusion and the DCT shrinkage.
TEST(DenoiseTest, PortableAndAvx2LoopsGiveTheSamePictures) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2 on this CPU";
  for (const PixelFormat& format :
       {PixelFormat{72, 52, 8, Chroma::k420}, PixelFormat{64, 48, 10, Chroma::k422}}) {
    for (const char* interlaced : {"0", "1"}) {
      FilterConfig config;
      config.input = format;
      config.properties["interlaced"] = interlaced;
      const std::vector<OwnedFrame> input = NoisyClip(config.input, 7, 1.7, 12, 11);
      std::vector<OwnedFrame> fast = RunDenoise(config, input);
      setenv("VIDMILL_NO_SIMD", "1", 1);
      std::vector<OwnedFrame> portable = RunDenoise(config, input);
      unsetenv("VIDMILL_NO_SIMD");
      ASSERT_EQ(fast.size(), portable.size());
      size_t differing = 0;
      for (size_t index = 0; index < fast.size(); ++index) {
        for (int plane = 0; plane < 3; ++plane) {
          const PlaneView a = fast[index].plane(plane), b = portable[index].plane(plane);
          for (int y = 0; y < a.height; ++y) {
            for (int x = 0; x < a.width; ++x) differing += a.At(x, y) != b.At(x, y);
          }
        }
      }
      EXPECT_EQ(differing, 0u) << format.bit_depth << " bits, interlaced " << interlaced;
    }
  }
}

// Scene changes: a cut from one shot to another (the pattern's negative), and
// a one-picture flash of the other shot (the negative, or a part of the
// picture of the same brightness). Every output picture, those next to the
// change included, keeps well above the noisy input: a neighbour from the
// other shot is left out, where taking its difference for noise blended the
// other shot in (the first picture after the cut came out below the noisy
// input).
TEST(DenoiseTest, SceneChangesDoNotBlendShots) {
  FilterConfig config;
  config.input = PixelFormat{96, 64, 8, Chroma::k420};
  // Pictures moving 1.5 pixels each; `other` ones show the other shot.
  auto check = [&](const std::vector<bool>& other, double sigma, bool negative) {
    std::mt19937 rng(5);
    std::vector<OwnedFrame> input, clean(other.size());
    for (size_t index = 0; index < other.size(); ++index) {
      // The other shot: the pattern's negative, or a part of it far away.
      const double shift = 1.5 * index + (other[index] && !negative ? 40 : 0);
      input.push_back(
          MakeFrame(config.input, shift, sigma, &rng, &clean[index], other[index] && negative));
    }
    std::vector<OwnedFrame> out = RunDenoise(config, input);
    ASSERT_EQ(out.size(), input.size());
    for (size_t index = 0; index < out.size(); ++index) {
      const double noisy = LumaPsnr(input[index], clean[index]);
      EXPECT_GT(LumaPsnr(out[index], clean[index]), noisy + 2.0)
          << "picture " << index << " of " << out.size() << ", noisy " << noisy << ", σ " << sigma;
    }
  };
  const std::vector<bool> cut = {false, false, false, false, false, true, true, true, true, true};
  const std::vector<bool> flash = {false, false, false, false, true, false, false, false, false};
  check(cut, 12, /*negative=*/true);
  check(flash, 12, /*negative=*/true);
  // A flash of another part of the picture, of the same brightness: its
  // difference raises the match level less than 4 × (the previous rule's
  // bound) over the noise's, and the detail level tells it. Measured on the
  // flash picture: +6.7 dB over the noisy input; −2.1 dB without the detail
  // level.
  check(flash, 10, /*negative=*/false);
}

// Film flicker: every picture's brightness scaled by up to ±4 %. The search
// compares neighbours brought to the picture's brightness and the fusion takes
// out what drift remains, so flicker costs little; without that the vectors
// went wrong and the neighbours differed by more than the noise (the fusion
// dropped them).
TEST(DenoiseTest, FlickerCostsLittle) {
  FilterConfig config;
  config.input = PixelFormat{256, 192, 8, Chroma::k420};
  std::vector<OwnedFrame> clean;
  const std::vector<OwnedFrame> steady = NoisyClip(config.input, 8, 1.5, 5, 21, &clean);
  // The same pictures and noise, the luma scaled per picture.
  const double gains[8] = {1.0, 1.04, 0.97, 1.03, 0.96, 1.02, 0.98, 1.04};
  std::vector<OwnedFrame> flicker, flicker_clean;
  for (size_t index = 0; index < steady.size(); ++index) {
    flicker.push_back(OwnedFrame::CopyOf(steady[index].view()));
    flicker_clean.push_back(OwnedFrame::CopyOf(clean[index].view()));
    for (OwnedFrame* frame : {&flicker.back(), &flicker_clean.back()}) {
      const PlaneView luma = frame->plane(0);
      for (int y = 0; y < luma.height; ++y) {
        for (int x = 0; x < luma.width; ++x) {
          luma.Set(x, y,
                   std::clamp(static_cast<int>(std::lround(luma.At(x, y) * gains[index])), 0, 255));
        }
      }
    }
  }
  const std::vector<OwnedFrame> steady_out = RunDenoise(config, steady);
  const std::vector<OwnedFrame> flicker_out = RunDenoise(config, flicker);
  double steady_db = 0, flicker_db = 0;
  for (size_t index = 0; index < steady.size(); ++index) {
    steady_db += LumaPsnr(steady_out[index], clean[index]) / steady.size();
    flicker_db += LumaPsnr(flicker_out[index], flicker_clean[index]) / steady.size();
  }
  EXPECT_GT(flicker_db, steady_db - 1.0) << "steady " << steady_db;
}

// The property a broken filter fails: on a moving, noisy, detailed pattern the
// output is much closer to the clean pictures than the input was, at 8 and
// 10 bits.
TEST(DenoiseTest, RemovesMostNoiseFromAMovingPattern) {
  for (int depth : {8, 10}) {
    FilterConfig config;
    config.input = PixelFormat{128, 96, depth, Chroma::k420};
    std::vector<OwnedFrame> clean;
    const std::vector<OwnedFrame> input = NoisyClip(config.input, 7, 1.75, 12, 5, &clean);
    std::vector<OwnedFrame> out = RunDenoise(config, input);
    ASSERT_EQ(out.size(), input.size());
    for (size_t index = 0; index < out.size(); ++index) {
      const double before = LumaPsnr(input[index], clean[index]);
      const double after = LumaPsnr(out[index], clean[index]);
      // Middle pictures have four neighbours, the ends only two.
      const double gain = index >= 2 && index + 2 < out.size() ? 5.0 : 3.0;
      EXPECT_GT(after, before + gain) << "depth " << depth << " picture " << index;
    }
  }
}

// Static fine detail (stripes of period ~3 pixels) under light noise survives:
// the error after denoising is well below the noise, which a blur would not
// achieve.
TEST(DenoiseTest, StaticDetailSurvives) {
  FilterConfig config;
  config.input = PixelFormat{96, 64, 8, Chroma::k420};
  std::vector<OwnedFrame> clean;
  const std::vector<OwnedFrame> input = NoisyClip(config.input, 5, 0, 4, 9, &clean);
  std::vector<OwnedFrame> out = RunDenoise(config, input);
  const double before = LumaPsnr(input[2], clean[2]);
  const double after = LumaPsnr(out[2], clean[2]);
  EXPECT_GT(after, before + 4.0);
}

// `frames` interlaced frames of `format`: the pattern of MakeFrame moving 2
// pixels per field, with noise of σ 10, each frame woven from two fields
// (rows of parity p from field time 2 × index + p); the clean frames go to
// `clean`.
std::vector<OwnedFrame> WovenClip(const PixelFormat& format, int frames,
                                  std::vector<OwnedFrame>* clean) {
  std::mt19937 rng(13);
  std::vector<OwnedFrame> input;
  for (int index = 0; index < frames; ++index) {
    OwnedFrame fields[2], clean_fields[2];
    for (int parity = 0; parity < 2; ++parity) {
      fields[parity] =
          MakeFrame(format, 2.0 * (2 * index + parity), 10, &rng, &clean_fields[parity]);
    }
    OwnedFrame woven(format), woven_clean(format);
    for (int plane = 0; plane < 3; ++plane) {
      for (int y = 0; y < woven.plane(plane).height; ++y) {
        for (int x = 0; x < woven.plane(plane).width; ++x) {
          woven.plane(plane).Set(x, y, fields[y & 1].plane(plane).At(x, y));
          woven_clean.plane(plane).Set(x, y, clean_fields[y & 1].plane(plane).At(x, y));
        }
      }
    }
    input.push_back(std::move(woven));
    clean->push_back(std::move(woven_clean));
  }
  return input;
}

// Interlaced frames kept interlaced: the fields of a woven frame show the
// pattern at two times. Denoised field by field, each gains; the output keeps
// the format and the field structure (rows of each parity come from that
// field's times).
TEST(DenoiseTest, InterlacedModeDenoisesEachFieldOnItsOwn) {
  FilterConfig config;
  config.input = PixelFormat{96, 64, 8, Chroma::k420};
  config.properties = {{"interlaced", "1"}};
  std::vector<OwnedFrame> clean;
  const std::vector<OwnedFrame> input = WovenClip(config.input, 6, &clean);
  std::vector<OwnedFrame> out = RunDenoise(config, input);
  ASSERT_EQ(out.size(), input.size());
  for (size_t index = 2; index + 2 < out.size(); ++index) {
    EXPECT_EQ(out[index].format(), config.input);
    EXPECT_GT(LumaPsnr(out[index], clean[index]), LumaPsnr(input[index], clean[index]) + 4.0)
        << "frame " << index;
  }
}

// Where a plane's rows do not split evenly into fields (4:2:0 at 62 rows: 31
// chroma rows, 16 + 15), field mode still denoises each field stream on its
// own: the top field (which has the extra row) is exactly the plain denoiser
// run on the top fields, and the bottom field the same on the bottom fields
// with their last row repeated to the top field's size.
TEST(DenoiseTest, InterlacedModeTakesFieldsOfUnequalHeight) {
  for (const PixelFormat format :
       {PixelFormat{96, 62, 8, Chroma::k420}, PixelFormat{96, 61, 8, Chroma::k420},
        PixelFormat{96, 61, 10, Chroma::k422}}) {
    SCOPED_TRACE(std::to_string(format.height) + " rows, " +
                 std::string(ChromaName(format.chroma)));
    FilterConfig config;
    config.input = format;
    config.properties = {{"interlaced", "1"}};
    std::vector<OwnedFrame> clean;
    const std::vector<OwnedFrame> input = WovenClip(format, 5, &clean);
    const std::vector<OwnedFrame> out = RunDenoise(config, input);
    ASSERT_EQ(out.size(), input.size());

    FilterConfig field_config;
    field_config.input = format;
    field_config.input.height = (format.height + 1) / 2;
    for (int parity = 0; parity < 2; ++parity) {
      std::vector<OwnedFrame> fields;
      for (const OwnedFrame& frame : input) {
        OwnedFrame field(field_config.input);
        for (int plane = 0; plane < 3; ++plane) {
          CopyRowsExtending(FieldOf(frame.view(), parity).planes[plane], field.plane(plane));
        }
        fields.push_back(std::move(field));
      }
      const std::vector<OwnedFrame> alone = RunDenoise(field_config, fields);
      for (size_t index = 0; index < out.size(); ++index) {
        const FrameView got = FieldOf(out[index].view(), parity);
        for (int plane = 0; plane < 3; ++plane) {
          const PlaneView g = got.planes[plane], want = alone[index].plane(plane);
          ASSERT_EQ(g.height, parity == 0 ? want.height : (out[index].plane(plane).height) / 2);
          for (int y = 0; y < g.height; ++y) {
            for (int x = 0; x < g.width; ++x) {
              ASSERT_EQ(g.At(x, y), want.At(x, y))
                  << "field " << parity << " of frame " << index << ", plane " << plane << " at "
                  << x << "," << y;
            }
          }
        }
      }
    }
  }
}

TEST(DenoiseTest, EstimatesWhiteNoiseSigma) {
  OwnedFrame frame(PixelFormat{128, 128, 8, Chroma::k420});
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0.0, 8.0);
  const PlaneView luma = frame.plane(0);
  for (int y = 0; y < luma.height; ++y) {
    for (int x = 0; x < luma.width; ++x) {
      luma.Set(x, y, static_cast<int>(std::lround(100 + 0.3 * x + normal(rng))));
    }
  }
  EXPECT_NEAR(EstimateNoiseSigma(luma), 8.0, 0.8);
}

TEST(DenoiseTest, RefusesBadPropertiesAndFormats) {
  FilterConfig config;
  config.input = PixelFormat{32, 32, 8, Chroma::k420};
  config.properties = {{"sigma", "-1"}};
  EXPECT_EQ(MakeFilter("denoise", config).status().code(), Code::kInvalidArgument);
  config.properties = {{"radius", "3"}};
  EXPECT_EQ(MakeFilter("denoise", config).status().code(), Code::kInvalidArgument);
  config.properties = {{"interlaced", "2"}};
  EXPECT_EQ(MakeFilter("denoise", config).status().code(), Code::kInvalidArgument);
  config.properties = {{"sigma", "10"}, {"strength", "1.5"}};
  auto filter = MakeFilter("denoise", config);
  ASSERT_TRUE(filter.ok());
  OwnedFrame wrong(PixelFormat{32, 32, 10, Chroma::k420});
  EXPECT_EQ((*filter)->Push(wrong.view(), 0).code(), Code::kInvalidArgument);
}

// Clean and nearly clean video, the pattern moving by a fraction of a sample
// per picture: the middle pictures come out cleaner than they went in, and
// clean ones stay above 50 dB. Compensated with Catmull-Rom alone, the
// neighbours lost the fine stripes and the noise estimate took that loss for
// noise: 42 dB whatever the input (σ = 0.5: 10 dB below it).
TEST(DenoiseTest, NearlyCleanVideoStaysClean) {
  for (double sigma : {0.0, 0.5, 1.0}) {
    FilterConfig config;
    config.input = PixelFormat{128, 96, 8, Chroma::k420};
    std::vector<OwnedFrame> clean;
    const std::vector<OwnedFrame> input = NoisyClip(config.input, 7, 1.75, sigma, 5, &clean);
    std::vector<OwnedFrame> out = RunDenoise(config, input);
    ASSERT_EQ(out.size(), input.size());
    for (size_t index = 2; index + 2 < out.size(); ++index) {
      const double before = LumaPsnr(input[index], clean[index]);
      const double after = LumaPsnr(out[index], clean[index]);
      EXPECT_GT(after, std::min(before, 50.0)) << "σ " << sigma << " picture " << index;
    }
  }
}

}  // namespace
}  // namespace vidmill::filters
