// Ingestion end to end: clips made by ffmpeg are uploaded through the real
// Media service of `vidmill serve`, ingested by real `vidmill worker`
// processes, and read back through the Videos and Media services.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "tests/integration/ingest_test_util.h"

namespace vidmill::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<MediaClient>(server_, "ingest@example.com");
    ASSERT_FALSE(client_->token().empty());
    clips_ = server_.data_dir() + "/clips";
    std::filesystem::create_directories(clips_);
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- server log ---\n" << server_.ServerLog() << "\n";
      for (auto& worker : workers_) std::cerr << "--- worker log ---\n" << worker->Log() << "\n";
    }
  }

  WorkerProcess& StartWorker(std::vector<std::string> flags = {}) {
    workers_.push_back(std::make_unique<WorkerProcess>(server_, std::move(flags)));
    return *workers_.back();
  }

  // Uploads `path` to a new video and returns its id.
  std::string UploadNew(const std::string& path, bool light = false) {
    std::string id = client_->CreateVideo();
    HttpResponse response = client_->Upload(id, ReadFile(path), light);
    EXPECT_EQ(response.status, 200) << response.body;
    return id;
  }

  ServerHarness server_{ServerHarness::Options{.workers = 0}};
  std::unique_ptr<MediaClient> client_;
  std::string clips_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
};

TEST_F(IngestTest, FullIngestionStoresMetadataQualityThumbnailsAndWebPreview) {
  std::string clip = clips_ + "/progressive.mp4";
  MakePanClip(clip, 320, 240, 2.0, /*audio=*/true);
  StartWorker();
  std::string id = UploadNew(clip);

  boost::json::object state = client_->WaitForIngestion(id);
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  EXPECT_EQ(state["videoMetadataAvailable"], true);

  boost::json::object video = client_->VideoDocument(id);
  const boost::json::object& ingestion = video["ingestion"].as_object();
  const boost::json::object& ingestion_state = ingestion.at("ingestionState").as_object();
  EXPECT_EQ(Str(ingestion_state.at("ingestionStatus")), "DONE");
  EXPECT_EQ(ingestion_state.at("videoMetadataCommitted"), true);
  EXPECT_EQ(ingestion_state.at("thumbnailsAvailable"), true);
  EXPECT_EQ(ingestion_state.at("webVideoAvailable"), true);
  EXPECT_DOUBLE_EQ(ingestion_state.at("processingProgressPercent").to_number<double>(), 100.0);

  const boost::json::object& metadata = ingestion.at("metadata").as_object();
  EXPECT_EQ(Str(metadata.at("codecName")), "h264");
  EXPECT_EQ(metadata.at("frameWidth").to_number<int64_t>(), 320);
  EXPECT_EQ(metadata.at("frameHeight").to_number<int64_t>(), 240);
  EXPECT_EQ(metadata.at("totalFrames").to_number<int64_t>(), 50);
  EXPECT_NEAR(metadata.at("durationInMillis").to_number<double>(), 2000, 100);
  EXPECT_NEAR(metadata.at("averageFramerate").to_number<double>(), 25.0, 0.01);
  EXPECT_EQ(Str(metadata.at("pixelFormat").at("name")), "yuv420p");
  EXPECT_EQ(Str(metadata.at("pixelFormat").at("chromaSubsampling").at("yuv")), "4:2:0");
  EXPECT_EQ(Str(metadata.at("scanning").at("metadata").at("scanningType")), "progressive");
  EXPECT_EQ(Str(metadata.at("scanning").at("heuristics").at("scanningType")), "progressive");

  const boost::json::object& quality = ingestion.at("qualityAssessment").as_object();
  ASSERT_TRUE(quality.contains("metrics")) << boost::json::serialize(quality);
  EXPECT_EQ(quality.at("metrics").as_array().size(), 3u);
  double overall = quality.at("overallSubjectiveScore").to_number<double>();
  EXPECT_GE(overall, 0.0);
  EXPECT_LE(overall, 5.0);

  // The published artefacts are served by the Media service.
  HttpResponse thumbnail =
      client_->http().Get("/media/v1/download/thumbnail/" + id + "?index=0", client_->token());
  ASSERT_EQ(thumbnail.status, 200) << thumbnail.body.substr(0, 200);
  ASSERT_GE(thumbnail.body.size(), 3u);
  EXPECT_EQ(static_cast<unsigned char>(thumbnail.body[0]), 0xFF);  // JPEG SOI
  EXPECT_EQ(static_cast<unsigned char>(thumbnail.body[1]), 0xD8);
  HttpResponse preview = client_->http().Get("/media/v1/download/web/" + id, client_->token());
  ASSERT_EQ(preview.status, 200) << preview.body.substr(0, 200);
  EXPECT_EQ(preview.body.substr(4, 4), "ftyp");

  // The worker cleaned up after itself.
  EXPECT_TRUE(JobTempRootEmptiesWithin(server_.data_dir(), std::chrono::seconds(10)));
}

