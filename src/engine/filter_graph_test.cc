// The video chain's order and the FilterStage seam: where each of Vidmill's own
// filters sits, that a stock-only chain is one libavfilter graph, that an
// unregistered own filter is refused (501) and never replaced, and that
// registered stages run in place on real frames — changing size, rate and
// pixels — with the formats handed from graph to stage to graph.

#include "engine/filter_graph.h"

#include <gtest/gtest.h>

#include <filesystem>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "engine/test_media.h"
#include "engine/transcode.h"
#include "tests/support/temp_dir.h"

namespace vidmill::engine {
namespace {

using testing::Ffmpeg;
using testing::FfprobeVideo;
using testing::Output;

TranscodeSpec Base() {
  TranscodeSpec spec;
  spec.container = "mov";
  spec.codec = "h264";
  spec.pixel_format = "yuv420p";
  spec.bitrate_mbps = 1.0;
  spec.width = 320;
  spec.height = 240;
  spec.fps = 25;
  spec.source_fps = 25;
  spec.source_width = 320;
  spec.source_height = 240;
  return spec;
}

// "filter" or "[stage]" for each step, joined with " | ".
std::string Describe(const std::vector<FilterStep>& steps) {
  std::string out;
  for (const FilterStep& step : steps) {
    if (!out.empty()) out += " | ";
    if (step.stage) {
      out += "[" + step.stage->name + "]";
    } else {
      out += step.filter.substr(0, step.filter.find('='));
    }
  }
  return out;
}

TEST(FilterGraphTest, OwnFiltersSitAtTheirPlaceInTheFixedOrder) {
  struct Case {
    std::string label;
    TranscodeSpec spec;
    std::string steps;
  };
  std::vector<Case> cases;
  {
    TranscodeSpec spec = Base();
    cases.push_back({"nothing", spec, "setpts | setsar | fps | setfield | format"});
  }
  {
    TranscodeSpec spec = Base();
    spec.source_interlaced = true;
    spec.deinterlacer = "deint";
    spec.deinterlace_field_rate = true;
    spec.fps = 50;
    cases.push_back(
        {"deint at field rate", spec, "setpts | [deint] | setsar | fps | setfield | format"});
  }
  {
    TranscodeSpec spec = Base();
    spec.has_range = true;
    spec.end_ms = 500;
    spec.source_interlaced = true;
    spec.deinterlacer = "bwdif";
    spec.denoiser = "denoise";
    spec.stabilizer = "dejit";
    spec.scaler = "pabsr1";
    spec.clarity_boost = "high";
    spec.width = 640;
    spec.height = 480;
    spec.fps = 30;
    spec.frame_rate_converter = "mcinterpolate";
    spec.post_processor = "filmgrain";
    cases.push_back({"everything", spec,
                     "trim | bwdif | trim | setpts | [denoise] | [dejit] | [pabsr1] | setsar | "
                     "tpad | minterpolate | [filmgrain] | setfield | format"});
  }
  {
    TranscodeSpec spec = Base();
    spec.source_interlaced = true;
    spec.deinterlacer = "yadif";
    spec.interlaced_output = true;
    spec.post_processor = "filmgrain";
    // Interlaced output ends with scale=interl=1,format: field by field.
    cases.push_back(
        {"grain before weaving", spec,
         "setpts | yadif | setsar | tpad | fps | [filmgrain] | tpad | tinterlace | setfield | "
         "scale"});
  }
  {
    TranscodeSpec spec = Base();
    spec.source_interlaced = true;
    spec.interlaced_output = true;
    spec.top_field_first = false;
    spec.scaler = "dvres";
    spec.width = 640;
    spec.height = 480;
    cases.push_back({"kept fields", spec,
                     "setpts | [dvres] | setsar | fps | setfield | fieldorder | setfield | scale"});
  }
  for (const Case& c : cases) {
    auto steps = BuildVideoSteps(c.spec, 0);
    ASSERT_TRUE(steps.ok()) << c.label << ": " << steps.status().ToString();
    EXPECT_EQ(Describe(*steps), c.steps) << c.label;
  }
  // The options a stage is given.
  TranscodeSpec spec = cases[2].spec;
  auto steps = BuildVideoSteps(spec, 0);
  const FilterStageOptions& pabsr1 = *(*steps)[6].stage;
  EXPECT_EQ(pabsr1.width, 640);
  EXPECT_EQ(pabsr1.height, 480);
  EXPECT_EQ(pabsr1.clarity_boost, "high");
  const FilterStageOptions& dvres = *(*BuildVideoSteps(cases[4].spec, 0))[1].stage;
  EXPECT_TRUE(dvres.field_aware);
  const FilterStageOptions& deint = *(*BuildVideoSteps(cases[1].spec, 0))[1].stage;
  EXPECT_TRUE(deint.field_rate);
  EXPECT_TRUE(deint.top_field_first);
}

TEST(FilterGraphTest, UnknownNamesAndMisplacedClarityAreRefused) {
  struct Case {
    std::string label;
    void (*edit)(TranscodeSpec&);
  };
  const std::vector<Case> cases = {
      {"deinterlacer", [](TranscodeSpec& s) { s.deinterlacer = "kerndeint"; }},
      {"denoiser", [](TranscodeSpec& s) { s.denoiser = "nlmeans"; }},
      {"stabilizer", [](TranscodeSpec& s) { s.stabilizer = "vidstab"; }},
      {"scaler", [](TranscodeSpec& s) { s.scaler = "lanczos"; }},
      {"frame-rate converter",
       [](TranscodeSpec& s) {
         s.frame_rate_converter = "warp";
         s.fps = 50;
       }},
      {"post-processor", [](TranscodeSpec& s) { s.post_processor = "sharpen"; }},
      {"clarityBoost", [](TranscodeSpec& s) { s.clarity_boost = "low"; }},
  };
  for (const Case& c : cases) {
    TranscodeSpec spec = Base();
    c.edit(spec);
    auto steps = BuildVideoSteps(spec, 0);
    EXPECT_EQ(steps.status().code(), Code::kInvalidArgument) << c.label;
    EXPECT_NE(steps.status().message().find(c.label), std::string::npos)
        << steps.status().message();
  }
  EXPECT_EQ(RegisterFilterStage("hqdn3d", nullptr).code(), Code::kInvalidArgument);
  EXPECT_FALSE(HasFilterStage("hqdn3d"));
}

// Shared input: 1 s of 320x240 25 fps H.264 (no audio), in a directory removed
// at the process's exit.
const std::string& Input() {
  static const test::TempDir dir;
  static const std::string path = [] {
    std::string out = dir.path() + "/in.mp4";
    Ffmpeg(
        "-f lavfi -i testsrc2=size=320x240:rate=25 -t 1 -c:v libx264 -preset ultrafast "
        "-pix_fmt yuv420p '" +
        out + "'");
    return out;
  }();
  return path;
}

VideoFormat InputFormat() {
  VideoFormat format;
  format.width = 320;
  format.height = 240;
  format.pixel_format = AV_PIX_FMT_YUV420P;
  format.time_base = AVRational{1, 12800};
  format.frame_rate = AVRational{25, 1};
  return format;
}

TEST(FilterGraphTest, AStockChainIsOneGraphAndEachStageSplitsIt) {
  auto stock = VideoFilterChain::Create(*BuildVideoSteps(Base(), 0), InputFormat(), 1);
  ASSERT_TRUE(stock.ok()) << stock.status().ToString();
  EXPECT_EQ((*stock)->graph_count(), 1);
  EXPECT_EQ((*stock)->stage_count(), 0);
  EXPECT_EQ((*stock)->output_format().pixel_format, AV_PIX_FMT_YUV420P);

  // No filters library in this binary: every own filter is a 501, not a stand-in.
  for (const char* name : {"deint", "denoise", "dejit", "pabsr1", "dvres", "filmgrain"}) {
    ASSERT_FALSE(HasFilterStage(name));
    FilterStageOptions options;
    options.name = name;
    auto stage = MakeFilterStage(options);
    EXPECT_EQ(stage.status().code(), Code::kNotImplemented) << name;
    EXPECT_NE(stage.status().message().find("Vidmill's own filters"), std::string::npos);
  }
  TranscodeSpec spec = Base();
  spec.post_processor = "filmgrain";
  auto refused = VideoFilterChain::Create(*BuildVideoSteps(spec, 0), InputFormat(), 1);
  EXPECT_EQ(refused.status().code(), Code::kNotImplemented);
  EXPECT_EQ(BuildVideoFilters(spec, 0).status().code(), Code::kNotImplemented);
  test::TempDir dir;
  auto transcoded =
      Transcode(Input(), dir.path() + "/out.mov", spec, MediaLimits{}, nullptr, nullptr);
  EXPECT_EQ(transcoded.status().code(), Code::kNotImplemented);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/out.mov"));
}

// What the stand-in stages saw, for the order checks.
struct Seen {
  std::vector<std::string> configured;  // "name WxH rate"
  int frames_in = 0;
  bool flushed = false;
};

std::string FormatText(const std::string& name, const VideoFormat& f) {
  return name + " " + std::to_string(f.width) + "x" + std::to_string(f.height) + " " +
         std::to_string(f.frame_rate.num) + "/" + std::to_string(f.frame_rate.den);
}

// Stand-in for pabsr1: doubles the size by repeating pixels (8-bit planar).
class DoubleSize final : public FilterStage {
 public:
  explicit DoubleSize(Seen* seen) : seen_(seen) {}
  Result<VideoFormat> Configure(const VideoFormat& input) override {
    seen_->configured.push_back(FormatText("pabsr1", input));
    if (input.pixel_format != AV_PIX_FMT_YUV420P) {
      return Status::InvalidArgument("the stand-in takes yuv420p only");
    }
    VideoFormat out = input;
    out.width *= 2;
    out.height *= 2;
    return out;
  }
  Status Filter(FramePtr frame, const EmitFn& emit) override {
    if (!frame) {
      seen_->flushed = true;
      return Status::Ok();
    }
    seen_->frames_in++;
    ASSIGN_OR_RETURN(FramePtr big, NewFrame());
    big->format = frame->format;
    big->width = frame->width * 2;
    big->height = frame->height * 2;
    if (av_frame_get_buffer(big.get(), 0) < 0) return Status::Internal("no buffer");
    av_frame_copy_props(big.get(), frame.get());
    for (int plane = 0; plane < 3; ++plane) {
      int shift = plane == 0 ? 0 : 1;
      int h = big->height >> shift;
      int w = big->width >> shift;
      for (int y = 0; y < h; ++y) {
        const uint8_t* src = frame->data[plane] + (y / 2) * frame->linesize[plane];
        uint8_t* dst = big->data[plane] + y * big->linesize[plane];
        for (int x = 0; x < w; ++x) dst[x] = src[x / 2];
      }
    }
    return emit(std::move(big));
  }

