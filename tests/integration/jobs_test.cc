// The job system with real processes: `vidmill serve` takes uploads and
// enqueues ingestion, `vidmill worker` processes started by the test run it,
// and the test kills (-9), pauses (SIGSTOP), or stops (SIGTERM) a worker in
// the middle of a job, or deletes the video under it. The jobs table is read
// through the same store the server uses.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>
#include <thread>

#include "jobs/queue.h"
#include "storage/database.h"
#include "tests/integration/ingest_test_util.h"

namespace vidmill::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// Short leases so that a dead worker's job is retried within seconds.
const std::vector<std::string> kFastLeases = {"--lease-seconds", "2", "--heartbeat-ms", "200"};

class JobsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One clip for the suite: long enough that full ingestion (mostly the web
    // preview encode) runs for a few seconds, so a test can act mid-job.
    clip_dir_ = new TempDir();
    clip_ = clip_dir_->path() + "/long.mp4";
    MakePanClip(clip_, 640, 360, 40.0);
  }
  static void TearDownTestSuite() {
    delete clip_dir_;
    clip_dir_ = nullptr;
  }

  // The node's own reaper uses the workers' lease (kFastLeases).
  virtual ServerHarness::Options ServerOptions() {
    return {.workers = 0, .extra_flags = {"--lease-seconds", "2"}};
  }

  void SetUp() override {
    server_ = std::make_unique<ServerHarness>(ServerOptions());
    client_ = std::make_unique<MediaClient>(*server_, "jobs@example.com");
    ASSERT_FALSE(client_->token().empty());
    auto db = storage::OpenDatabase(server_->database_url());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    queue_ = std::make_unique<jobs::Queue>(*db_, SystemClock::Instance());
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- server log ---\n" << server_->ServerLog() << "\n";
      for (auto& worker : workers_) {
        std::cerr << "--- worker " << worker->pid() << " log ---\n" << worker->Log() << "\n";
      }
    }
  }

  WorkerProcess& StartWorker(std::vector<std::string> flags = kFastLeases) {
    workers_.push_back(std::make_unique<WorkerProcess>(*server_, std::move(flags)));
    return *workers_.back();
  }

  // Plays a writer of the team's videos (an upload's publication) in a
  // thread: takes the team's lock, runs `before`, says so through `locked`,
  // gives the request under test 800 ms to queue behind it, runs `after` and
  // commits.
  std::thread HoldTheTeamLock(const std::string& video_id, std::promise<void>& locked,
                              std::function<Status(storage::Session&)> before,
                              std::function<Status(storage::Session&)> after) {
    return std::thread([this, video_id, &locked, before, after] {
      Status committed = db_->Transaction([&](storage::Session& session) -> Status {
        ASSIGN_OR_RETURN(storage::Rows team,
                         session.Query("SELECT team_id FROM videos WHERE id = ?", {video_id}));
        if (team.empty()) return Status::NotFound("video", video_id);
        RETURN_IF_ERROR(
            session
                .Execute("UPDATE teams SET updated_at = updated_at WHERE id = ?", {team[0].Text(0)})
                .status());
        if (before) RETURN_IF_ERROR(before(session));
        locked.set_value();
        std::this_thread::sleep_for(milliseconds(800));
        return after(session);
      });
      EXPECT_TRUE(committed.ok()) << committed.ToString();
    });
  }

  std::string UploadLongClip() {
    std::string id = client_->CreateVideo();
    HttpResponse response = client_->Upload(id, ReadFile(clip_));
    EXPECT_EQ(response.status, 200) << response.body;
    return id;
  }

  // Polls `read` (a video's ingestion or processing state) until it has a
  // retryMessage, for at most `limit`; returns the last state read.
  static boost::json::object WaitForRetryNote(const std::function<boost::json::object()>& read,
                                              seconds limit = seconds(60)) {
    boost::json::object state;
    const auto deadline = steady_clock::now() + limit;
    while (steady_clock::now() < deadline && !state.contains("retryMessage")) {
      state = read();
      std::this_thread::sleep_for(milliseconds(50));
    }
    return state;
  }

  std::vector<jobs::Job> JobsOf(const std::string& video_id) {
    auto jobs = queue_->ListForVideo(video_id);
    EXPECT_TRUE(jobs.ok()) << jobs.status().ToString();
    return jobs.ok() ? *jobs : std::vector<jobs::Job>{};
  }

  // Waits until the video's only job is running under `worker` with at least
  // `percent` progress; returns false on timeout.
  bool WaitUntilMidJob(const std::string& video_id, const WorkerProcess& worker,
                       double percent = 10) {
    return WaitUntilMidJob(video_id, worker.pid(), percent);
  }
  bool WaitUntilMidJob(const std::string& video_id, pid_t worker_pid, double percent = 10) {
    std::string owner_part = ":" + std::to_string(worker_pid) + ":";
    auto deadline = steady_clock::now() + seconds(60);
    while (steady_clock::now() < deadline) {
      std::vector<jobs::Job> jobs = JobsOf(video_id);
      if (jobs.size() == 1 && jobs[0].state == jobs::kStateRunning &&
          jobs[0].lease_owner.value_or("").find(owner_part) != std::string::npos &&
          jobs[0].progress >= percent) {
        if (jobs[0].progress >= 95) {
          ADD_FAILURE() << "the job is nearly done already; the clip is too short to act "
                           "mid-job on this machine";
          return false;
        }
        return true;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    ADD_FAILURE() << "the job never ran mid-way under worker " << worker_pid;
    return false;
  }

  // Polls the ingestion until DONE/FAILED and checks that once DONE it never
  // changes again (observed for `settle` more).
  boost::json::object WaitForStableIngestion(const std::string& video_id,
                                             milliseconds settle = milliseconds(1500)) {
    boost::json::object state = client_->WaitForIngestion(video_id);
    auto until = steady_clock::now() + settle;
    while (steady_clock::now() < until) {
      boost::json::object again = client_->IngestionState(video_id);
      EXPECT_EQ(Str(again["ingestionStatus"]), Str(state["ingestionStatus"]));
      std::this_thread::sleep_for(milliseconds(50));
    }
    return state;
  }

  bool TempRootEmpty() {
    std::error_code ec;
    std::string root = server_->data_dir() + "/media/.tmp/jobs";
    return !std::filesystem::exists(root, ec) || std::filesystem::is_empty(root, ec);
  }

  static TempDir* clip_dir_;
  static std::string clip_;

  std::unique_ptr<ServerHarness> server_;
  std::unique_ptr<MediaClient> client_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<jobs::Queue> queue_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
};

TempDir* JobsTest::clip_dir_ = nullptr;
std::string JobsTest::clip_;

TEST_F(JobsTest, AWorkerKilledMidJobIsReplacedAndTheJobEndsDoneOnce) {
  WorkerProcess& first = StartWorker();
  std::string id = UploadLongClip();
  ASSERT_TRUE(WaitUntilMidJob(id, first));
  EXPECT_EQ(Str(client_->IngestionState(id)["ingestionStatus"]), "IN_PROGRESS");
  first.Kill();  // kill -9: no release, no cleanup; its lease must expire

  WorkerProcess& second = StartWorker();
  boost::json::object state = WaitForStableIngestion(id);
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);

  std::vector<jobs::Job> jobs = JobsOf(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, jobs::kStateDone);
  EXPECT_EQ(jobs[0].attempts, 2);  // the killed attempt counts
  EXPECT_NE(jobs[0].lease_owner.value_or("").find(":" + std::to_string(second.pid()) + ":"),
            std::string::npos);
  boost::json::object video = client_->VideoDocument(id);
  const auto& ingestion_state = video["ingestion"].at("ingestionState").as_object();
  EXPECT_EQ(ingestion_state.at("videoMetadataCommitted"), true);
  EXPECT_EQ(ingestion_state.at("thumbnailsAvailable"), true);
  EXPECT_EQ(ingestion_state.at("webVideoAvailable"), true);
  // The retry removed what the killed attempt left behind (and its own).
  EXPECT_TRUE(JobTempRootEmptiesWithin(server_->data_dir(), seconds(10)));
  EXPECT_TRUE(second.running());
}

