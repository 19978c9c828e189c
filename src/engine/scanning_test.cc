#include "engine/scanning.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

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
    FieldPhaseCounts phase;
  };

  Result<Verdict> Analyze(const std::string& path) {
    MediaLimits limits;
    ASSIGN_OR_RETURN(auto input, MediaInput::Open(path, limits));
    ASSIGN_OR_RETURN(VideoMetadata meta, ProbeMetadata(*input));
    ASSIGN_OR_RETURN(auto sampled, MediaInput::Open(path, limits));
    IdetAnalyzer idet;
    FieldPhaseAnalyzer phase;
    AVRational time_base = sampled->video_stream()->time_base;
    ASSIGN_OR_RETURN(int64_t frames,
                     SampleFrames(*sampled, SamplingPlan{4, 20},
                                  [&](const AVFrame* frame, int, int index, bool follows) {
                                    // As ingestion.cc does.
                                    RETURN_IF_ERROR(phase.AddFrame(frame, index == 0 || !follows));
                                    return idet.AddFrame(frame, time_base, !follows);
                                  }));
    RETURN_IF_ERROR(idet.Finish());
    EXPECT_EQ(idet.counts().total(), frames);
    return Verdict{meta.scanning_metadata,
                   ClassifyScanning(idet.counts(), phase.counts(), meta.scanning_metadata),
                   idet.counts(), phase.counts()};
  }

  // What the field phase alone says (no idet answer, progressive flags).
  static std::string PhaseAlone(const Verdict& verdict) {
    return ClassifyScanning(IdetCounts{}, verdict.phase, Scanning{}).ToString();
  }

  static std::string Describe(const Verdict& verdict) {
    const FieldPhaseCounts& phase = verdict.phase;
    return "idet tff/bff/progressive/undetermined " + std::to_string(verdict.counts.tff) + "/" +
           std::to_string(verdict.counts.bff) + "/" + std::to_string(verdict.counts.progressive) +
           "/" + std::to_string(verdict.counts.undetermined) +
           ", phase pairs tff/bff/progressive/shifted/other/still " + std::to_string(phase.tff) +
           "/" + std::to_string(phase.bff) + "/" + std::to_string(phase.progressive) + "/" +
           std::to_string(phase.shifted) + "/" + std::to_string(phase.other) + "/" +
           std::to_string(phase.still);
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

  // A 3 s pan over a photograph at `pixels_per_picture` (horizontal), moving
  // smoothly by fractions of a pixel: each picture is cropped from the photograph
  // at twice the size and scaled down. `rate` pictures per second ("50",
  // "60000/1001") are woven by the filter `weave` into frames of two fields, or
  // with no weave are the frames (of segmented frames when `flags` say
  // interlaced).
  // `codec`: the encoder's options ("-c:v libx264 …", or DV's).
  std::string MakeSlowPan(const std::string& name, int width, int height, const std::string& rate,
                          double pixels_per_picture, const std::string& weave,
                          const std::string& flags, const std::string& codec) {
    std::string path = Path(name);
    std::string filter = "scale=-2:" + std::to_string(2 * height + 64) +
                         ",format=yuv444p,loop=loop=-1:size=1:start=0,setpts=N/((" + rate +
                         ")*TB),crop=w=" + std::to_string(2 * width) +
                         ":h=" + std::to_string(2 * height) + ":x='n*" +
                         std::to_string(2 * pixels_per_picture) +
                         "':y=32:exact=1,scale=" + std::to_string(width) + ":" +
                         std::to_string(height) + ":flags=bicubic";
    if (!weave.empty()) {
      filter += "," + weave;
    }
    Ffmpeg("-framerate " + rate + " -i '" + Photo() + "' -vf \"" + filter + "," + flags + " " +
           codec + " -t 3 " + path);
    return path;
  }

  test::TempDir dir_;
};

// The sampler says which frames follow the one handed out before, so that
// idet and the field phase run on across windows that touch (plumbing only:
// testsrc2 is fine here).
struct SampledFrame {
  int64_t pts;
  int window;
  int index;
  bool follows;
};

std::vector<SampledFrame> Sample(const std::string& path, const SamplingPlan& plan) {
  std::vector<SampledFrame> frames;
  auto input = MediaInput::Open(path, MediaLimits{});
  EXPECT_TRUE(input.ok()) << input.status().ToString();
  if (!input.ok()) return frames;
  auto count =
      SampleFrames(**input, plan, [&](const AVFrame* frame, int window, int index, bool follows) {
        frames.push_back({frame->pts, window, index, follows});
        return Status::Ok();
      });
  EXPECT_TRUE(count.ok()) << count.status().ToString();
  return frames;
}

