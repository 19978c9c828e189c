#pragma once
// The processing tests' fixture: the real server with one worker process, a
// generated clip uploaded and ingested, and helpers that send a processing
// request, wait for it and download the result. Used by processing_test.cc
// (the API and the job's life, on both stores) and processing_media_test.cc
// (what comes out, on SQLite).

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/integration/ingest_test_util.h"
#include "tests/support/server_harness.h"

namespace vidmill::test {

// Uploads a local file as a new video (named `file_name`) and waits for its
// (light) ingestion; the video's id, or "" after recording the failure.
inline std::string UploadAndIngest(MediaClient& client, const std::string& path,
                                   const std::string& file_name = "clip.mp4") {
  const std::string id = client.CreateVideo();
  HttpResponse uploaded = client.Upload(id, ReadFile(path), /*light=*/true, file_name);
  if (uploaded.status != 200) {
    ADD_FAILURE() << "upload: " << uploaded.status << " " << uploaded.body;
    return "";
  }
  boost::json::object ingested = client.WaitForIngestion(id);
  if (Str(ingested["ingestionStatus"]) != "DONE") {
    ADD_FAILURE() << boost::json::serialize(ingested);
    return "";
  }
  return id;
}

class ProcessingTest : public ::testing::Test {
 protected:
  virtual ServerHarness::Options ServerOptions() { return {.workers = 1}; }

  void SetUp() override {
    server_ = std::make_unique<ServerHarness>(ServerOptions());
    client_ = std::make_unique<MediaClient>(*server_, "proc@example.com");
    // 2 s, 320x240, 25 fps, with sound: small enough to process in a moment.
    source_id_ =
        IngestClip("tape 3.mp4",
                   "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi "
                   "-i sine=frequency=440:sample_rate=48000 -t 2 -c:v libx264 -preset ultrafast "
                   "-pix_fmt yuv420p -c:a aac -shortest");
    ASSERT_FALSE(source_id_.empty());
  }

  // Makes `name` in the data directory with ffmpeg (`ffmpeg_args`: its
  // inputs and options; the path is appended) and uploads it under that name
  // (UploadAndIngest).
  std::string IngestClip(const std::string& name, const std::string& ffmpeg_args) {
    const std::string clip = server_->data_dir() + "/" + name;
    RunShell("ffmpeg -nostdin -v error -y " + ffmpeg_args + " '" + clip + "'");
    return UploadAndIngest(*client_, clip, name);
  }

  HttpResponse Process(const boost::json::object& request, const std::string& id = "") {
    return client_->http().SendJson("POST",
                                    "/videos/v1/process-video/" + (id.empty() ? source_id_ : id),
                                    request, client_->token());
  }

  boost::json::object WaitForProcessing(const std::string& id) {
    boost::json::object state;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      HttpResponse progress =
          client_->http().Get("/videos/v1/check-process-video-progress/" + id, client_->token());
      EXPECT_EQ(progress.status, 200) << progress.body;
      state = progress.Json().at("processingState").as_object();
      std::string status = Str(state["processingStatus"]);
      if (status == "DONE" || status == "FAILED") return state;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "processing did not finish: " << boost::json::serialize(state);
    return state;
  }

  // A finished processing job: the child's video document and where its
  // media downloads from. `video` is empty when the request was refused or the
  // job did not end DONE (the failure is recorded).
  struct Processed {
    boost::json::object video;
    std::string download_url;
  };

  // Processes `id` (default: the fixture's source) with `request` and waits.
  Processed ProcessToDone(const boost::json::object& request, const std::string& id = "") {
    HttpResponse accepted = Process(request, id);
    if (accepted.status != 200) {
      ADD_FAILURE() << "process-video: " << accepted.status << " " << accepted.body;
      return {};
    }
    const std::string child = Str(accepted.Json().at("processedVideoId"));
    boost::json::object state = WaitForProcessing(child);
    if (Str(state["processingStatus"]) != "DONE") {
      ADD_FAILURE() << boost::json::serialize(state);
      return {};
    }
    return {client_->VideoDocument(child), Str(accepted.Json().at("downloadMediaUrl"))};
  }

  // The videoFilters a processed video's document records.
  static boost::json::array VideoFilters(boost::json::object& video) {
    return video["processing"]
        .at("processingParameters")
        .at("targetVideo")
        .at("videoFilters")
        .as_array();
  }

  // Downloads a processed video's media into the data directory as `name`;
  // its path, or "" after recording the failure.
  std::string Download(const Processed& processed, const std::string& name) {
    HttpResponse download = client_->http().Get(TargetOf(processed.download_url), client_->token());
    if (download.status != 200) {
      ADD_FAILURE() << "download: " << download.status << " " << download.body.substr(0, 200);
      return "";
    }
    const std::string path = server_->data_dir() + "/" + name;
    WriteFile(path, download.body);
    return path;
  }

  // Processes `id` with `request`, waits, and downloads the result as `name`:
  // its path, or "" after recording the failure.
  std::string ProcessAndDownload(const boost::json::object& request, const std::string& id,
                                 const std::string& name) {
    Processed processed = ProcessToDone(request, id);
    return processed.video.empty() ? "" : Download(processed, name);
  }

  // ffprobe's csv line for the first video stream's `entries` (decoding it to
  // count frames).
  static std::string ProbeVideo(const std::string& path, const std::string& entries) {
    return RunShell("ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=" +
                    entries + " -of csv=p=0 '" + path + "'")
        .out;
  }

  std::unique_ptr<ServerHarness> server_;
  std::unique_ptr<MediaClient> client_;
  std::string source_id_;
};

}  // namespace vidmill::test