// A job whose work directory is removed under it (a cleaner, an operator) is
// retried as a fault of the installation and ends DONE: it had failed for
// good, as if its media were corrupt ("finishing the output file: No such
// file or directory"; audit 33 F4).
TEST_F(JobsTest, AJobWhoseWorkDirectoryIsRemovedIsRetried) {
  WorkerProcess& worker = StartWorker();
  std::string id = UploadLongClip();
  ASSERT_EQ(Str(client_->WaitForIngestion(id)["ingestionStatus"]), "DONE");
  HttpResponse accepted = client_->http().SendJson(
      "POST", "/videos/v1/process-video/" + id,
      boost::json::object{{"mediaContainerCodec", {{"container", "mov"}, {"codec", "h264"}}}},
      client_->token());
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  std::string child = Str(accepted.Json().at("processedVideoId"));
  ASSERT_TRUE(WaitUntilMidJob(child, worker));
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(server_->data_dir() + "/media/.tmp/jobs", ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
  boost::json::object state;
  const auto deadline = steady_clock::now() + seconds(120);
  do {
    std::this_thread::sleep_for(milliseconds(100));
    HttpResponse response =
        client_->http().Get("/videos/v1/check-process-video-progress/" + child, client_->token());
    state = response.Json().at("processingState").as_object();
  } while (steady_clock::now() < deadline && Str(state["processingStatus"]) == "IN_PROGRESS");
  EXPECT_EQ(Str(state["processingStatus"]), "DONE") << boost::json::serialize(state);
  EXPECT_TRUE(worker.running());
}

// A job that waits out a fault of the installation (here the media store is
// not there: its marker is gone, as when a share is unmounted) says so through
// the API: still IN_PROGRESS, with a retryMessage naming what failed and when
// it runs again, kept through the next attempt. Once the store is back, the
// job ends DONE and the message is gone. Ingestion, then processing.
TEST_F(JobsTest, AJobWaitingOutAStorageFaultSaysWhy) {
  const std::filesystem::path marker =
      std::filesystem::path(server_->data_dir()) / "media" / ".vidmill-media";
  const std::string marker_text = ReadFile(marker.string());
  ASSERT_FALSE(marker_text.empty());
  WorkerProcess& worker = StartWorker();
  std::string id = UploadLongClip();
  ASSERT_TRUE(WaitUntilMidJob(id, worker));
  std::filesystem::remove(marker);  // the attempt cannot publish
  boost::json::object waiting = WaitForRetryNote([&] { return client_->IngestionState(id); });
  ASSERT_TRUE(waiting.contains("retryMessage")) << boost::json::serialize(waiting);
  EXPECT_EQ(Str(waiting["ingestionStatus"]), "IN_PROGRESS");
  EXPECT_FALSE(waiting.contains("errorMessage"));
  std::string message = Str(waiting["retryMessage"]);
  EXPECT_EQ(message.rfind("attempt 1 failed: ", 0), 0u) << message;
  EXPECT_NE(message.find("retried until it clears"), std::string::npos) << message;
  EXPECT_NE(message.find("media"), std::string::npos) << message;
  EXPECT_NE(message.find("; the next attempt starts at 20"), std::string::npos) << message;
  EXPECT_EQ(message.find(server_->data_dir()), std::string::npos) << "names a server path";
  EXPECT_EQ(Str(client_->VideoDocument(id)["ingestion"]
                    .at("ingestionState")
                    .as_object()
                    .at("retryMessage")),
            message);
  // Attempts that start while the store is away end before they make their
  // work directory (audit 33 F7). Once it is back, the next attempt runs
  // with the last note still shown.
  std::ofstream(marker) << marker_text;
  ASSERT_TRUE(WaitUntilMidJob(id, worker, 1));
  const std::string shown = Str(client_->IngestionState(id)["retryMessage"]);
  EXPECT_EQ(shown.rfind("attempt ", 0), 0u) << shown;
  EXPECT_NE(shown.find("media"), std::string::npos) << shown;
  boost::json::object done = client_->WaitForIngestion(id);
  ASSERT_EQ(Str(done["ingestionStatus"]), "DONE") << boost::json::serialize(done);
  EXPECT_FALSE(done.contains("retryMessage")) << boost::json::serialize(done);

  std::filesystem::remove(marker);
  HttpResponse accepted = client_->http().SendJson(
      "POST", "/videos/v1/process-video/" + id,
      boost::json::object{{"range", {{"endPositionMilliseconds", 1000}}}}, client_->token());
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  std::string child = Str(accepted.Json().at("processedVideoId"));
  auto processing_state = [&] {
    HttpResponse response =
        client_->http().Get("/videos/v1/check-process-video-progress/" + child, client_->token());
    EXPECT_EQ(response.status, 200) << response.body;
    return response.Json().at("processingState").as_object();
  };
  waiting = WaitForRetryNote(processing_state);
  ASSERT_TRUE(waiting.contains("retryMessage")) << boost::json::serialize(waiting);
  EXPECT_EQ(Str(waiting["processingStatus"]), "IN_PROGRESS");
  // Back in the queue between attempts, with nothing before it.
  boost::json::object queued = waiting;
  for (int poll = 0; poll < 200 && !queued.contains("jobsAhead"); ++poll) {
    std::this_thread::sleep_for(milliseconds(20));
    queued = processing_state();
  }
  ASSERT_TRUE(queued.contains("jobsAhead")) << boost::json::serialize(queued);
  EXPECT_EQ(queued["jobsAhead"], 0);
  EXPECT_EQ(Str(waiting["retryMessage"]).rfind("attempt 1 failed: ", 0), 0u)
      << Str(waiting["retryMessage"]);
  std::ofstream(marker) << marker_text;
  auto deadline = steady_clock::now() + seconds(90);
  boost::json::object finished;
  do {
    std::this_thread::sleep_for(milliseconds(100));
    finished = processing_state();
  } while (steady_clock::now() < deadline && Str(finished["processingStatus"]) == "IN_PROGRESS");
  ASSERT_EQ(Str(finished["processingStatus"]), "DONE") << boost::json::serialize(finished);
  EXPECT_FALSE(finished.contains("retryMessage")) << boost::json::serialize(finished);
}

// A job waiting for a worker says how many queued jobs go first (it had read
// IN_PROGRESS, 0 %, no ETA, for as long as the queue took), in the progress
// endpoint and the video document; a running job says nothing of the kind.
TEST_F(JobsTest, AWaitingJobSaysHowManyGoFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(UploadLongClip());
  for (int i = 0; i < 3; ++i) {
    boost::json::object state = client_->IngestionState(ids[i]);
    ASSERT_TRUE(state.contains("jobsAhead")) << boost::json::serialize(state);
    EXPECT_EQ(state["jobsAhead"], i);
  }
  EXPECT_EQ(client_->VideoDocument(ids[2])["ingestion"].at("ingestionState").at("jobsAhead"), 2);
  EXPECT_FALSE(client_->VideoDocument(ids[2])["processing"]
                   .at("processingState")
                   .as_object()
                   .contains("jobsAhead"));  // INITIAL: no processing asked for

  WorkerProcess& worker = StartWorker();
  ASSERT_TRUE(WaitUntilMidJob(ids[0], worker));
  EXPECT_FALSE(client_->IngestionState(ids[0]).contains("jobsAhead"));  // running
  EXPECT_EQ(client_->IngestionState(ids[1])["jobsAhead"], 0);
  EXPECT_EQ(client_->IngestionState(ids[2])["jobsAhead"], 1);
}

TEST_F(JobsTest, SigtermReleasesTheJobAndExitsCleanly) {
  WorkerProcess& first = StartWorker();
  std::string id = UploadLongClip();
  ASSERT_TRUE(WaitUntilMidJob(id, first));
  auto stopping = steady_clock::now();
  int status = first.Stop();
  EXPECT_LT(steady_clock::now() - stopping, seconds(5));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);

  std::vector<jobs::Job> jobs = JobsOf(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, jobs::kStateQueued);
  EXPECT_EQ(jobs[0].attempts, 0);  // a release does not use up an attempt
  EXPECT_FALSE(jobs[0].lease_owner.has_value());
  EXPECT_EQ(Str(client_->IngestionState(id)["ingestionStatus"]), "IN_PROGRESS");
  EXPECT_TRUE(TempRootEmpty());

  StartWorker();
  boost::json::object state = client_->WaitForIngestion(id);
  EXPECT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  jobs = JobsOf(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempts, 1);
}