 private:
  Seen* seen_;
};

// Stand-in for deint at field rate: each frame twice, at twice the rate.
class EveryFieldTwice final : public FilterStage {
 public:
  explicit EveryFieldTwice(Seen* seen) : seen_(seen) {}
  Result<VideoFormat> Configure(const VideoFormat& input) override {
    seen_->configured.push_back(FormatText("deint", input));
    in_ = input;
    out_ = input;
    out_.frame_rate = av_mul_q(input.frame_rate, AVRational{2, 1});
    out_.time_base = av_inv_q(out_.frame_rate);
    return out_;
  }
  Status Filter(FramePtr frame, const EmitFn& emit) override {
    if (!frame) {
      seen_->flushed = true;
      return Status::Ok();
    }
    seen_->frames_in++;
    int64_t field = av_rescale_q(frame->pts, in_.time_base, out_.time_base);
    FramePtr second(av_frame_clone(frame.get()));
    frame->pts = field;
    second->pts = field + 1;
    RETURN_IF_ERROR(emit(std::move(frame)));
    return emit(std::move(second));
  }

 private:
  Seen* seen_;
  VideoFormat in_;
  VideoFormat out_;
};

// Stand-in for filmgrain: paints the luma plane flat at 200.
class FlatLuma final : public FilterStage {
 public:
  explicit FlatLuma(Seen* seen) : seen_(seen) {}
  Result<VideoFormat> Configure(const VideoFormat& input) override {
    seen_->configured.push_back(FormatText("filmgrain", input));
    return input;
  }
  Status Filter(FramePtr frame, const EmitFn& emit) override {
    if (!frame) {
      seen_->flushed = true;
      return Status::Ok();
    }
    seen_->frames_in++;
    if (av_frame_make_writable(frame.get()) < 0) return Status::Internal("not writable");
    for (int y = 0; y < frame->height; ++y) {
      std::fill_n(frame->data[0] + y * frame->linesize[0], frame->width, uint8_t{200});
    }
    return emit(std::move(frame));
  }

