#include "jobs/worker.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "storage/backend_test.h"
#include "storage/blob_store.h"
#include "storage/scratch_database.h"
#include "tests/support/temp_dir.h"

namespace vidmill::jobs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// A handler driven by the test: it follows `script` and records what it saw.
struct Script {
  std::function<Status(JobContext&)> run;
  std::atomic<int> runs{0};
  std::atomic<int> progress_writes{0};
  std::vector<std::string> failures;  // OnFailed messages
  std::mutex mu;
  std::string last_temp_dir;
};

class ScriptedHandler final : public JobHandler {
 public:
  explicit ScriptedHandler(Script& script) : script_(script) {}
  Status Run(JobContext& context) override {
    ++script_.runs;
    {
      std::lock_guard lock(script_.mu);
      script_.last_temp_dir = context.temp_dir();
    }
    return script_.run(context);
  }
  Status OnProgress(storage::Session& session, const Job& job, double percent,
                    std::optional<int64_t> eta) override {
    ++script_.progress_writes;
    return Status::Ok();
  }
  Status OnFailed(storage::Session&, const Job&, const std::string& message) override {
    std::lock_guard lock(script_.mu);
    script_.failures.push_back(message);
    return Status::Ok();
  }

 private:
  Script& script_;
};

// Loops reporting progress until told to stop; returns why.
Status RunUntilStopped(JobContext& context) {
  for (int step = 0;; ++step) {
    Status status = context.ReportProgress(std::min(99, step));
    if (!status.ok()) return status;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

class WorkerTest : public storage::BackendTest {
 protected:
  void SetUp() override {
    OpenScratchDatabase();
    if (IsSkipped() || HasFatalFailure()) return;
    QueueOptions queue_options;
    queue_options.lease_duration = seconds(5);
    queue_options.backoff_base = milliseconds(100);
    queue_ = std::make_unique<Queue>(*db_, SystemClock::Instance(), queue_options);
    handlers_.Register(std::string(kKindProcess), std::make_unique<ScriptedHandler>(script_));
    handlers_.InstallHooks(*queue_);
    options_.concurrency = 1;
    options_.poll_interval = milliseconds(200);  // the production default
    options_.heartbeat_interval = milliseconds(100);
    options_.temp_root = temp_.path() + "/tmp";
  }

  void TearDown() override {
    if (worker_) worker_->Stop();
    if (worker_thread_.joinable()) worker_thread_.join();
  }

  std::string Add(std::string video = "video-1") {
    std::string id;
    EXPECT_TRUE(db_->Transaction([&](storage::Session& session) -> Status {
                     ASSIGN_OR_RETURN(
                         id, Enqueue(session, NewJob{"process", video}, SystemClock::Instance()));
                     return Status::Ok();
                   })
                    .ok());
    return id;
  }

  void StartWorker() {
    worker_ = std::make_unique<Worker>(*queue_, handlers_, options_);
    worker_thread_ = std::thread([this] { EXPECT_TRUE(worker_->Run().ok()); });
  }

  Job Get(const std::string& id) {
    auto job = queue_->Get(id);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : Job{};
  }

  // Waits until the job reaches `state`; returns the job.
  Job WaitForState(const std::string& id, std::string_view state, milliseconds limit) {
    auto deadline = steady_clock::now() + limit;
    Job job = Get(id);
    while (job.state != state && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
      job = Get(id);
    }
    EXPECT_EQ(job.state, state) << "job error: " << job.error.value_or("");
    return job;
  }

  size_t TempDirCount() {
    std::error_code ec;
    size_t count = 0;
    for (auto it = std::filesystem::directory_iterator(options_.temp_root, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++count;
    }
    return count;
  }

  test::TempDir temp_;
  std::unique_ptr<Queue> queue_;
  Script script_;
  HandlerRegistry handlers_;
  WorkerOptions options_;
  std::unique_ptr<Worker> worker_;
  std::thread worker_thread_;
};

INSTANTIATE_TEST_SUITE_P(Backends, WorkerTest,
                         ::testing::Values(storage::Backend::kSqlite, storage::Backend::kPostgres),
                         [](const auto& info) {
                           return std::string(storage::BackendName(info.param));
                         });

TEST_P(WorkerTest, IdleWorkerPicksUpANewJobWithin500Ms) {
  std::atomic<int64_t> started_at{0};
  script_.run = [&](JobContext& context) {
    started_at = steady_clock::now().time_since_epoch().count();
    return Status::Ok();
  };
  StartWorker();
  std::this_thread::sleep_for(milliseconds(300));  // the worker is idle, polling
  auto enqueued = steady_clock::now();
  std::string id = Add();
  WaitForState(id, kStateDone, seconds(5));
  auto latency = steady_clock::time_point(steady_clock::duration(started_at.load())) - enqueued;
  EXPECT_LT(latency, milliseconds(500));
  Job job = Get(id);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_DOUBLE_EQ(job.progress, 100);
}

TEST_P(WorkerTest, HeartbeatWritesProgressAndEtaWhileTheHandlerRuns) {
  std::atomic<bool> release{false};
  script_.run = [&](JobContext& context) -> Status {
    std::error_code ec;
    EXPECT_TRUE(std::filesystem::is_directory(context.temp_dir(), ec));
    RETURN_IF_ERROR(context.ReportProgress(25));
    while (!release.load()) {
      RETURN_IF_ERROR(context.CheckStop());
      std::this_thread::sleep_for(milliseconds(10));
    }
    return context.Complete();
  };
  std::string id = Add();
  StartWorker();
  auto deadline = steady_clock::now() + seconds(5);
  Job job = Get(id);
  while ((job.progress < 25 || !job.eta_seconds) && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
    job = Get(id);
  }
  EXPECT_EQ(job.state, kStateRunning);
  EXPECT_DOUBLE_EQ(job.progress, 25);
  ASSERT_TRUE(job.eta_seconds.has_value());  // extrapolated: 3 × elapsed
  EXPECT_GT(script_.progress_writes.load(), 0);
  // The lease is renewed: it stays ahead of now while the job runs.
  int64_t first_expiry = job.lease_expires_at.value_or(0);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_GT(Get(id).lease_expires_at.value_or(0), first_expiry);
  release = true;
  WaitForState(id, kStateDone, seconds(5));
  // The attempt's temp dir goes right after the completing commit.
  auto removal_deadline = steady_clock::now() + seconds(5);
  while (TempDirCount() != 0u && steady_clock::now() < removal_deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(TempDirCount(), 0u);
}

TEST_P(WorkerTest, CorruptMediaFailsAtOnceAndTheWorkerCarriesOn) {
  script_.run = [&](JobContext& context) -> Status {
    if (context.job().video_id == "bad") {
      return Status::CorruptMedia("cannot open input: invalid data found when processing input");
    }
    return Status::Ok();
  };
  std::string bad = Add("bad");
  std::string good = Add("good");
  StartWorker();
  Job failed = WaitForState(bad, kStateFailed, seconds(5));
  EXPECT_EQ(failed.attempts, 1);
  EXPECT_EQ(failed.error.value_or(""),
            "cannot open input: invalid data found when processing input");
  WaitForState(good, kStateDone, seconds(5));
  std::lock_guard lock(script_.mu);
  ASSERT_EQ(script_.failures.size(), 1u);
  EXPECT_EQ(script_.failures[0], *failed.error);
}

TEST_P(WorkerTest, TransientErrorsAndExceptionsAreRetriedThenFail) {
  script_.run = [&](JobContext& context) -> Status {
    if (context.job().attempts == 1) return Status::Unavailable("disk full");
    throw std::runtime_error("boom");
  };
  std::string id = Add();
  StartWorker();
  Job job = WaitForState(id, kStateFailed, seconds(10));
  EXPECT_EQ(job.attempts, 3);
  EXPECT_EQ(script_.runs.load(), 3);
  EXPECT_EQ(job.error.value_or(""), "gave up after 3 attempts: unexpected error: boom");
}

TEST_P(WorkerTest, DeletingTheVideoStopsTheHandlerAndRemovesItsTempFiles) {
  std::atomic<bool> running{false};
  std::atomic<int> stop_code{-1};
  script_.run = [&](JobContext& context) -> Status {
    std::FILE* file = std::fopen((context.temp_dir() + "/partial.mp4").c_str(), "w");
    if (file != nullptr) std::fclose(file);
    running = true;
    Status status = RunUntilStopped(context);
    stop_code = static_cast<int>(status.code());
    return status;
  };
  std::string id = Add("doomed");
  StartWorker();
  auto deadline = steady_clock::now() + seconds(5);
  while (!running.load() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(running.load());
  EXPECT_EQ(TempDirCount(), 1u);
  // What videos::DeleteVideoCascade does to the video's jobs.
  auto cancelled_at = steady_clock::now();
  ASSERT_TRUE(db_->Run([&](storage::Session& session) {
                   return session
                       .Execute(
                           "UPDATE jobs SET state = 'cancelled', error = ? "
                           "WHERE video_id = ? AND state IN ('queued', 'running')",
                           {std::string("the video was deleted"), std::string("doomed")})
                       .status();
                 })
                  .ok());
  while (stop_code.load() < 0 && steady_clock::now() < cancelled_at + seconds(5)) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(stop_code.load(), static_cast<int>(Code::kCancelled));
  // Noticed at the next heartbeat (every 100 ms here).
  EXPECT_LT(steady_clock::now() - cancelled_at, seconds(2));
  deadline = steady_clock::now() + seconds(2);
  while (TempDirCount() != 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(TempDirCount(), 0u);
  Job job = Get(id);
  EXPECT_EQ(job.state, kStateCancelled);
  EXPECT_EQ(job.error.value_or(""), "the video was deleted");
  EXPECT_TRUE(script_.failures.empty());
}

TEST_P(WorkerTest, StopReleasesTheRunningJobWithoutCountingTheAttempt) {
  std::atomic<bool> running{false};
  script_.run = [&](JobContext& context) -> Status {
    running = true;
    return RunUntilStopped(context);
  };
  std::string id = Add();
  StartWorker();
  auto deadline = steady_clock::now() + seconds(5);
  while (!running.load() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(running.load());
  worker_->Stop();
  worker_thread_.join();
  Job job = Get(id);
  EXPECT_EQ(job.state, kStateQueued);
  EXPECT_EQ(job.attempts, 0);
  EXPECT_FALSE(job.lease_owner.has_value());
  EXPECT_EQ(TempDirCount(), 0u);
}

TEST_P(WorkerTest, AJobPastItsTimeLimitFailsWithAClearMessage) {
  options_.time_limits.base = seconds(0);
  options_.time_limits.per_media_second = 0.5;
  script_.run = [&](JobContext& context) -> Status {
    context.SetMediaDuration(1.0);  // limit: 0 + 0.5 × 1 s → 1 s
    return RunUntilStopped(context);
  };
  std::string id = Add();
  StartWorker();
  Job job = WaitForState(id, kStateFailed, seconds(5));
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.error.value_or(""), "the job ran longer than its time limit of 1 s");
}

// A worker that pauses past its lease (here: a heartbeat interval longer than
// the lease) loses the job to another worker; its late output changes nothing.
TEST_P(WorkerTest, AWorkerThatLostItsLeaseDiscardsItsOutput) {
  QueueOptions short_lease;
  short_lease.lease_duration = milliseconds(300);
  short_lease.backoff_base = milliseconds(1);
  Queue slow_queue(*db_, SystemClock::Instance(), short_lease);
  WorkerOptions slow_options = options_;
  slow_options.heartbeat_interval = seconds(10);  // "paused": never renews in time

  std::atomic<bool> slow_may_finish{false};
  std::atomic<int> slow_result{-1};
  std::atomic<int> fast_runs{0};
  script_.run = [&](JobContext& context) -> Status {
    if (context.lease().owner.rfind("slow", 0) == 0) {
      while (!slow_may_finish.load()) std::this_thread::sleep_for(milliseconds(5));
      Status status = context.Complete([&](storage::Session& session) {
        return session
            .Execute("UPDATE jobs SET params = '{\"by\":\"slow\"}' WHERE id = ?",
                     {context.job().id})
            .status();
      });
      slow_result = static_cast<int>(status.code());
      return status;
    }
    ++fast_runs;
    return context.Complete([&](storage::Session& session) {
      return session
          .Execute("UPDATE jobs SET params = '{\"by\":\"fast\"}' WHERE id = ?", {context.job().id})
          .status();
    });
  };
  std::string id = Add();
  slow_options.owner_prefix = "slow";
  Worker slow(slow_queue, handlers_, slow_options);
  std::thread slow_thread([&] { EXPECT_TRUE(slow.RunOne().ok()); });
  // Wait until the slow worker holds it, then let the lease expire.
  auto deadline = steady_clock::now() + seconds(5);
  while (Get(id).state != kStateRunning && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  std::this_thread::sleep_for(milliseconds(400));
  options_.owner_prefix = "fast";
  StartWorker();  // reaps the expired lease and takes the job over
  // Not before its queue's first lease duration (5 s) since the fixture made
  // it (Queue reaps nothing until then): the wait covers that and a margin.
  // With 5 s it had about half a second to spare, and once, on a loaded
  // machine, missed it.
  Job done = WaitForState(id, kStateDone, seconds(10));
  EXPECT_EQ(done.attempts, 2);
  EXPECT_EQ(done.params_json, "{\"by\":\"fast\"}");
  slow_may_finish = true;
  slow_thread.join();
  EXPECT_EQ(slow_result.load(), static_cast<int>(Code::kCancelled));
  Job after = Get(id);
  EXPECT_EQ(after.state, kStateDone);
  EXPECT_EQ(after.params_json, "{\"by\":\"fast\"}");
  EXPECT_EQ(fast_runs.load(), 1);
}

TEST_P(WorkerTest, StartUpRemovesTempDirsAbandonedByCrashedWorkers) {
  namespace fs = std::filesystem;
  fs::create_directories(options_.temp_root + "/job-abandoned-1-abcd/sub");
  fs::create_directories(options_.temp_root + "/job-live-1-abcd");
  fs::create_directories(options_.temp_root + "/not-a-job");
  auto old = fs::file_time_type::clock::now() - std::chrono::hours(2);
  fs::last_write_time(options_.temp_root + "/job-abandoned-1-abcd", old);
  fs::last_write_time(options_.temp_root + "/not-a-job", old);
  script_.run = [](JobContext&) { return Status::Ok(); };
  StartWorker();
  std::string id = Add();
  WaitForState(id, kStateDone, seconds(5));
  EXPECT_FALSE(fs::exists(options_.temp_root + "/job-abandoned-1-abcd"));
  EXPECT_TRUE(fs::exists(options_.temp_root + "/job-live-1-abcd"));
  EXPECT_TRUE(fs::exists(options_.temp_root + "/not-a-job"));
}

// And while it runs: a dir abandoned later (a crashed attempt whose job was
// then cancelled, so never claimed again) goes at the next sweep; it had
// stayed until the worker restarted.
TEST_P(WorkerTest, ARunningWorkerRemovesTempDirsAbandonedSinceItStarted) {
  namespace fs = std::filesystem;
  options_.temp_sweep_interval = milliseconds(100);
  StartWorker();
  const std::string abandoned = options_.temp_root + "/job-crashed-1-abcd";
  fs::create_directories(abandoned + "/sub");
  fs::last_write_time(abandoned, fs::file_time_type::clock::now() - std::chrono::hours(2));
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (fs::exists(abandoned) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_FALSE(fs::exists(abandoned));
}

// A media share unmounted under a running worker leaves the bare mount point:
// the worker makes no work directory there (it had made `.tmp/jobs` again on
// the mount point's own disk; audit 33 F7), retries the job as unavailable,
// and runs it once the share is back.
TEST_P(WorkerTest, NoWorkDirectoryIsMadeWhileTheMediaStoreIsGone) {
  namespace fs = std::filesystem;
  const std::string media = temp_.path() + "/media";
  auto blobs = storage::OpenFileBlobStore(media);
  ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
  options_.temp_root = media + "/.tmp/jobs";
  options_.storage_check = [store = blobs->get()] { return store->CheckAvailable(); };
  script_.run = [](JobContext&) { return Status::Ok(); };
  StartWorker();
  for (auto deadline = steady_clock::now() + seconds(5);
       !fs::exists(options_.temp_root) && steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(milliseconds(10));  // the worker has started
  }
  fs::rename(media, temp_.path() + "/share");  // unmounted: an empty mount point
  fs::create_directory(media);
  testing::internal::CaptureStderr();
  const std::string id = Add();
  Job waiting = Get(id);
  for (auto deadline = steady_clock::now() + seconds(5);
       waiting.attempts < 5 && steady_clock::now() < deadline; waiting = Get(id)) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_GE(waiting.attempts, 5);  // tried again past max_attempts (3), not failed
  // The log says so rather than "attempt 4/3" (audit 42 F3).
  EXPECT_NE(log.find("attempt 2/3)"), std::string::npos) << log;
  EXPECT_NE(log.find("attempt 4, past the 3 counted"), std::string::npos) << log;
  EXPECT_EQ(log.find("/3)", log.find("attempt 4")), std::string::npos) << log;
  EXPECT_NE(waiting.state, kStateFailed);
  EXPECT_NE(waiting.error.value_or("").find("marker"), std::string::npos)
      << waiting.error.value_or("");
  EXPECT_EQ(script_.runs.load(), 0);
  EXPECT_FALSE(fs::exists(media + "/.tmp")) << "made on the bare mount point";
  fs::remove(media);
  fs::rename(temp_.path() + "/share", media);  // mounted again
  WaitForState(id, kStateDone, seconds(15));
  EXPECT_EQ(script_.runs.load(), 1);
}

TEST_P(WorkerTest, ConcurrencyRunsJobsInParallel) {
  options_.concurrency = 3;
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  script_.run = [&](JobContext& context) -> Status {
    int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(milliseconds(300));
    --running;
    return Status::Ok();
  };
  std::vector<std::string> ids;
  for (int job_idx = 0; job_idx < 6; ++job_idx) ids.push_back(Add());
  StartWorker();
  for (const std::string& id : ids) WaitForState(id, kStateDone, seconds(10));
  EXPECT_EQ(peak.load(), 3);
  EXPECT_EQ(script_.runs.load(), 6);
}

// A job whose work is finished while PostgreSQL is briefly down records its
// end once the server is back, in the same attempt, instead of waiting out its
// lease and running again.
TEST(WorkerPostgresOutageTest, AJobThatEndsWhileTheDatabaseIsDownIsDoneInItsFirstAttempt) {
  if (storage::TestPostgresAdminUrl().empty()) {
    GTEST_SKIP() << storage::kTestPostgresEnv << " is not set: no PostgreSQL to test against";
  }
  auto cluster = storage::PrivatePostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto db = storage::OpenDatabase((*cluster)->admin_url());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  QueueOptions queue_options;
  queue_options.lease_duration = seconds(10);
  queue_options.backoff_base = milliseconds(100);
  Queue queue(**db, SystemClock::Instance(), queue_options);
  Script script;
  std::atomic<bool> database_down{false};
  script.run = [&](JobContext& context) -> Status {
    while (!database_down.load()) {
      RETURN_IF_ERROR(context.CheckStop());
      std::this_thread::sleep_for(milliseconds(10));
    }
    return context.Complete();
  };
  HandlerRegistry handlers;
  handlers.Register(std::string(kKindProcess), std::make_unique<ScriptedHandler>(script));
  handlers.InstallHooks(queue);
  test::TempDir temp;
  WorkerOptions options;
  options.poll_interval = milliseconds(50);
  options.heartbeat_interval = milliseconds(100);
  options.temp_root = temp.path() + "/tmp";
  std::string id;
  ASSERT_TRUE((*db)
                  ->Transaction([&](storage::Session& session) -> Status {
                    ASSIGN_OR_RETURN(id, Enqueue(session, NewJob{"process", "video-1"},
                                                 SystemClock::Instance()));
                    return Status::Ok();
                  })
                  .ok());
  Worker worker(queue, handlers, options);
  std::thread worker_thread([&] { EXPECT_TRUE(worker.Run().ok()); });
  auto state_of = [&]() -> Job {
    auto job = queue.Get(id);
    return job.ok() ? *job : Job{};
  };
  auto deadline = steady_clock::now() + seconds(10);
  while (state_of().state != kStateRunning && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE((*cluster)->Pause().ok());
  database_down = true;  // the handler finishes now, with the server away
  std::this_thread::sleep_for(milliseconds(1500));
  ASSERT_TRUE((*cluster)->Resume().ok());

  // Well within the 10 s lease: the end was recorded by the first attempt.
  deadline = steady_clock::now() + seconds(7);
  Job job = state_of();
  while (job.state != kStateDone && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
    job = state_of();
  }
  EXPECT_EQ(job.state, kStateDone) << job.error.value_or("");
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(script.runs.load(), 1);
  worker.Stop();
  worker_thread.join();
}

}  // namespace
}  // namespace vidmill::jobs