// A worker paused past its lease (SIGSTOP) loses the job to another; when it
// resumes, its heartbeat is refused, it drops its work, and none of its writes
// land — the video stays DONE as the new owner left it.
TEST_F(JobsTest, AWorkerPausedPastItsLeaseIsFencedOut) {
  WorkerProcess& paused = StartWorker();
  std::string id = UploadLongClip();
  ASSERT_TRUE(WaitUntilMidJob(id, paused));
  paused.Signal(SIGSTOP);

  WorkerProcess& other = StartWorker();
  boost::json::object state = client_->WaitForIngestion(id);
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  std::vector<jobs::Job> done = JobsOf(id);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].attempts, 2);

  paused.Signal(SIGCONT);
  // Give the resumed worker time for several heartbeats and progress writes.
  auto deadline = steady_clock::now() + seconds(10);
  while (paused.Log().find("lost the lease") == std::string::npos &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_NE(paused.Log().find("lost the lease"), std::string::npos);
  std::this_thread::sleep_for(milliseconds(500));

  std::vector<jobs::Job> after = JobsOf(id);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].state, jobs::kStateDone);
  EXPECT_EQ(after[0].attempts, 2);
  EXPECT_EQ(after[0].lease_owner, done[0].lease_owner);
  EXPECT_EQ(after[0].updated_at, done[0].updated_at);
  boost::json::object video = client_->VideoDocument(id);
  const auto& ingestion_state = video["ingestion"].at("ingestionState").as_object();
  EXPECT_EQ(Str(ingestion_state.at("ingestionStatus")), "DONE");
  EXPECT_DOUBLE_EQ(ingestion_state.at("processingProgressPercent").to_number<double>(), 100.0);
  EXPECT_TRUE(paused.running());
  EXPECT_TRUE(other.running());
}

