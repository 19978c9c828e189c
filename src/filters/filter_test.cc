#include "filters/filter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vidmill::filters {
namespace {

FilterConfig Config(int width, int height, int depth, Chroma chroma) {
  FilterConfig config;
  config.input = PixelFormat{width, height, depth, chroma};
  return config;
}

// The rows' padding (the stride beyond the samples) of plane `index`.
std::vector<uint8_t> Padding(const OwnedFrame& frame, int index) {
  const PlaneView plane = frame.plane(index);
  const ptrdiff_t row = static_cast<ptrdiff_t>(plane.width) * (plane.bit_depth > 8 ? 2 : 1);
  std::vector<uint8_t> padding;
  for (int y = 0; y < plane.height; ++y) {
    padding.insert(padding.end(), plane.Row8(y) + row, plane.Row8(y) + plane.stride);
  }
  return padding;
}

TEST(OwnedFrameTest, CopiesAndFramesForOverwriteHaveTheLayoutAndZeroPadding) {
  for (const PixelFormat format :
       {PixelFormat{45, 7, 8, Chroma::k420}, PixelFormat{33, 6, 10, Chroma::k422},
        PixelFormat{100, 4, 8, Chroma::k444}}) {
    OwnedFrame source(format);
    source.Fill(0, 0);
    for (int index = 0; index < 3; ++index) {
      const PlaneView p = source.plane(index);
      for (int y = 0; y < p.height; ++y) {
        for (int x = 0; x < p.width; ++x) p.Set(x, y, (x * 7 + y * 13 + index * 5) % 251 + 1);
      }
    }
    const OwnedFrame copy = OwnedFrame::CopyOf(source.view());
    const OwnedFrame blank = OwnedFrame::ForOverwrite(format);
    for (int index = 0; index < 3; ++index) {
      const PlaneView a = source.plane(index), b = copy.plane(index), c = blank.plane(index);
      ASSERT_EQ(b.width, a.width);
      ASSERT_EQ(b.height, a.height);
      ASSERT_EQ(b.stride, a.stride);
      ASSERT_EQ(c.width, a.width);
      ASSERT_EQ(c.height, a.height);
      ASSERT_EQ(c.stride, a.stride);
      for (int y = 0; y < a.height; ++y) {
        for (int x = 0; x < a.width; ++x) ASSERT_EQ(b.At(x, y), a.At(x, y)) << x << "," << y;
      }
      const std::vector<uint8_t> padding = Padding(copy, index);
      EXPECT_EQ(padding, std::vector<uint8_t>(padding.size(), 0)) << index;
      EXPECT_EQ(Padding(blank, index), padding) << index;
    }
    EXPECT_GT(Padding(copy, 0).size(), 0u);  // the layouts above have padding
  }
}

// What lets an AVFrame take the planes over (register_filters.cc): each
// starts on a 64-byte boundary, its stride is a multiple of 64, and
// kPlanePadding zero bytes follow its last row, however it was made; a move
// leaves the samples where they are.
TEST(OwnedFrameTest, PlanesAreAlignedAndPaddedAsFfmpegAsks) {
  for (const PixelFormat format :
       {PixelFormat{45, 7, 8, Chroma::k420}, PixelFormat{33, 6, 10, Chroma::k422},
        PixelFormat{1, 1, 8, Chroma::k444}, PixelFormat{2560, 1440, 8, Chroma::k420}}) {
    const OwnedFrame zeroed(format);
    OwnedFrame source(format);
    source.Fill(200, 100);
    const OwnedFrame blank = OwnedFrame::ForOverwrite(format);
    const OwnedFrame copy = OwnedFrame::CopyOf(source.view());
    const OwnedFrame* const frames[] = {&zeroed, &source, &blank, &copy};
    for (const OwnedFrame* frame : frames) {
      for (int index = 0; index < 3; ++index) {
        const PlaneView p = frame->plane(index);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p.data) % OwnedFrame::kAlignment, 0u);
        EXPECT_EQ(p.stride % 64, 0);
        const uint8_t* end = p.Row8(p.height - 1) + p.stride;
        for (size_t k = 0; k < OwnedFrame::kPlanePadding; ++k) {
          ASSERT_EQ(end[k], 0) << index << " " << k;
        }
      }
    }
    uint8_t* const luma = source.plane(0).data;
    const OwnedFrame moved = std::move(source);
    EXPECT_EQ(moved.plane(0).data, luma);
  }
}

