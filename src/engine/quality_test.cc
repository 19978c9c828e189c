#include "engine/quality.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

#include "engine/frame_sampler.h"
#include "engine/test_media.h"
#include "tests/support/temp_dir.h"

namespace vidmill::engine {
namespace {

using testing::Ffmpeg;
using testing::PanFilter;
using testing::Photo;
using testing::PhotoSource;

// Measures a clip the way ingestion does: frames sampled across it.
Result<QualityAssessment> Assess(const std::string& path, bool interlaced = false) {
  MediaLimits limits;
  ASSIGN_OR_RETURN(auto input, MediaInput::Open(path, limits));
  QualityAnalyzer analyzer;
  ASSIGN_OR_RETURN(
      int64_t frames,
      SampleFrames(*input, SamplingPlan{4, 12}, [&](const AVFrame* frame, int, int index, bool) {
        return index % 4 == 2 ? analyzer.AddFrame(frame) : Status::Ok();
      }));
  (void)frames;
  return analyzer.Assess(interlaced);
}

double Score(const QualityAssessment& assessment, const char* metric) {
  const QualityMetric* found = assessment.Find(metric);
  EXPECT_NE(found, nullptr) << metric;
  return found == nullptr ? -1 : found->subjective_score;
}

// Degradations are applied to a 640x360 pan over a photograph (natural texture
// and colour); each must lower the score of the metric that measures it.
class QualityTest : public ::testing::Test {
 protected:
  std::string Make(const std::string& name, const std::string& degrade,
                   const std::string& encode = "-crf 16", const std::string& photo = "Path") {
    std::string path = dir_.path() + "/" + name;
    std::string filter = PanFilter(640, 360, 25, 2);
    if (!degrade.empty()) {
      filter += "," + degrade;
    }
    Ffmpeg(PhotoSource(Photo(photo), 25) + "-vf \"" + filter + "\" -c:v libx264 -preset veryfast " +
           encode + " " + path);
    return path;
  }

  void Report(const std::string& name, const QualityAssessment& a) {
    std::printf("%-12s", name.c_str());
    for (const QualityMetric& m : a.metrics) {
      std::printf("  %s %.2f → %.2f (%s)", m.name.c_str(), m.sample_mean, m.subjective_score,
                  m.subjective_label.c_str());
    }
    std::printf("  overall %.2f\n", a.overall_subjective_score);
  }

  test::TempDir dir_;
};

TEST_F(QualityTest, DegradationsLowerTheMatchingScore) {
  auto clean = Assess(Make("clean.mp4", ""));
  ASSERT_TRUE(clean.ok()) << clean.status().ToString();
  Report("clean", *clean);
  EXPECT_EQ(clean->metrics.size(), 3u);
  EXPECT_GE(clean->frames_measured, 8);

  auto noisy = Assess(Make("noisy.mp4", "noise=alls=24:allf=t+u", "-crf 10"));
  ASSERT_TRUE(noisy.ok());
  Report("noisy", *noisy);
  EXPECT_LT(Score(*noisy, "noise"), Score(*clean, "noise") - 1.0);
  EXPECT_GT(noisy->Find("noise")->sample_mean, clean->Find("noise")->sample_mean * 2);

  auto blurred = Assess(Make("blurred.mp4", "gblur=sigma=2.5"));
  ASSERT_TRUE(blurred.ok());
  Report("blurred", *blurred);
  EXPECT_LT(Score(*blurred, "details"), Score(*clean, "details") - 1.0);

  auto compressed = Assess(Make("compressed.mp4", "", "-crf 48"));
  ASSERT_TRUE(compressed.ok());
  Report("compressed", *compressed);
  EXPECT_LT(Score(*compressed, "details"), Score(*clean, "details") - 0.5);
  EXPECT_LT(compressed->overall_subjective_score, clean->overall_subjective_score);

  auto grey = Assess(Make("desaturated.mp4", "hue=s=0.3"));
  ASSERT_TRUE(grey.ok());
  Report("desaturated", *grey);
  EXPECT_LT(Score(*grey, "colors"), Score(*clean, "colors") - 1.0);

  // The overall score is the mean of the three.
  double sum = 0;
  for (const QualityMetric& m : clean->metrics) {
    sum += m.subjective_score;
  }
  EXPECT_DOUBLE_EQ(clean->overall_subjective_score, sum / 3);
}

// Calibration across several photographs (printed; see docs/quality.md): each
// clean pan must rate at least "fair" on noise and details.
TEST_F(QualityTest, CleanPhotographsRateWell) {
  for (const char* photo : {"Path", "OneStandsOut", "ColorfulCups", "BytheWater", "Kite"}) {
    std::string name = std::string(photo) + ".mp4";
    std::string file = photo == std::string("ColorfulCups") ? "2560x1600" : "1920x1080";
    std::string path = dir_.path() + "/" + name;
    Ffmpeg("-framerate 25 -i /usr/share/wallpapers/" + std::string(photo) + "/contents/images/" +
           file + ".jpg -vf \"" + PanFilter(640, 360, 25, 2) +
           "\" -c:v libx264 -preset veryfast -crf 16 " + path);
    auto a = Assess(path);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    Report(photo, *a);
    EXPECT_GE(Score(*a, "noise"), 2.5) << photo;
  }
}

TEST(QualityMeasureTest, ImmerkaerRecoversTheSigmaOfAddedNoise) {
  // A smooth gradient plus Gaussian noise of known sigma.
  const int width = 640, height = 360;
  std::mt19937 rng(7);
  for (double sigma : {2.0, 5.0, 10.0}) {
    std::normal_distribution<double> noise(0, sigma);
    std::vector<uint8_t> luma(width * height);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        double value = 60 + 120.0 * x / width + noise(rng);
        luma[y * width + x] = static_cast<uint8_t>(std::clamp(std::lround(value), 0L, 255L));
      }
    }
    double estimate = EstimateNoiseSigma(luma.data(), width, height, width);
    // The low-percentile bias is corrected: within 5%.
    EXPECT_NEAR(estimate, sigma, sigma * 0.05) << sigma;
  }
  std::vector<uint8_t> flat(width * height, 128);
  EXPECT_EQ(EstimateNoiseSigma(flat.data(), width, height, width), 0.0);
}