// The only worker stops answering (SIGSTOP) mid-job, so no worker looks for
// work and reaps its lease: the API node's own reaper does, within seconds,
// and the user reads why and when it runs again instead of a frozen "running"
// (audit 13: 60-90 s at 5 % with its old ETA, until a worker was free).
TEST_F(JobsTest, TheApiNodeReapsTheLeaseOfAWorkerThatStoppedAnswering) {
  WorkerProcess& worker = StartWorker();
  std::string id = UploadLongClip();
  ASSERT_TRUE(WaitUntilMidJob(id, worker));
  worker.Signal(SIGSTOP);
  boost::json::object state =
      WaitForRetryNote([&] { return client_->IngestionState(id); }, seconds(20));
  ASSERT_TRUE(state.contains("retryMessage")) << boost::json::serialize(state);
  EXPECT_NE(Str(state["retryMessage"]).find("stopped responding (its lease expired)"),
            std::string::npos)
      << Str(state["retryMessage"]);
  EXPECT_EQ(Str(state["ingestionStatus"]), "IN_PROGRESS");
  std::vector<jobs::Job> jobs = JobsOf(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, jobs::kStateQueued);
  worker.Signal(SIGCONT);  // it finds its lease lost, and runs the job again
  EXPECT_EQ(Str(WaitForStableIngestion(id)["ingestionStatus"]), "DONE");
}