 private:
  Seen* seen_;
};

// Registers the stand-ins for the test's lifetime.
class StandIns {
 public:
  explicit StandIns(Seen* seen) {
    EXPECT_TRUE(RegisterFilterStage("pabsr1", [seen](const FilterStageOptions&) {
                  return Result<std::unique_ptr<FilterStage>>(std::make_unique<DoubleSize>(seen));
                }).ok());
    EXPECT_TRUE(RegisterFilterStage("deint", [seen](const FilterStageOptions& o) {
                  EXPECT_TRUE(o.field_rate);
                  return Result<std::unique_ptr<FilterStage>>(
                      std::make_unique<EveryFieldTwice>(seen));
                }).ok());
    EXPECT_TRUE(RegisterFilterStage("filmgrain", [seen](const FilterStageOptions&) {
                  return Result<std::unique_ptr<FilterStage>>(std::make_unique<FlatLuma>(seen));
                }).ok());
  }
  ~StandIns() {
    for (const char* name : {"pabsr1", "deint", "filmgrain"}) UnregisterFilterStage(name);
  }
};

TEST(FilterGraphTest, RegisteredStagesRunInOrderOnRealFrames) {
  Seen seen;
  StandIns registered(&seen);
  EXPECT_EQ(RegisteredFilterStages(), (std::vector<std::string>{"deint", "filmgrain", "pabsr1"}));
  TranscodeSpec spec = Base();
  spec.source_interlaced = true;
  spec.deinterlacer = "deint";
  spec.deinterlace_field_rate = true;
  spec.fps = 50;
  spec.scaler = "pabsr1";
  spec.width = 640;
  spec.height = 480;
  spec.post_processor = "filmgrain";
  spec.keep_audio = false;
  test::TempDir dir;
  std::string out = dir.path() + "/out.mov";
  auto result = Transcode(Input(), out, spec, MediaLimits{}, nullptr, nullptr);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  // Each stage saw the format the step before it produced.
  EXPECT_EQ(seen.configured, (std::vector<std::string>{"deint 320x240 25/1", "pabsr1 320x240 50/1",
                                                       "filmgrain 640x480 50/1"}));
  EXPECT_EQ(seen.frames_in, 25 + 50 + 50);
  EXPECT_TRUE(seen.flushed);
  EXPECT_EQ(result->video_frames, 50);
  EXPECT_EQ(FfprobeVideo(out, "width,height,r_frame_rate"), "640\n480\n50/1");
  EXPECT_EQ(FfprobeVideo(out, "nb_read_packets", "-count_packets"), "50");
  // The last stage's pixels reached the encoder: a flat luma of 200.
  std::string luma = Output("ffmpeg -nostdin -v error -i '" + out +
                            "' -frames:v 1 -vf extractplanes=y -f rawvideo -");
  ASSERT_EQ(luma.size(), 640u * 480u);
  double sum = 0;
  for (unsigned char v : luma) sum += v;
  EXPECT_NEAR(sum / luma.size(), 200.0, 2.0);
}

}  // namespace
}  // namespace vidmill::engine