TEST_F(IngestTest, LightIngestionIsMetadataOnlyAndFast) {
  std::string clip = clips_ + "/light.mp4";
  Ffmpeg(
      "-f lavfi -i testsrc2=size=640x360:rate=25 -t 20 -c:v libx264 -preset ultrafast "
      "-pix_fmt yuv420p " +
      clip);
  StartWorker();
  // Let the worker come up so the measurement is of ingestion, not start-up.
  std::this_thread::sleep_for(milliseconds(500));
  std::string id = client_->CreateVideo();
  std::string bytes = ReadFile(clip);
  auto started = steady_clock::now();
  ASSERT_EQ(client_->Upload(id, bytes, /*light=*/true).status, 200);
  boost::json::object state = client_->WaitForIngestion(id);
  auto took = steady_clock::now() - started;
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  EXPECT_LT(took, seconds(3)) << "light ingestion (upload to DONE, polled) took "
                              << std::chrono::duration_cast<milliseconds>(took).count() << " ms";

  boost::json::object video = client_->VideoDocument(id);
  const boost::json::object& ingestion = video["ingestion"].as_object();
  const boost::json::object& ingestion_state = ingestion.at("ingestionState").as_object();
  EXPECT_EQ(ingestion_state.at("videoMetadataCommitted"), true);
  EXPECT_EQ(ingestion_state.at("thumbnailsAvailable"), false);
  EXPECT_EQ(ingestion_state.at("webVideoAvailable"), false);
  const boost::json::object& metadata = ingestion.at("metadata").as_object();
  EXPECT_EQ(metadata.at("frameWidth").to_number<int64_t>(), 640);
  EXPECT_EQ(metadata.at("totalFrames").to_number<int64_t>(), 500);
  EXPECT_TRUE(metadata.at("scanning").at("heuristics").is_null());  // no deep analysis
  EXPECT_TRUE(ingestion.at("qualityAssessment").as_object().empty());
  EXPECT_EQ(client_->http()
                .Get("/media/v1/download/thumbnail/" + id + "?index=0", client_->token())
                .status,
            404);
}