TEST_F(JobsTest, DeletingAVideoCancelsItsRunningJob) {
  WorkerProcess& worker = StartWorker();
  std::string id = UploadLongClip();
  ASSERT_TRUE(WaitUntilMidJob(id, worker));
  EXPECT_FALSE(TempRootEmpty());
  auto deleted_at = steady_clock::now();
  HttpResponse deleted = client_->http().Delete("/videos/v1/video/" + id, client_->token());
  ASSERT_EQ(deleted.status, 200) << deleted.body;

  // Noticed at the next heartbeat; the temp files go with the attempt.
  EXPECT_TRUE(JobTempRootEmptiesWithin(server_->data_dir(), seconds(5)));
  EXPECT_LT(steady_clock::now() - deleted_at, seconds(3));
  std::vector<jobs::Job> jobs = JobsOf(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, jobs::kStateCancelled);
  EXPECT_EQ(client_->http().Get("/videos/v1/video/" + id, client_->token()).status, 404);
  std::error_code ec;
  EXPECT_FALSE(std::filesystem::exists(server_->data_dir() + "/media/" + id, ec));

  // The worker carries on with the next job.
  EXPECT_TRUE(worker.running());
  std::string next = client_->CreateVideo();
  std::string small = server_->data_dir() + "/small.mp4";
  MakePanClip(small, 160, 90, 1.0);
  ASSERT_EQ(client_->Upload(next, ReadFile(small)).status, 200);
  EXPECT_EQ(Str(client_->WaitForIngestion(next)["ingestionStatus"]), "DONE");
}