// A 160x120 25 fps test pattern of `seconds`, a keyframe every `gop` frames;
// "" if ffmpeg failed.
std::string PatternClip(const std::string& path, int seconds, int gop) {
  return Ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25:duration=" + std::to_string(seconds) +
                " -c:v libx264 -preset ultrafast -g " + std::to_string(gop) + " " + path)
             ? path
             : "";
}

// Every window's first frame starts a run, and the others follow it.
void ExpectEachWindowARun(const std::vector<SampledFrame>& frames) {
  for (const SampledFrame& frame : frames) {
    EXPECT_EQ(frame.follows, frame.index > 0)
        << "window " << frame.window << ", index " << frame.index << ", pts " << frame.pts;
  }
}

TEST_F(ScanningTest, AShortClipWhoseWindowsTouchIsOneRun) {
  const std::string path = PatternClip(Path("short.mp4"), 3, 25);
  ASSERT_FALSE(path.empty());
  std::vector<SampledFrame> frames = Sample(path, SamplingPlan{12, 7});
  ASSERT_EQ(frames.size(), 75u);  // every frame, each once
  EXPECT_FALSE(frames[0].follows);
  for (size_t i = 1; i < frames.size(); ++i) {
    EXPECT_TRUE(frames[i].follows) << "frame " << i << ", window " << frames[i].window;
    EXPECT_EQ(frames[i].pts, frames[i - 1].pts + 512) << "frame " << i;  // 1/12800
  }
  EXPECT_GT(frames.back().window, 8);  // the windows did go on
}

TEST_F(ScanningTest, AWindowReachedBySeekingStartsANewRun) {
  const std::string path = PatternClip(Path("long.mp4"), 12, 25);
  ASSERT_FALSE(path.empty());
  std::vector<SampledFrame> frames = Sample(path, SamplingPlan{3, 5});
  ASSERT_EQ(frames.size(), 15u);
  ExpectEachWindowARun(frames);
  EXPECT_EQ(frames[5].pts, 4 * 12800);  // the windows are 4 s apart
}

TEST_F(ScanningTest, AWindowReachedByDecodingPastFramesStartsANewRun) {
  const std::string path = PatternClip(Path("gaps.mp4"), 3, 250);
  ASSERT_FALSE(path.empty());
  std::vector<SampledFrame> frames = Sample(path, SamplingPlan{3, 5});  // 1 s apart
  ASSERT_EQ(frames.size(), 15u);
  ExpectEachWindowARun(frames);
  EXPECT_EQ(frames[5].pts, 12800);  // decoded forward past frames 5 to 24
}

// The plan ingestion makes (12 windows), with `frames_per_window`.
SamplingPlan PlanFor(const std::string& path, int frames_per_window) {
  SamplingPlan plan{12, frames_per_window};
  auto input = MediaInput::Open(path, MediaLimits{});
  if (!input.ok()) return plan;
  auto meta = ProbeMetadata(**input);
  if (!meta.ok()) return plan;
  plan = SamplingPlanFor(*meta, 12, 24);
  plan.frames_per_window = frames_per_window;
  return plan;
}

// An MXF cut short still says 3 s in its header: the windows spread over the
// 1.8 s of pictures it has, so the last window is reached (audit 40 F4).
TEST_F(ScanningTest, TheWindowsOfAFileCutShortSpreadOverThePicturesItHas) {
  const std::string whole = Path("whole.mxf");
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25:duration=3 -c:v mpeg2video "
             "-b:v 2M -g 12 " +
             whole));
  const std::string cut = Path("cut.mxf");
  testing::Truncate(whole, cut, std::filesystem::file_size(whole) * 6 / 10);
  const SamplingPlan plan = PlanFor(cut, 2);
  ASSERT_GT(plan.pictures_millis, 0);
  EXPECT_LT(plan.pictures_millis, 2200);
  std::vector<SampledFrame> frames = Sample(cut, plan);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().window, 11);
}

// A Matroska file with a gap in its timestamps is not cut short: its counted
// span covers the gap, and the windows reach the end of the pictures after
// it (audit 43 F2, its layout: 12 s, a 90 s gap, 24 s). Counted frames times
// the average period had confined the windows to the first 36 s of 126.
TEST_F(ScanningTest, TheWindowsOfAFileWithATimestampGapReachPastIt) {
  const std::string path = Path("gap.mkv");
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25:duration=36 -vf "
             "\"settb=1/25,setpts='N+gte(N\\,300)*2250'\" -fps_mode passthrough "
             "-c:v libx264 -preset ultrafast -g 250 " +
             path));
  const SamplingPlan plan = PlanFor(path, 24);
  ASSERT_EQ(plan.total_frames, 900);
  std::vector<SampledFrame> frames = Sample(path, plan);
  ASSERT_FALSE(frames.empty());
  // The last window is sought near its target (115.5 s): from the keyframe
  // at 110 s. Confined to 36 s, the windows only ran on from the gap's end
  // (the last frame analysed at 107.6 s).
  EXPECT_GE(frames.back().pts, 110000) << "ms";
}