TEST_F(IngestTest, BadMediaFailsWithAMessageAndEverythingKeepsWorking) {
  WorkerProcess& worker = StartWorker();
  std::string good_clip = clips_ + "/good.mp4";
  Ffmpeg(
      "-f lavfi -i testsrc2=size=160x120:rate=25 -t 1 -c:v libx264 -preset ultrafast "
      "-pix_fmt yuv420p " +
      good_clip);
  std::string good = ReadFile(good_clip);

  struct BadCase {
    std::string name;
    std::string bytes;
  };
  std::vector<BadCase> cases = {
      {"garbage", std::string(20000, '\x5a')},
      {"truncated mp4", good.substr(0, good.size() / 3)},
      {"text", "this is not a video at all\n"},
      {"hls playlist", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n"},
  };
  for (const BadCase& bad : cases) {
    SCOPED_TRACE(bad.name);
    std::string id = client_->CreateVideo();
    HttpResponse upload = client_->Upload(id, bad.bytes);
    ASSERT_EQ(upload.status, 200) << upload.body;
    boost::json::object state = client_->WaitForIngestion(id);
    EXPECT_EQ(Str(state["ingestionStatus"]), "FAILED") << boost::json::serialize(state);
    boost::json::object video = client_->VideoDocument(id);
    const boost::json::object& ingestion_state =
        video["ingestion"].at("ingestionState").as_object();
    ASSERT_TRUE(ingestion_state.contains("errorMessage")) << boost::json::serialize(video);
    std::string message = Str(ingestion_state.at("errorMessage"));
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find("unknown reason"), std::string::npos) << message;
    EXPECT_EQ(message.find("gave up"), std::string::npos)
        << "corrupt media must fail at once, not after retries: " << message;
    // Its previews never come, and the 404 says why rather than "(yet)".
    HttpResponse thumbnail =
        client_->http().Get("/media/v1/download/thumbnail/" + id, client_->token());
    EXPECT_EQ(thumbnail.status, 404);
    EXPECT_NE(thumbnail.body.find("its ingestion failed"), std::string::npos) << thumbnail.body;
  }
  // The server still serves and the same worker ingests the next good file.
  EXPECT_EQ(client_->http().Get("/healthz").status, 200);
  EXPECT_TRUE(worker.running());
  std::string id = UploadNew(good_clip);
  EXPECT_EQ(Str(client_->WaitForIngestion(id)["ingestionStatus"]), "DONE");
  EXPECT_TRUE(worker.running());
}

// A file whose container is intact but whose video stream is damaged midway
// (the middle third of `mdat` overwritten): players conceal the damage, and so
// must ingestion and processing. The concealing decoder repeats and steps
// back timestamps there; a web preview encoder fed those used to fail the job
// three times over with a muxer error, which left the video unprocessable.
// A read of the uploaded file that fails (EIO: a failing disk, a network
// share gone away) while the worker opens it is the storage's fault, not the
// file's: the attempt is retried until the fault clears. The probe had
// failed the video for good as "not a recognised media file" (audit 41 F2).
// The worker runs with tests/support/eio_shim.cc preloaded.
TEST_F(IngestTest, AReadErrorWhileTheFileIsOpenedIsRetried) {
  std::string clip = clips_ + "/eio.mp4";
  MakePanClip(clip, 320, 240, 1.0, /*audio=*/false);
  const std::string trigger = server_.data_dir() + "/eio-on";
  std::ofstream(trigger) << "on";
  ::setenv("LD_PRELOAD", VIDMILL_EIO_SHIM, 1);
  ::setenv("VIDMILL_TEST_EIO_TRIGGER", trigger.c_str(), 1);
  StartWorker();  // inherits both
  ::unsetenv("LD_PRELOAD");
  ::unsetenv("VIDMILL_TEST_EIO_TRIGGER");
  std::string id = UploadNew(clip);

  boost::json::object state;
  const auto deadline = steady_clock::now() + seconds(30);
  while (steady_clock::now() < deadline && !state.contains("retryMessage") &&
         Str(state["ingestionStatus"]) != "FAILED") {
    std::this_thread::sleep_for(milliseconds(50));
    state = client_->IngestionState(id);
  }
  ASSERT_TRUE(state.contains("retryMessage")) << boost::json::serialize(state);
  EXPECT_EQ(Str(state["ingestionStatus"]), "IN_PROGRESS");
  EXPECT_NE(Str(state["retryMessage"]).find("Input/output error"), std::string::npos)
      << Str(state["retryMessage"]);
  std::filesystem::remove(trigger);
  state = client_->WaitForIngestion(id);
  EXPECT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
}