// A processing request and a re-upload of its source committing together:
// only one of them wins. Here the re-upload holds the team's lock (as its
// publication does) and commits its new, not yet ingested file while the
// processing request waits: the request must see that file and answer 409.
// It had read the source before waiting, and made a child whose parameters
// described the old file (audit 19: both answered 200 in 9 of 16 tries on
// PostgreSQL, 2 of 32 on SQLite).
TEST_F(JobsTest, AProcessingRequestSeesAReUploadThatCommittedWhileItWaited) {
  StartWorker();
  std::string id = client_->CreateVideo();
  std::string small = server_->data_dir() + "/small.mp4";
  MakePanClip(small, 160, 90, 1.0);
  ASSERT_EQ(client_->Upload(id, ReadFile(small)).status, 200);
  ASSERT_EQ(Str(client_->WaitForIngestion(id)["ingestionStatus"]), "DONE");

  std::promise<void> locked;
  std::thread reupload = HoldTheTeamLock(id, locked, nullptr, [&](storage::Session& session) {
    return session
        .Execute("UPDATE videos SET ingestion_status = 'IN_PROGRESS', file_sha256 = ? WHERE id = ?",
                 {std::string(64, 'a'), id})
        .status();
  });
  locked.get_future().wait();
  HttpResponse processed = client_->http().SendJson("POST", "/videos/v1/process-video/" + id,
                                                    boost::json::object{}, client_->token());
  reupload.join();
  EXPECT_EQ(processed.status, 409) << processed.body;
  EXPECT_NE(processed.body.find("still being ingested"), std::string::npos) << processed.body;
  HttpResponse children =
      client_->http().Get("/videos/v1/videos?parent-id=" + id, client_->token());
  ASSERT_EQ(children.status, 200) << children.body;
  EXPECT_EQ(children.body.find("\"parentId\""), std::string::npos) << children.body;
}