constexpr char kX264[] = "-c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p";
// NTSC DV: 720x480, 29.97 frames/s, 4:1:1; the codec stores bottom field first.
constexpr char kDv[] = "-c:v dvvideo -pix_fmt yuv411p";

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

// Slow pans (half a pixel to a pixel per field: a camera panning at 25–60 px/s)
// give idet little combing to see. The field phase measures the fields' timing
// instead: each test checks it on its own as well as the verdict.
TEST_F(ScanningTest, SlowPanWovenTopFieldFirst) {
  auto verdict = Analyze(MakeSlowPan("slow-tff.mp4", 720, 576, "50", 0.5,
                                     "tinterlace=mode=interleave_top", kFlagTff, kX264));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "interlaced top_field");
  EXPECT_EQ(verdict->heuristics.ToString(), "interlaced top_field") << Describe(*verdict);
  EXPECT_EQ(PhaseAlone(*verdict), "interlaced top_field") << Describe(*verdict);
}

// NTSC DV as the camera records it: 720x480, bottom field first, 1 px per field.
TEST_F(ScanningTest, SlowPanWovenBottomFieldFirstDv) {
  auto verdict = Analyze(MakeSlowPan("slow-bff.dv", 720, 480, "60000/1001", 1,
                                     "tinterlace=mode=interleave_bottom", "setfield=bff\"", kDv));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "interlaced bottom_field");
  EXPECT_EQ(verdict->heuristics.ToString(), "interlaced bottom_field") << Describe(*verdict);
  EXPECT_EQ(PhaseAlone(*verdict), "interlaced bottom_field") << Describe(*verdict);
}

// Half a pixel per field; DV's field-difference coding pulls the fields
// together, so the measured phase is nearer −0.3 than −0.5.
TEST_F(ScanningTest, SlowerPanWovenBottomFieldFirstDv) {
  auto verdict = Analyze(MakeSlowPan("slower-bff.dv", 720, 480, "60000/1001", 0.5,
                                     "tinterlace=mode=interleave_bottom", "setfield=bff\"", kDv));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->heuristics.ToString(), "interlaced bottom_field") << Describe(*verdict);
  EXPECT_EQ(PhaseAlone(*verdict), "interlaced bottom_field") << Describe(*verdict);
}

// Segmented frames (PsF): progressive pictures stored as two fields and
// flagged interlaced. Both fields show one instant, however slow the pan; at
// 1 px per frame idet finds nothing either way, so the flags had decided.
TEST_F(ScanningTest, SlowPanSegmentedFramesAreProgressive) {
  auto verdict = Analyze(MakeSlowPan("slow-psf.mp4", 720, 576, "25", 1, "", kFlagTff, kX264));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "interlaced top_field");
  EXPECT_EQ(verdict->heuristics.ToString(), "progressive") << Describe(*verdict);
  EXPECT_EQ(PhaseAlone(*verdict), "progressive") << Describe(*verdict);
}

TEST_F(ScanningTest, SlowPanSegmentedFramesDvAreProgressive) {
  auto verdict =
      Analyze(MakeSlowPan("slow-psf.dv", 720, 480, "30000/1001", 2, "", "setfield=bff\"", kDv));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "interlaced bottom_field");
  EXPECT_EQ(verdict->heuristics.ToString(), "progressive") << Describe(*verdict);
  EXPECT_EQ(PhaseAlone(*verdict), "progressive") << Describe(*verdict);
}

// Film telecined to 29.97 (3:2 pulldown) and flagged progressive: most frames
// are whole pictures, but two in five weave two pictures, so the fields must
// stay apart. idet's interlaced verdict stands against the flags and the
// mostly-progressive phase: its shifted blocks keep the phase from answering.
TEST_F(ScanningTest, TelecinedFilmFlaggedProgressiveStaysInterlaced) {
  auto verdict = Analyze(MakeSlowPan("telecine.mp4", 720, 480, "24000/1001", 2.5,
                                     "telecine=first_field=t:pattern=23", kFlagProgressive, kX264));
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->metadata.ToString(), "progressive");
  EXPECT_EQ(verdict->heuristics.ToString(), "interlaced top_field") << Describe(*verdict);
  EXPECT_GE(10 * verdict->phase.shifted, verdict->phase.moving()) << Describe(*verdict);
}