// The VmFlags of the mapping of this process that holds `address`, from
// /proc/self/smaps ("" when none does).
std::string MappingFlags(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t at = reinterpret_cast<uintptr_t>(address);
  bool inside = false;
  std::string line;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find('-') < 17) {
      inside = begin <= at && at < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

// Small blocks are 64-byte aligned; blocks of 2 MiB or more are mapped on
// their own, 2 MiB aligned and advised for huge pages; every byte asked for
// can be written and read back, and a vector that grows keeps its samples.
TEST(SampleAllocatorTest, BlocksAreAlignedUsableAndLargeOnesAdvisedForHugePages) {
  constexpr size_t kHuge = size_t{2} << 20;
  for (const size_t bytes : {size_t{1}, size_t{100}, kHuge - 1, kHuge, 3 * kHuge + 5}) {
    uint8_t* block = static_cast<uint8_t*>(AllocateSamples(bytes));
    ASSERT_NE(block, nullptr);
    const uintptr_t at = reinterpret_cast<uintptr_t>(block);
    EXPECT_EQ(at % 64, 0u) << bytes;
    for (size_t k = 0; k < bytes; ++k) block[k] = static_cast<uint8_t>(k * 7);
    size_t wrong = 0;
    for (size_t k = 0; k < bytes; ++k) wrong += block[k] != static_cast<uint8_t>(k * 7);
    EXPECT_EQ(wrong, 0u) << bytes;
    const std::string flags = MappingFlags(block);
    if (bytes >= kHuge) {
      EXPECT_EQ(at % kHuge, 0u) << bytes;
      EXPECT_NE(flags.find(" hg"), std::string::npos) << bytes << ": " << flags;
    } else {
      EXPECT_EQ(flags.find(" hg"), std::string::npos) << bytes << ": " << flags;
    }
    FreeSamples(block, bytes);
  }
  std::vector<float, SampleAllocator<float>> samples;
  for (size_t size : {size_t{10}, size_t{1} << 19, size_t{3} << 20}) {
    const size_t old_size = samples.size();
    samples.resize(size);
    for (size_t k = old_size; k < size; ++k) samples[k] = static_cast<float>(k);
  }
  size_t wrong = 0;
  for (size_t k = 0; k < samples.size(); ++k) wrong += samples[k] != static_cast<float>(k);
  EXPECT_EQ(wrong, 0u);
}

// A freed large block is kept and given to the next allocation of its
// (rounded) size; beyond 128 MiB kept, freed blocks are unmapped.
TEST(SampleAllocatorTest, FreedLargeBlocksAreKeptForTheirSizeUpToABound) {
  constexpr size_t kHuge = size_t{2} << 20, kBound = size_t{128} << 20;
  void* first = AllocateSamples(5 * kHuge);
  const size_t kept = KeptSampleBytes();
  FreeSamples(first, 5 * kHuge);
  EXPECT_EQ(KeptSampleBytes(), kept + 5 * kHuge);
  void* again = AllocateSamples(5 * kHuge - 100);
  EXPECT_EQ(again, first);
  EXPECT_EQ(KeptSampleBytes(), kept);
  void* other = AllocateSamples(7 * kHuge);
  EXPECT_NE(other, first);
  FreeSamples(other, 7 * kHuge);
  FreeSamples(again, 5 * kHuge - 100);
  std::vector<void*> many;
  for (int k = 0; k < 40; ++k) many.push_back(AllocateSamples(5 * kHuge));
  for (void* block : many) FreeSamples(block, 5 * kHuge);
  EXPECT_LE(KeptSampleBytes(), kBound);
  EXPECT_GT(KeptSampleBytes(), kBound - 5 * kHuge);
}

TEST(MakeFilterTest, EveryKnownNameMakesAFilter) {
  for (const char* name : {"deint", "denoise", "dejit", "filmgrain", "pabsr1", "dvres"}) {
    ASSERT_TRUE(IsKnownFilterName(name)) << name;
    FilterConfig config = Config(16, 16, 8, Chroma::k420);
    if (std::string_view(name) == "pabsr1" || std::string_view(name) == "dvres") {
      config.output_width = 32;  // the scalers need an output size, the others refuse one
      config.output_height = 32;
    }
    auto filter = MakeFilter(name, config);
    EXPECT_TRUE(filter.ok()) << name << ": " << filter.status().message();
  }
}

TEST(MakeFilterTest, UnknownNameAndPropertyAreInvalid) {
  EXPECT_EQ(MakeFilter("sharpen", Config(16, 16, 8, Chroma::k420)).status().code(),
            Code::kInvalidArgument);
  FilterConfig config = Config(16, 16, 8, Chroma::k420);
  config.properties["strenght"] = "0.5";
  EXPECT_EQ(MakeFilter("filmgrain", config).status().code(), Code::kInvalidArgument);
  config.properties = {{"strength", "2"}};
  EXPECT_EQ(MakeFilter("filmgrain", config).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(MakeFilter("deint", Config(0, 16, 8, Chroma::k420)).status().code(),
            Code::kInvalidArgument);
}

TEST(ClarityBoostTest, ParsesEveryLevel) {
  EXPECT_EQ(*ParseClarityBoost("very_high"), ClarityBoost::kVeryHigh);
  EXPECT_EQ(*ParseClarityBoost("none"), ClarityBoost::kNone);
  EXPECT_FALSE(ParseClarityBoost("max").ok());
}

// Runs `frames` grey-gradient frames through a filmgrain filter.
std::vector<OwnedFrame> RunGrain(const FilterConfig& config, int frames) {
  auto filter = MakeFilter("filmgrain", config);
  EXPECT_TRUE(filter.ok()) << filter.status().ToString();
  std::vector<OwnedFrame> out;
  for (int index = 0; index < frames; ++index) {
    OwnedFrame in(config.input);
    in.Fill(config.input.max_value() / 2, (config.input.max_value() + 1) / 2);
    EXPECT_TRUE((*filter)->Push(in.view(), index).ok());
  }
  EXPECT_TRUE((*filter)->Flush().ok());
  EXPECT_TRUE((*filter)->Pull(&out).ok());
  return out;
}

double Mean(const PlaneView& plane) {
  double sum = 0;
  for (int y = 0; y < plane.height; ++y) {
    for (int x = 0; x < plane.width; ++x) sum += plane.At(x, y);
  }
  return sum / (static_cast<double>(plane.width) * plane.height);
}

TEST(FilmGrainFilterTest, KeepsFormatMeanAndIsDeterministicAndIndependent) {
  for (Chroma chroma : {Chroma::k420, Chroma::k422, Chroma::k444}) {
    for (int depth : {8, 10}) {
      FilterConfig config = Config(64, 48, depth, chroma);
      config.properties = {{"strength", "0.5"}, {"seed", "7"}};
      std::vector<OwnedFrame> a = RunGrain(config, 2);
      std::vector<OwnedFrame> b = RunGrain(config, 2);
      ASSERT_EQ(a.size(), 2u);
      EXPECT_EQ(a[0].format(), config.input);
      EXPECT_EQ(a[1].pts, 1);
      const PlaneView y0 = a[0].plane(0);
      const PlaneView y1 = a[1].plane(0);
      const double mid = config.input.max_value() / 2;
      EXPECT_NEAR(Mean(y0), mid, mid * 0.005);
      double correlation = 0, energy = 0;
      bool same = true, changed = false;
      for (int y = 0; y < y0.height; ++y) {
        for (int x = 0; x < y0.width; ++x) {
          same &= y0.At(x, y) == b[0].plane(0).At(x, y);
          changed |= y0.At(x, y) != static_cast<int>(mid);
          correlation += (y0.At(x, y) - mid) * (y1.At(x, y) - mid);
          energy += (y0.At(x, y) - mid) * (y0.At(x, y) - mid);
        }
      }
      EXPECT_TRUE(same);
      EXPECT_TRUE(changed);
      // Consecutive frames' grain is uncorrelated.
      EXPECT_LT(std::abs(correlation / energy), 0.15);
    }
  }
}

}  // namespace
}  // namespace vidmill::filters