// A deletion committing after a re-upload it waited for cancels the
// ingestion job that upload queued. On PostgreSQL it had cancelled the jobs it
// could see before waiting for the upload's row, and the new job ran and
// failed NotFound (audit 19 F4). The upload's transaction is played here by
// the test: the team's lock, the row written, a job queued.
TEST_F(JobsTest, ADeletionWaitingForAReUploadCancelsItsJob) {
  std::string id = client_->CreateVideo();
  std::promise<void> locked;
  std::thread reupload = HoldTheTeamLock(
      id, locked,
      [&](storage::Session& session) {
        return session.Execute("UPDATE videos SET upload_status = 'DONE' WHERE id = ?", {id})
            .status();
      },
      [&](storage::Session& session) {
        return jobs::Enqueue(session, jobs::NewJob{std::string(jobs::kKindIngestFull), id, "{}"},
                             SystemClock::Instance())
            .status();
      });
  locked.get_future().wait();
  HttpResponse deleted = client_->http().Delete("/videos/v1/video/" + id, client_->token());
  reupload.join();
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  std::vector<jobs::Job> jobs = JobsOf(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, jobs::kStateCancelled);
}

// The processes whose parent is `parent` and whose command line contains
// "vidmill worker" (from /proc).
std::vector<pid_t> WorkerChildren(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadFile(entry.path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid != parent || state == 'Z') continue;
    std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("vidmill worker") != std::string::npos) {
      children.push_back(std::stoi(name));
    }
  }
  return children;
}

// `vidmill serve --workers 2`: the server's own supervised workers, with the
// lease settings passed through the environment (VIDMILL_LEASE_SECONDS …),
// which the workers inherit.
class SupervisedJobsTest : public JobsTest {
 protected:
  ServerHarness::Options ServerOptions() override {
    return {.workers = 2, .env = {{"VIDMILL_LEASE_SECONDS", "2"}, {"VIDMILL_HEARTBEAT_MS", "200"}}};
  }

  std::vector<pid_t> WaitForWorkers(size_t count, const std::vector<pid_t>& not_these = {}) {
    auto deadline = steady_clock::now() + seconds(10);
    std::vector<pid_t> children;
    while (steady_clock::now() < deadline) {
      children = WorkerChildren(server_->pid());
      bool fresh = std::none_of(children.begin(), children.end(), [&](pid_t pid) {
        return std::find(not_these.begin(), not_these.end(), pid) != not_these.end();
      });
      if (children.size() == count && fresh) return children;
      std::this_thread::sleep_for(milliseconds(20));
    }
    ADD_FAILURE() << "expected " << count << " worker children of the server, found "
                  << children.size();
    return children;
  }
};

