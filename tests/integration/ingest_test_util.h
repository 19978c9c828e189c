#pragma once
// Helpers shared by the ingestion and jobs integration tests: clips made with
// the real ffmpeg, multipart uploads through the real Media service, polling
// the ingestion state, and `vidmill worker` processes started by the test
// against the harness's store (so a test can kill -9, SIGSTOP or SIGTERM one).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/test_media.h"
#include "tests/support/http_client.h"
#include "tests/support/server_harness.h"

namespace vidmill::test {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Whether the workers' job temp root under `data_dir` is gone or empty
// within `limit`. A handler reports its work done from inside the attempt,
// and the worker removes the attempt's temp dir right after that, so a test
// that has just seen "done" may look a moment too early (on a loaded machine
// it did).
inline bool JobTempRootEmptiesWithin(const std::string& data_dir,
                                     std::chrono::milliseconds limit) {
  namespace fs = std::filesystem;
  const std::string root = data_dir + "/media/.tmp/jobs";
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    std::error_code ec;
    if (!fs::exists(root, ec) || fs::is_empty(root, ec)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Runs ffmpeg with `args` (after "-v error -y"); fails the test on error.
inline void Ffmpeg(const std::string& args) {
  CommandResult result = RunShell("ffmpeg -nostdin -v error -y " + args);
  ASSERT_EQ(result.exit_code, 0) << "ffmpeg " << args << "\n" << result.err;
}

// A clip of a smooth pan over a photograph (synthetic test patterns fool the
// interlacing heuristics), `seconds` long at 25 frames/s, H.264 in MP4, with an
// AAC tone when `audio`.
inline void MakePanClip(const std::string& path, int width, int height, double seconds,
                        bool audio = false) {
  namespace media = vidmill::engine::testing;
  std::string args = media::PhotoSource(media::Photo(), 25);
  if (audio) args += "-f lavfi -i sine=frequency=440 -c:a aac -shortest ";
  args += "-vf \"" + media::PanFilter(width, height, 25, seconds) +
          "\" -c:v libx264 -preset ultrafast -pix_fmt yuv420p " + path;
  Ffmpeg(args);
}

// A `vidmill worker` process against the harness's store. Its stderr goes to
// <data-dir>/worker-<n>.log. Killed (SIGKILL) on destruction if still running.
class WorkerProcess {
 public:
  WorkerProcess(const ServerHarness& server, std::vector<std::string> extra_flags = {}) {
    static int counter = 0;
    log_path_ = server.data_dir() + "/worker-" + std::to_string(++counter) + ".log";
    std::vector<std::string> args = {VIDMILL_BINARY,        "worker",     "--database",
                                     server.database_url(), "--data-dir", server.data_dir(),
                                     "--poll-ms",           "50"};
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~WorkerProcess() { Kill(); }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t reaped = waitpid(pid_, &status, WNOHANG);
    if (reaped == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }
  void Signal(int signal_number) {
    if (pid_ > 0) kill(pid_, signal_number);
  }
  // SIGTERM, then waits (SIGKILL after `limit`). Returns the wait status.
  int Stop(std::chrono::seconds limit = std::chrono::seconds(30)) {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return exit_status_;
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_status_ = status;
    pid_ = -1;
  }
  std::string Log() const { return ReadFile(log_path_); }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string log_path_;
};

inline std::string Str(const boost::json::value& value) {
  return value.is_string() ? std::string(value.as_string())
                           : "<" + boost::json::serialize(value) + ">";
}

// A user with a token, a video item, uploads and ingestion polling.
class MediaClient {
 public:
  MediaClient(ServerHarness& server, const std::string& email)
      : server_(server), client_(server.port()) {
    token_ = server.CreateUserAndLogin(email, "correct horse battery staple", "team-" + email);
  }

  const std::string& token() const { return token_; }
  HttpClient& http() { return client_; }

  std::string CreateVideo() {
    HttpResponse response =
        client_.SendJson("PUT", "/videos/v1/video", boost::json::object{{"name", "clip"}}, token_);
    EXPECT_EQ(response.status, 200) << response.body;
    boost::json::value doc = response.Json();
    if (!doc.is_object() || !doc.as_object().contains("videoId")) return "";
    return Str(doc.as_object()["videoId"]);
  }

  // POSTs `bytes` as the multipart file part; light → /upload/light.
  HttpResponse Upload(const std::string& video_id, const std::string& bytes, bool light = false,
                      const std::string& file_name = "clip.mp4") {
    const std::string boundary = "vidmill-test-boundary-7d3f";
    std::string body = "--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
                       file_name + "\"\r\nContent-Type: video/mp4\r\n\r\n" + bytes + "\r\n--" +
                       boundary + "--\r\n";
    return client_.Send("POST",
                        std::string("/media/v1/upload/") + (light ? "light/" : "") + video_id,
                        {{"Authorization", "Bearer " + token_},
                         {"Content-Type", "multipart/form-data; boundary=" + boundary}},
                        body);
  }

  boost::json::object IngestionState(const std::string& video_id) {
    HttpResponse response =
        client_.Get("/videos/v1/check-ingest-video-progress/" + video_id, token_);
    EXPECT_EQ(response.status, 200) << response.body;
    boost::json::value doc = response.Json();
    if (!doc.is_object() || !doc.as_object().contains("ingestionState")) return {};
    return doc.as_object()["ingestionState"].as_object();
  }

  // Polls until the ingestion is DONE or FAILED (or `limit` passes); returns
  // the last state.
  boost::json::object WaitForIngestion(const std::string& video_id,
                                       std::chrono::seconds limit = std::chrono::seconds(90)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    boost::json::object state;
    while (std::chrono::steady_clock::now() < deadline) {
      state = IngestionState(video_id);
      std::string status = state.contains("ingestionStatus") ? Str(state["ingestionStatus"]) : "";
      if (status == "DONE" || status == "FAILED") return state;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "ingestion of " << video_id
                  << " did not finish: " << boost::json::serialize(state);
    return state;
  }

  boost::json::object VideoDocument(const std::string& video_id) {
    HttpResponse response = client_.Get("/videos/v1/video/" + video_id, token_);
    EXPECT_EQ(response.status, 200) << response.body;
    boost::json::value doc = response.Json();
    if (!doc.is_object() || !doc.as_object().contains("video")) return {};
    return doc.as_object()["video"].as_object();
  }

 private:
  ServerHarness& server_;
  HttpClient client_;
  std::string token_;
};

}  // namespace vidmill::test