// A still picture shows neither combing nor motion: the flags stand.
TEST_F(ScanningTest, StillPictureKeepsTheFlags) {
  auto interlaced =
      Analyze(MakeSlowPan("still.dv", 720, 480, "30000/1001", 0, "", "setfield=bff\"", kDv));
  ASSERT_TRUE(interlaced.ok()) << interlaced.status().ToString();
  EXPECT_EQ(interlaced->heuristics.ToString(), "interlaced bottom_field") << Describe(*interlaced);
  EXPECT_EQ(interlaced->phase.moving(), 0);
  auto progressive =
      Analyze(MakeSlowPan("still.mp4", 720, 576, "25", 0, "", kFlagProgressive, kX264));
  ASSERT_TRUE(progressive.ok()) << progressive.status().ToString();
  EXPECT_EQ(progressive->heuristics.ToString(), "progressive") << Describe(*progressive);
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
  const FieldPhaseCounts no_motion{};
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
    EXPECT_EQ(ClassifyScanning(c.counts, no_motion, c.metadata), c.expected)
        << c.counts.tff << "/" << c.counts.bff << "/" << c.counts.progressive << "/"
        << c.counts.undetermined << " metadata " << c.metadata.ToString();
  }
}

// The field phase: its thresholds, and how it is weighed against idet and the
// flags.
TEST(ClassifyScanningTest, FieldPhase) {
  const Scanning progressive{};
  const Scanning tff{ScanningType::kInterlaced, FieldOrder::kTopFieldFirst};
  const Scanning bff{ScanningType::kInterlaced, FieldOrder::kBottomFieldFirst};
  const IdetCounts idet_none{3, 0, 4, 200};
  const IdetCounts idet_progressive{0, 0, 100, 0};
  const IdetCounts idet_tff{90, 0, 10, 0};
  struct Case {
    IdetCounts counts;
    FieldPhaseCounts phase;  // pairs: tff, bff, progressive, shifted, other, still
    Scanning metadata;
    Scanning expected;
  };
  const Case cases[] = {
      // Without an answer from idet, the phase decides...
      {idet_none, {1, 0, 10, 0, 1, 36}, tff, progressive},  // slow PsF
      {idet_none, {10, 0, 1, 0, 1, 36}, progressive, tff},
      {idet_none, {0, 10, 1, 0, 1, 36}, tff, bff},
      // ... when enough pairs moved measurably:
      {idet_none, {0, 0, 3, 0, 0, 45}, tff, tff},
      {idet_none, {0, 0, 4, 0, 0, 44}, tff, progressive},
      // ... and they agree:
      {idet_none, {0, 0, 5, 0, 6, 37}, tff, tff},  // under half in the band
      {idet_none, {0, 0, 5, 0, 5, 38}, tff, progressive},
      {idet_none, {3, 2, 9, 0, 0, 34}, tff, tff},  // under twice the others
      {idet_none, {2, 2, 8, 0, 0, 36}, tff, progressive},
      {idet_none, {6, 5, 0, 0, 0, 37}, progressive, progressive},  // unclear order
      // ... and, for progressive, under 1 in 10 pairs shows pulldown:
      {idet_none, {0, 0, 18, 2, 0, 28}, tff, tff},
      {idet_none, {0, 0, 19, 2, 0, 27}, tff, progressive},
      // Against a clear idet answer, the phase wins only with the flags:
      {idet_progressive, {0, 10, 1, 0, 1, 36}, bff, bff},
      {idet_progressive, {0, 10, 1, 0, 1, 36}, progressive, progressive},
      {idet_progressive, {0, 10, 1, 0, 1, 36}, tff, progressive},
      {idet_tff, {1, 0, 10, 0, 1, 36}, progressive, progressive},
      {idet_tff, {1, 0, 10, 0, 1, 36}, tff, tff},
      {idet_tff, {0, 0, 8, 4, 0, 36}, progressive, tff},  // telecined film
      {idet_tff, {0, 10, 1, 0, 1, 36}, bff, bff},
      {idet_tff, {0, 10, 1, 0, 1, 36}, tff, tff},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyScanning(c.counts, c.phase, c.metadata), c.expected)
        << "idet " << c.counts.tff << "/" << c.counts.bff << "/" << c.counts.progressive << "/"
        << c.counts.undetermined << " phase " << c.phase.tff << "/" << c.phase.bff << "/"
        << c.phase.progressive << "/" << c.phase.shifted << "/" << c.phase.other << "/"
        << c.phase.still << " metadata " << c.metadata.ToString();
  }
}

}  // namespace
}  // namespace vidmill::engine