TEST_F(SupervisedJobsTest, ServeReplacesAWorkerKilledMidJobAndTheJobEndsDone) {
  std::vector<pid_t> workers = WaitForWorkers(2);
  ASSERT_EQ(workers.size(), 2u);
  std::string id = UploadLongClip();
  // Whichever of the two took the job.
  pid_t owner = 0;
  auto deadline = steady_clock::now() + seconds(30);
  while (owner == 0 && steady_clock::now() < deadline) {
    std::vector<jobs::Job> jobs = JobsOf(id);
    for (pid_t pid : workers) {
      if (jobs.size() == 1 && jobs[0].lease_owner.value_or("").find(":" + std::to_string(pid) +
                                                                    ":") != std::string::npos) {
        owner = pid;
      }
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_NE(owner, 0);
  ASSERT_TRUE(WaitUntilMidJob(id, owner));
  ASSERT_EQ(kill(owner, SIGKILL), 0);

  boost::json::object state = WaitForStableIngestion(id);
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  std::vector<jobs::Job> jobs = JobsOf(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, jobs::kStateDone);
  EXPECT_EQ(jobs[0].attempts, 2);
  // The killed worker was replaced: two workers again, the dead one not among them.
  std::vector<pid_t> now = WaitForWorkers(2, {owner});
  EXPECT_EQ(now.size(), 2u);
  EXPECT_EQ(client_->http().Get("/healthz").status, 200);
}

// With the default 30 s lease (here 60 s): serve's supervisor knows at once
// that its worker died, and the replacement takes the job back at start, so
// the user reads why within seconds, not once the lease has run out.
class SupervisedLongLeaseJobsTest : public SupervisedJobsTest {
 protected:
  ServerHarness::Options ServerOptions() override {
    return {.workers = 1, .env = {{"VIDMILL_LEASE_SECONDS", "60"}}};
  }
};

TEST_F(SupervisedLongLeaseJobsTest, AKilledWorkersJobIsRetriedWithoutWaitingOutItsLease) {
  std::vector<pid_t> workers = WaitForWorkers(1);
  ASSERT_EQ(workers.size(), 1u);
  std::string id = UploadLongClip();
  ASSERT_TRUE(WaitUntilMidJob(id, workers[0]));
  ASSERT_EQ(kill(workers[0], SIGKILL), 0);
  const auto killed_at = steady_clock::now();
  boost::json::object state =
      WaitForRetryNote([&] { return client_->IngestionState(id); }, seconds(20));
  ASSERT_TRUE(state.contains("retryMessage")) << boost::json::serialize(state);
  EXPECT_EQ(Str(state["ingestionStatus"]), "IN_PROGRESS");
  const std::string message = Str(state["retryMessage"]);
  EXPECT_EQ(message.rfind("attempt 1 of 3 failed: the worker process running it (pid " +
                              std::to_string(workers[0]) + ") was killed by signal 9",
                          0),
            0u)
      << message;

  state = WaitForStableIngestion(id);
  ASSERT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
  EXPECT_LT(steady_clock::now() - killed_at, seconds(50));  // the lease was 60 s
  std::vector<jobs::Job> jobs = JobsOf(id);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempts, 2);
}

// The database URL may carry a password: the operator keeps it out of `ps` by
// setting VIDMILL_DATABASE, so the supervised workers inherit it from the
// environment instead of getting it on their command lines.
TEST_F(SupervisedJobsTest, TheDatabaseUrlStaysOffTheWorkersCommandLines) {
  std::vector<pid_t> workers = WaitForWorkers(2);
  ASSERT_EQ(workers.size(), 2u);
  for (pid_t pid : workers) {
    std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    EXPECT_EQ(cmdline.find("--database"), std::string::npos) << cmdline;
    // Named for top and ps (started as /proc/self/exe, it showed as "exe"),
    // once it has started: it names itself just after its exec.
    const std::string comm = "/proc/" + std::to_string(pid) + "/comm";
    const auto deadline = steady_clock::now() + seconds(5);
    while (ReadFile(comm) == "exe\n" && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    EXPECT_EQ(ReadFile(comm), "vidmill-worker\n");
  }
  // They still work on the server's store.
  std::string id = UploadLongClip();
  boost::json::object state = WaitForStableIngestion(id);
  EXPECT_EQ(Str(state["ingestionStatus"]), "DONE") << boost::json::serialize(state);
}

TEST_F(SupervisedJobsTest, WorkersStopWithTheServerEvenWhenItIsKilled) {
  std::vector<pid_t> workers = WaitForWorkers(2);
  ASSERT_EQ(workers.size(), 2u);
  server_->Kill();  // SIGKILL: no chance to stop its workers itself
  auto deadline = steady_clock::now() + seconds(10);
  auto alive = [&] {
    return std::count_if(workers.begin(), workers.end(), [](pid_t pid) {
      std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
      size_t close = stat.rfind(')');
      return close != std::string::npos && stat[close + 2] != 'Z';
    });
  };
  while (alive() > 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(alive(), 0) << "worker processes outlived their server";
  // No leak when the test fails: kill what is still one of this test's workers.
  for (pid_t pid : workers) {
    std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    if (cmdline.find(server_->data_dir()) != std::string::npos) kill(pid, SIGKILL);
  }
}

}  // namespace
}  // namespace vidmill::test
