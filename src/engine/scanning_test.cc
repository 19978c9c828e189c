#include "engine/scanning.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/frame_sampler.h"
#include "engine/test_media.h"
#include "tests/support/temp_dir.h"

namespace vidmill::engine {

void PrintTo(const Scanning& scanning, std::ostream* os) { *os << scanning.ToString(); }

namespace {

using testing::Ffmpeg;
using testing::PanFilter;
using testing::Photo;
using testing::PhotoSource;

// Interlace detection is tested on camera pans over a photograph: synthetic
// patterns (testsrc2) fool idet. Interlaced clips are made the way cameras make
// them: 50 progressive pictures per second woven into 25 frames of two fields.
class ScanningTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  struct Verdict {
    Scanning metadata;
    Scanning heuristics;
    IdetCounts counts;
  };

  Result<Verdict> Analyze(const std::string& path) {
    MediaLimits limits;
    ASSIGN_OR_RETURN(auto input, MediaInput::Open(path, limits));
    ASSIGN_OR_RETURN(VideoMetadata meta, ProbeMetadata(*input));
    ASSIGN_OR_RETURN(auto sampled, MediaInput::Open(path, limits));
    IdetAnalyzer idet;
    AVRational time_base = sampled->video_stream()->time_base;
    ASSIGN_OR_RETURN(int64_t frames,
                     SampleFrames(*sampled, SamplingPlan{4, 20},
                                  [&](const AVFrame* frame, int window_idx, int index) {
                                    return idet.AddFrame(frame, time_base, index == 0);
                                  }));
    RETURN_IF_ERROR(idet.Finish());
    EXPECT_EQ(idet.counts().total(), frames);
    return Verdict{meta.scanning_metadata, ClassifyScanning(idet.counts(), meta.scanning_metadata),
                   idet.counts()};
  }

  // A 4 s 320x180 pan: 25p progressive, or 50p woven into 25i with `weave`
  // ("interleave_top" / "interleave_bottom"), then `flags` (a setfield, and the
  // encoder's interlace options) decide what the stream claims.
  std::string Make(const std::string& name, const std::string& weave, const std::string& flags) {
    std::string path = Path(name);
    int rate = weave.empty() ? 25 : 50;
    std::string filter = PanFilter(320, 180, rate, 4);
    if (!weave.empty()) {
      filter += ",tinterlace=mode=" + weave;
    }
    Ffmpeg(PhotoSource(Photo(), rate) + "-vf \"" + filter + "," + flags +
           " -c:v libx264 -preset veryfast -crf 18 " + path);
    return path;
  }

  test::TempDir dir_;
};

constexpr char kFlagTff[] = "setfield=tff\" -flags +ilme+ildct -x264opts tff=1";
constexpr char kFlagBff[] = "setfield=bff\" -flags +ilme+ildct -x264opts bff=1";
constexpr char kFlagProgressive[] = "setfield=prog\"";

TEST_F(ScanningTest, ProgressivePan) {
  auto verdict = Analyze(Make("p.mp4", "", kFlagProgressive));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "progressive");
  EXPECT_EQ(verdict->heuristics.ToString(), "progressive");
  EXPECT_GT(verdict->counts.progressive, 40);
}

TEST_F(ScanningTest, WovenTopFieldFirst) {
  auto verdict = Analyze(Make("tff.mp4", "interleave_top", kFlagTff));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "interlaced top_field");
  EXPECT_EQ(verdict->heuristics.ToString(), "interlaced top_field");
  EXPECT_GT(verdict->counts.tff, 40);
}

TEST_F(ScanningTest, WovenBottomFieldFirst) {
  auto verdict = Analyze(Make("bff.mkv", "interleave_bottom", kFlagBff));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "interlaced bottom_field");
  EXPECT_EQ(verdict->heuristics.ToString(), "interlaced bottom_field");
  EXPECT_GT(verdict->counts.bff, 40);
}

TEST_F(ScanningTest, ProgressiveContentFlaggedInterlaced) {
  auto verdict = Analyze(Make("lie-i.mp4", "", kFlagTff));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "interlaced top_field");
  EXPECT_EQ(verdict->heuristics.ToString(), "progressive");
}

TEST_F(ScanningTest, InterlacedContentFlaggedProgressive) {
  auto verdict = Analyze(Make("lie-p.mp4", "interleave_top", kFlagProgressive));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "progressive");
  EXPECT_EQ(verdict->heuristics.ToString(), "interlaced top_field");
}

TEST_F(ScanningTest, BottomFirstContentFlaggedTopFirst) {
  auto verdict = Analyze(Make("lie-order.mp4", "interleave_bottom", kFlagTff));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "interlaced top_field");
  EXPECT_EQ(verdict->heuristics.ToString(), "interlaced bottom_field");
}

TEST(ClassifyScanningTest, Thresholds) {
  const Scanning progressive{};
  const Scanning tff{ScanningType::kInterlaced, FieldOrder::kTopFieldFirst};
  const Scanning bff{ScanningType::kInterlaced, FieldOrder::kBottomFieldFirst};
  struct Case {
    IdetCounts counts;
    Scanning metadata;
    Scanning expected;
  };
  const Case cases[] = {
      {{0, 0, 100, 0}, tff, progressive},        // clear progressive beats the flags
      {{90, 0, 10, 0}, progressive, tff},        // clear interlaced beats the flags
      {{0, 90, 10, 0}, tff, bff},                // and so does the field order
      {{3, 0, 4, 200}, bff, bff},                // static content: no evidence
      {{5, 0, 2, 0}, progressive, progressive},  // fewer than 10 determined
      {{40, 0, 30, 0}, bff, bff},                // ambiguous: the metadata
      {{40, 0, 30, 0}, progressive, progressive},
      {{50, 45, 0, 0}, bff, bff},  // unclear order: the metadata's
      {{50, 45, 0, 0}, progressive, tff},
      {{30, 0, 0, 100}, progressive, tff},          // 30 of 130 determined is enough
      {{25, 0, 0, 100}, progressive, tff},          // exactly 20% determined
      {{25, 0, 0, 101}, progressive, progressive},  // under 20% determined
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyScanning(c.counts, c.metadata), c.expected)
        << c.counts.tff << "/" << c.counts.bff << "/" << c.counts.progressive << "/"
        << c.counts.undetermined << " metadata " << c.metadata.ToString();
  }
}

}  // namespace
}  // namespace vidmill::engine