TEST_F(IngestTest, AVideoDamagedMidwayIsIngestedAndProcessed) {
  std::string clip = clips_ + "/damaged.mp4";
  Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -c:v libx264 -pix_fmt yuv420p " + clip);
  std::string bytes = ReadFile(clip);
  size_t mdat = bytes.find("mdat");
  size_t moov = bytes.find("moov");
  ASSERT_NE(mdat, std::string::npos);
  ASSERT_NE(moov, std::string::npos);
  ASSERT_LT(mdat, moov) << "ffmpeg without faststart writes the index after the media";
  size_t payload = moov - 4 - (mdat + 4);
  for (size_t byte_idx = mdat + 4 + payload / 3; byte_idx < mdat + 4 + 2 * payload / 3;
       ++byte_idx) {
    bytes[byte_idx] = static_cast<char>((byte_idx * 131 + 7) & 0xff);  // deterministic noise
  }

  StartWorker();
  std::string id = client_->CreateVideo();
  ASSERT_EQ(client_->Upload(id, bytes).status, 200);
  boost::json::object state = client_->WaitForIngestion(id);
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  EXPECT_EQ(state["webVideoAvailable"], true);
  HttpResponse preview = client_->http().Get("/media/v1/download/web/" + id, client_->token());
  ASSERT_EQ(preview.status, 200) << preview.body.substr(0, 200);
  EXPECT_EQ(preview.body.substr(4, 4), "ftyp");

  HttpResponse accepted = client_->http().SendJson(
      "POST", "/videos/v1/process-video/" + id,
      boost::json::object{{"mediaContainerCodec", {{"container", "mov"}, {"codec", "prores"}}},
                          {"appleProresProfile", "proxy"}},
      client_->token());
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  std::string child = Str(accepted.Json().at("processedVideoId"));
  boost::json::object processing;
  auto deadline = steady_clock::now() + seconds(90);
  while (steady_clock::now() < deadline) {
    HttpResponse progress =
        client_->http().Get("/videos/v1/check-process-video-progress/" + child, client_->token());
    ASSERT_EQ(progress.status, 200) << progress.body;
    processing = progress.Json().at("processingState").as_object();
    std::string status = Str(processing["processingStatus"]);
    if (status == "DONE" || status == "FAILED") break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(Str(processing["processingStatus"]), "DONE") << boost::json::serialize(processing);
  HttpResponse download =
      client_->http().Get("/media/v1/download/processed/" + child, client_->token());
  EXPECT_EQ(download.status, 200) << download.body.substr(0, 200);
}

// FFmpeg's MXF demuxer reports bottom-field-first content (field dominance
// "last") as "tb", the code FFmpeg's MOV muxer has used for top field first:
// the codec's own flag must decide, not the code's first letter.
TEST_F(IngestTest, MxfBottomFieldFirstIsReportedBottomFieldFirst) {
  namespace media = vidmill::engine::testing;
  std::string clip = clips_ + "/bff.mxf";
  Ffmpeg(media::PhotoSource(media::Photo(), 50) + "-vf \"" + media::PanFilter(720, 576, 50, 1) +
         ",tinterlace=mode=interleave_bottom,setfield=bff\" -flags +ildct+ilme -top 0 "
         "-c:v mpeg2video -b:v 6M -an " +
         clip);
  ASSERT_EQ(media::FfprobeVideo(clip, "field_order"), "tb") << "the ambiguous code under test";
  StartWorker();
  std::string id = UploadNew(clip, /*light=*/true);
  boost::json::object state = client_->WaitForIngestion(id);
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  boost::json::object video = client_->VideoDocument(id);
  const boost::json::object& scanning =
      video["ingestion"].at("metadata").at("scanning").at("metadata").as_object();
  EXPECT_EQ(Str(scanning.at("scanningType")), "interlaced");
  EXPECT_EQ(Str(scanning.at("interlacedFieldOrder")), "bottom_field");
}

// A one-frame clip never reaches the analysis pass's first measured position;
// it must still be rated, not answer empty metrics and an overall score of 0.
TEST_F(IngestTest, ASingleFrameClipIsRatedForQuality) {
  namespace media = vidmill::engine::testing;
  std::string clip = clips_ + "/one.mp4";
  Ffmpeg(media::PhotoSource(media::Photo(), 25) + "-vf \"" + media::PanFilter(320, 240, 25, 1) +
         "\" -frames:v 1 -c:v libx264 -preset ultrafast " + clip);
  StartWorker();
  std::string id = UploadNew(clip);
  boost::json::object state = client_->WaitForIngestion(id);
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  boost::json::object video = client_->VideoDocument(id);
  EXPECT_EQ(video["ingestion"].at("metadata").at("totalFrames").to_number<int64_t>(), 1);
  const boost::json::object& quality = video["ingestion"].at("qualityAssessment").as_object();
  ASSERT_EQ(quality.at("metrics").as_array().size(), 3u) << boost::json::serialize(quality);
  for (const boost::json::value& metric : quality.at("metrics").as_array()) {
    EXPECT_FALSE(Str(metric.at("subjectiveLabel")).empty());
  }
  EXPECT_GT(quality.at("overallSubjectiveScore").to_number<double>(), 1.0);
}

// The preview's video track lasts as long as the video: its last frame keeps
// its duration (a one-frame video's preview used to last 0 s).
TEST_F(IngestTest, TheWebPreviewLastsAsLongAsTheVideo) {
  namespace media = vidmill::engine::testing;
  StartWorker();
  for (int frames : {1, 25}) {
    std::string clip = clips_ + "/frames" + std::to_string(frames) + ".mp4";
    Ffmpeg(media::PhotoSource(media::Photo(), 25) + "-vf \"" + media::PanFilter(320, 240, 25, 1) +
           "\" -frames:v " + std::to_string(frames) + " -c:v libx264 -preset ultrafast " + clip);
    std::string id = UploadNew(clip);
    boost::json::object state = client_->WaitForIngestion(id);
    ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
    HttpResponse preview = client_->http().Get("/media/v1/download/web/" + id, client_->token());
    ASSERT_EQ(preview.status, 200) << preview.body.substr(0, 200);
    std::string preview_path = clips_ + "/preview" + std::to_string(frames) + ".mp4";
    WriteFile(preview_path, preview.body);
    EXPECT_EQ(media::FfprobeVideo(preview_path, "nb_frames"), std::to_string(frames));
    EXPECT_NEAR(std::stod(media::FfprobeVideo(preview_path, "duration")), frames / 25.0, 0.002)
        << frames << " frames at 25 fps";
  }
}

// Interlaced content is rated on its top field. The same pan, woven to 25i or
// kept as 25p, must rate alike on details: the field is the same picture at
// half the lines (it was measured as a 2.5:1 picture enlarged to 900x360 and
// rated "poor" where the progressive clip was "good").
TEST_F(IngestTest, InterlacedAndProgressiveClipsOfOnePanRateAlikeOnDetails) {
  namespace media = vidmill::engine::testing;
  const std::string pan = media::PhotoSource(media::Photo("OneStandsOut"), 50) + "-vf \"" +
                          media::PanFilter(720, 576, 50, 2);
  std::string woven = clips_ + "/woven.mp4";
  Ffmpeg(pan + ",tinterlace=mode=interleave_top,setfield=tff\" -c:v libx264 -crf 16 " +
         "-preset ultrafast -flags +ildct+ilme -x264-params interlaced=1:tff=1 " + woven);
  std::string progressive = clips_ + "/progressive.mp4";
  Ffmpeg(pan + ",select='not(mod(n\\,2))',setpts=N/(25*TB)\" -r 25 -c:v libx264 -crf 16 " +
         "-preset ultrafast " + progressive);
  StartWorker();
  std::map<std::string, double> details;
  for (const std::string& clip : {woven, progressive}) {
    std::string id = UploadNew(clip);
    boost::json::object state = client_->WaitForIngestion(id);
    ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
    boost::json::object video = client_->VideoDocument(id);
    const boost::json::object& metadata = video["ingestion"].at("metadata").as_object();
    std::string expected = clip == woven ? "interlaced" : "progressive";
    ASSERT_EQ(Str(metadata.at("scanning").at("heuristics").at("scanningType")), expected);
    for (const boost::json::value& metric :
         video["ingestion"].at("qualityAssessment").at("metrics").as_array()) {
      if (Str(metric.at("name")) == "details") {
        details[clip] = metric.at("subjectiveScore").to_number<double>();
      }
    }
  }
  ASSERT_EQ(details.size(), 2u);
  EXPECT_NEAR(details[woven], details[progressive], 0.5)
      << "details score, woven 25i vs progressive 25p of the same pan";
}

}  // namespace
}  // namespace vidmill::test