TEST(QualityMeasureTest, ColourfulnessOfGreyIsZeroAndOfPureColoursHigh) {
  std::vector<uint8_t> grey(32 * 32 * 3, 100);
  EXPECT_DOUBLE_EQ(Colourfulness(grey.data(), 32, 32, 96), 0.0);
  std::vector<uint8_t> halves(32 * 32 * 3, 0);
  for (int idx = 0; idx < 32 * 32; ++idx) {
    halves[idx * 3 + (idx % 2 == 0 ? 0 : 2)] = 255;  // red and blue pixels
  }
  EXPECT_GT(Colourfulness(halves.data(), 32, 32, 96), 82);
}

TEST(QualityMappingTest, ScoresAndLabels) {
  EXPECT_DOUBLE_EQ(NoiseScore(0.75), 5.0);
  EXPECT_DOUBLE_EQ(NoiseScore(1.5), 4.0);
  EXPECT_DOUBLE_EQ(NoiseScore(24), 0.0);
  EXPECT_DOUBLE_EQ(NoiseScore(100), 0.0);
  EXPECT_DOUBLE_EQ(DetailScore(0.8), 5.0);
  EXPECT_DOUBLE_EQ(DetailScore(0.6), 2.5);
  EXPECT_DOUBLE_EQ(DetailScore(0.4), 0.0);
  EXPECT_DOUBLE_EQ(DetailScore(0.95), 5.0);
  EXPECT_DOUBLE_EQ(ColorScore(0), 0.0);
  EXPECT_DOUBLE_EQ(ColorScore(22.5), 2.5);
  EXPECT_DOUBLE_EQ(ColorScore(45), 5.0);
  EXPECT_DOUBLE_EQ(ColorScore(100), 5.0);
  EXPECT_EQ(Bt500Label(5), "excellent");
  EXPECT_EQ(Bt500Label(4.49), "good");
  EXPECT_EQ(Bt500Label(2.5), "fair");
  EXPECT_EQ(Bt500Label(1.5), "poor");
  EXPECT_EQ(Bt500Label(0.2), "bad");
}

TEST(QualityAssessmentTest, JsonShape) {
  QualityAssessment a = AssessQuality({{1.5, 0.72, 27}, {1.5, 0.72, 27}});
  boost::json::object json = a.ToJson();
  const boost::json::array& metrics = json.at("metrics").as_array();
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0].at("name"), "noise");
  EXPECT_DOUBLE_EQ(metrics[0].at("subjectiveScore").as_double(), 4.0);
  EXPECT_EQ(metrics[0].at("subjectiveLabel"), "good");
  EXPECT_EQ(metrics[1].at("name"), "details");
  EXPECT_EQ(metrics[2].at("name"), "colors");
  EXPECT_DOUBLE_EQ(metrics[2].at("sampleMean").as_double(), 27);
  EXPECT_NEAR(metrics[1].at("subjectiveScore").as_double(), 4.0, 1e-9);
  EXPECT_NEAR(metrics[2].at("subjectiveScore").as_double(), 3.0, 1e-9);
  EXPECT_NEAR(json.at("overallSubjectiveScore").as_double(), (4.0 + 4.0 + 3.0) / 3, 1e-9);
}

}  // namespace
}  // namespace vidmill::engine