namespace vidmill::engine {
namespace {

// Pushes `count` grey 25 fps frames (time base 1/12800) through `filters` and
// returns the output timestamps in seconds.
std::vector<double> RunSyntheticChain(const std::string& filters, int count) {
  std::vector<double> out;
  VideoFormat input = InputFormat();
  auto chain = VideoFilterChain::Create({FilterStep{filters, std::nullopt}}, input, 1);
  EXPECT_TRUE(chain.ok()) << chain.status().ToString();
  if (!chain.ok()) return out;
  AVRational out_tb = (*chain)->output_format().time_base;
  auto sink = [&](AVFrame* frame) {
    out.push_back(frame->pts * av_q2d(out_tb));
    return Status::Ok();
  };
  for (int frame_idx = 0; frame_idx < count; ++frame_idx) {
    FramePtr frame(av_frame_alloc());
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = input.width;
    frame->height = input.height;
    EXPECT_GE(av_frame_get_buffer(frame.get(), 0), 0);
    for (int plane = 0; plane < 3; ++plane) {
      int rows = plane == 0 ? frame->height : frame->height / 2;
      std::fill_n(frame->data[plane], frame->linesize[plane] * rows, uint8_t{128});
    }
    frame->pts = frame_idx * 512;
    EXPECT_TRUE((*chain)->Push(frame.get(), sink).ok());
  }
  EXPECT_TRUE((*chain)->Push(nullptr, sink).ok());
  EXPECT_TRUE((*chain)->finished());
  return out;
}

TEST(FilterGraphTest, TheStreamEndsWhereItsLastFrameEnds) {
  // 2 s of 25 fps → 50 fps: with the stream closed at its last frame's end
  // and the last frame held, the converters fill the clip to its end (the
  // transcoder cuts what the hold made past it).
  for (const char* converter :
       {"fps=fps=50", "framerate=fps=50:interp_start=15:interp_end=240:scene=8.2",
        "minterpolate=fps=50:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"}) {
    std::vector<double> times = RunSyntheticChain(
        std::string("setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop_duration=0.08,") + converter,
        50);
    ASSERT_GE(times.size(), 100u) << converter;
    EXPECT_NEAR(times[99], 1.98, 1e-6) << converter;
  }
}

}  // namespace
}  // namespace vidmill::engine
