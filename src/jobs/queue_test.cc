#include "jobs/queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "common/clock.h"
#include "storage/backend_test.h"
#include "storage/scratch_database.h"

namespace vidmill::jobs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kStart = 1'700'000'000'000;

// Every test runs on SQLite, and on PostgreSQL when VIDMILL_TEST_POSTGRES names
// a server (`make test` starts one).
class QueueTest : public storage::BackendTest {
 protected:
  void SetUp() override {
    OpenScratchDatabase();
    if (IsSkipped() || HasFatalFailure()) return;
    QueueOptions options;
    options.lease_duration = seconds(30);
    options.backoff_base = seconds(2);
    options.backoff_max = seconds(60);
    options.random = [this] { return random_; };
    queue_ = std::make_unique<Queue>(*db_, clock_, options);
    queue_->SetFailureHook([this](storage::Session&, const Job& job, const std::string& message) {
      failures_.push_back(job.id + ": " + message);
      return Status::Ok();
    });
    queue_->SetRetryHook([this](storage::Session&, const Job& job, const std::string& note) {
      retries_.push_back(job.id + ": " + note);
      return Status::Ok();
    });
  }

  std::string Add(std::string_view kind = kKindProcess, std::string video = "video-1") {
    std::string id;
    Status status = db_->Transaction([&](storage::Session& session) -> Status {
      ASSIGN_OR_RETURN(id, Enqueue(session, NewJob{std::string(kind), video, "{\"a\":1}"}, clock_));
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return id;
  }

  Job MustClaim(const std::string& owner) {
    auto job = queue_->Claim(owner);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    EXPECT_TRUE(job.ok() && job->has_value()) << "nothing to claim";
    return job.ok() && job->has_value() ? **job : Job{};
  }

  bool NothingToClaim(const std::string& owner = "idle") {
    auto job = queue_->Claim(owner);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() && !job->has_value();
  }

  Job MustGet(const std::string& id) {
    auto job = queue_->Get(id);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : Job{};
  }

  FakeClock clock_{kStart};
  double random_ = 0.0;
  std::unique_ptr<Queue> queue_;
  std::vector<std::string> failures_;
  std::vector<std::string> retries_;  // the retry hook's notes
};

INSTANTIATE_TEST_SUITE_P(Backends, QueueTest,
                         ::testing::Values(storage::Backend::kSqlite, storage::Backend::kPostgres),
                         [](const auto& info) {
                           return std::string(storage::BackendName(info.param));
                         });

TEST_P(QueueTest, EnqueueStoresAQueuedJobAndRejectsUnknownKinds) {
  std::string id = Add(kKindIngestFull);
  Job job = MustGet(id);
  EXPECT_EQ(job.state, kStateQueued);
  EXPECT_EQ(job.kind, kKindIngestFull);
  EXPECT_EQ(job.video_id, "video-1");
  EXPECT_EQ(job.params_json, "{\"a\":1}");
  EXPECT_EQ(job.attempts, 0);
  EXPECT_EQ(job.max_attempts, 3);
  EXPECT_EQ(job.run_after, kStart);

  Status status = db_->Transaction([&](storage::Session& session) -> Status {
    return Enqueue(session, NewJob{"ingest_everything", "v"}, clock_).status();
  });
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  status = db_->Transaction([&](storage::Session& session) -> Status {
    return Enqueue(session, NewJob{"process", ""}, clock_).status();
  });
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
}

TEST_P(QueueTest, EnqueueRollsBackWithTheCallersTransaction) {
  Status status = db_->Transaction([&](storage::Session& session) -> Status {
    RETURN_IF_ERROR(Enqueue(session, NewJob{"process", "v"}, clock_).status());
    return Status::Conflict("caller changed its mind");
  });
  EXPECT_EQ(status.code(), Code::kConflict);
  EXPECT_TRUE(NothingToClaim());
}

TEST_P(QueueTest, NewIngestionSupersedesTheVideosEarlierIngestion) {
  std::string first = Add(kKindIngestFull, "v");
  std::string other_video = Add(kKindIngestFull, "w");
  std::string processing = Add(kKindProcess, "v");
  clock_.Advance(milliseconds(1));
  std::string second = Add(kKindIngestLight, "v");
  EXPECT_EQ(MustGet(first).state, kStateCancelled);
  EXPECT_EQ(MustGet(first).error.value_or(""), "superseded by a new upload");
  EXPECT_EQ(MustGet(other_video).state, kStateQueued);
  EXPECT_EQ(MustGet(processing).state, kStateQueued);
  EXPECT_EQ(MustGet(second).state, kStateQueued);
}

TEST_P(QueueTest, ClaimTakesTheOldestRunnableJobOnceAndCountsTheAttempt) {
  std::string a = Add();
  clock_.Advance(milliseconds(5));
  std::string b = Add();
  Job first = MustClaim("w1");
  EXPECT_EQ(first.id, a);
  EXPECT_EQ(first.state, kStateRunning);
  EXPECT_EQ(first.attempts, 1);
  EXPECT_EQ(first.lease_owner.value_or(""), "w1");
  EXPECT_EQ(first.lease_expires_at.value_or(0), clock_.NowMillis() + 30'000);
  EXPECT_EQ(MustGet(a).attempts, 1);
  Job second = MustClaim("w2");
  EXPECT_EQ(second.id, b);
  EXPECT_TRUE(NothingToClaim());
}

TEST_P(QueueTest, ClaimFiltersByKind) {
  std::string process = Add(kKindProcess);
  auto none = queue_->Claim("w", {std::string(kKindIngestFull)});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto job = queue_->Claim("w", {std::string(kKindIngestFull), std::string(kKindProcess)});
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->id, process);
}

TEST_P(QueueTest, HeartbeatRenewsTheLeaseAndRecordsProgress) {
  Add();
  Job job = MustClaim("w1");
  clock_.Advance(seconds(20));
  bool also_ran = false;
  ASSERT_TRUE(queue_
                  ->Heartbeat(LeaseOf(job), 40, 12,
                              [&](storage::Session&) {
                                also_ran = true;
                                return Status::Ok();
                              })
                  .ok());
  EXPECT_TRUE(also_ran);
  Job stored = MustGet(job.id);
  EXPECT_DOUBLE_EQ(stored.progress, 40);
  EXPECT_EQ(stored.eta_seconds.value_or(-1), 12);
  EXPECT_EQ(stored.lease_expires_at.value_or(0), clock_.NowMillis() + 30'000);
  // 20 s later the original lease would have expired, the renewed one has not.
  clock_.Advance(seconds(20));
  ASSERT_TRUE(queue_->ReapExpired().ok());
  EXPECT_EQ(MustGet(job.id).state, kStateRunning);
  EXPECT_TRUE(queue_->Heartbeat(LeaseOf(job), 50, std::nullopt).ok());
}

// A worker process known to be gone: its attempts end at once, with what
// became of it, long before its leases would expire; another process's jobs,
// even one whose owner name merely starts the same way, are left alone.
TEST_P(QueueTest, TheJobsOfALostWorkerAreTakenBackBeforeTheirLeasesExpire) {
  for (int i = 0; i < 3; ++i) Add();
  const std::string lost = MustClaim("host:12:ab:0").id;
  const std::string other = MustClaim("host:13:cd:0").id;
  const std::string similar = MustClaim("host:12:abc:0").id;
  random_ = 0.0;
  Result<int> moved =
      queue_->EndAttemptsOfOwner("host:12:ab:", "the worker process running it was killed");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 1);
  Job requeued = MustGet(lost);
  EXPECT_EQ(requeued.state, kStateQueued);
  EXPECT_EQ(requeued.error.value_or(""), "the worker process running it was killed");
  EXPECT_EQ(retries_, std::vector<std::string>{
                          lost +
                          ": attempt 1 of 3 failed: the worker process running it was killed; "
                          "the next attempt starts at " +
                          FormatApiDate(clock_.NowMillis() + 1000) + " UTC"});
  EXPECT_EQ(MustGet(other).state, kStateRunning);
  EXPECT_EQ(MustGet(similar).state, kStateRunning);
  EXPECT_FALSE(queue_->EndAttemptsOfOwner("", "x").ok());
}

TEST_P(QueueTest, ExpiredLeaseIsRequeuedWithBackoffAndTheOldOwnerIsFencedOut) {
  std::string id = Add();
  Job first = MustClaim("w1");
  clock_.Advance(seconds(31));  // w1 paused past its lease
  random_ = 0.0;                // backoff after attempt 1: [1 s, 2 s] → 1 s
  Result<int> reaped = queue_->ReapExpired();
  ASSERT_TRUE(reaped.ok());
  EXPECT_EQ(*reaped, 1);
  Job requeued = MustGet(id);
  EXPECT_EQ(requeued.state, kStateQueued);
  EXPECT_EQ(requeued.attempts, 1);
  EXPECT_EQ(requeued.run_after, clock_.NowMillis() + 1000);
  EXPECT_NE(requeued.error.value_or("").find("lease expired"), std::string::npos);
  // The user is told, through the retry hook, and when it runs again.
  EXPECT_EQ(retries_,
            std::vector<std::string>{id +
                                     ": attempt 1 of 3 failed: the worker running it stopped "
                                     "responding (its lease expired); the next attempt starts at " +
                                     FormatApiDate(clock_.NowMillis() + 1000) + " UTC"});
  EXPECT_TRUE(NothingToClaim());  // not before the backoff
  clock_.Advance(milliseconds(1000));
  Job second = MustClaim("w2");
  EXPECT_EQ(second.attempts, 2);

  // Every write of w1 is refused and changes nothing.
  Lease stale = LeaseOf(first);
  EXPECT_EQ(queue_->Heartbeat(stale, 99, 1).code(), Code::kCancelled);
  bool wrote = false;
  Status write = queue_->FencedWrite(stale, [&](storage::Session& session) {
    wrote = true;
    return Status::Ok();
  });
  EXPECT_EQ(write.code(), Code::kCancelled);
  EXPECT_NE(write.message().find("lost the lease"), std::string::npos) << write.message();
  EXPECT_FALSE(wrote);
  EXPECT_EQ(queue_->Complete(stale).code(), Code::kCancelled);
  EXPECT_EQ(queue_->Fail(stale, Status::CorruptMedia("x")).status().code(), Code::kCancelled);
  EXPECT_EQ(queue_->Release(stale).code(), Code::kCancelled);
  Job stored = MustGet(id);
  EXPECT_EQ(stored.state, kStateRunning);
  EXPECT_EQ(stored.lease_owner.value_or(""), "w2");
  EXPECT_DOUBLE_EQ(stored.progress, 0);

  // The new owner completes it.
  ASSERT_TRUE(queue_->Complete(LeaseOf(second)).ok());
  stored = MustGet(id);
  EXPECT_EQ(stored.state, kStateDone);
  EXPECT_DOUBLE_EQ(stored.progress, 100);
  EXPECT_TRUE(failures_.empty());
}

TEST_P(QueueTest, SameOwnerWithAnOlderAttemptIsFencedOut) {
  std::string id = Add();
  Job first = MustClaim("w1");
  clock_.Advance(seconds(31));
  random_ = 0.0;
  ASSERT_TRUE(queue_->ReapExpired().ok());
  clock_.Advance(seconds(10));
  Job second = MustClaim("w1");  // the same worker name claims again
  EXPECT_EQ(second.attempts, 2);
  EXPECT_EQ(queue_->Complete(LeaseOf(first)).code(), Code::kCancelled);
  EXPECT_TRUE(queue_->Complete(LeaseOf(second)).ok());
  EXPECT_EQ(MustGet(id).state, kStateDone);
}

// A queue that has just been made (a worker or node starting, perhaps after
// waiting for the database) reaps nothing for a lease duration: it cannot know
// whether the database was away and the leases' owners are about to renew
// them. A worker started during an outage had reaped healthy jobs (audit 15).
TEST_P(QueueTest, AFreshQueueWaitsALeaseBeforeItReaps) {
  std::string id = Add();
  MustClaim("w1");
  clock_.Advance(seconds(31));  // w1's lease has run out, unreaped
  Queue fresh(*db_, clock_, queue_->options());
  auto claimed = fresh.Claim("w2", {});
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  EXPECT_FALSE(claimed->has_value());
  EXPECT_EQ(MustGet(id).state, kStateRunning);
  EXPECT_EQ(*fresh.ReapExpiredWhenDue(), 0);
  clock_.Advance(seconds(30));
  EXPECT_EQ(*fresh.ReapExpiredWhenDue(), 1);
  EXPECT_EQ(MustGet(id).state, kStateQueued);
}

// A lease past its expiry that no reaper took yet is still its owner's: a
// worker that could not reach the database for longer than its lease renews
// it when it can. Once reaped, it is refused.
TEST_P(QueueTest, AnExpiredLeaseIsRenewedByItsOwnerUntilItIsReaped) {
  Add();
  Job job = MustClaim("w1");
  clock_.Advance(seconds(31));
  EXPECT_TRUE(queue_->Heartbeat(LeaseOf(job), 10, 1).ok());
  EXPECT_EQ(MustGet(job.id).lease_expires_at.value_or(0), clock_.NowMillis() + 30'000);
  clock_.Advance(seconds(31));
  ASSERT_EQ(*queue_->ReapExpired(), 1);
  EXPECT_EQ(queue_->Heartbeat(LeaseOf(job), 20, 1).code(), Code::kCancelled);
}

TEST_P(QueueTest, AfterTheLastAttemptTheJobFailsWithAMessageThatSaysSo) {
  std::string id = Add();
  random_ = 0.999;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    Job job = MustClaim("w" + std::to_string(attempt));
    ASSERT_EQ(job.attempts, attempt);
    clock_.Advance(seconds(31));
    ASSERT_TRUE(queue_->ReapExpired().ok());
    clock_.Advance(seconds(600));
  }
  Job failed = MustGet(id);
  EXPECT_EQ(failed.state, kStateFailed);
  EXPECT_EQ(failed.error.value_or(""),
            "gave up after 3 attempts: the worker running it stopped responding (its lease "
            "expired)");
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_EQ(failures_[0], id + ": " + *failed.error);
  EXPECT_TRUE(NothingToClaim());
}

TEST_P(QueueTest, BackoffGrowsExponentiallyWithJitterUpToTheCap) {
  random_ = 0.0;
  EXPECT_EQ(queue_->Backoff(1), seconds(1));
  EXPECT_EQ(queue_->Backoff(2), seconds(2));
  EXPECT_EQ(queue_->Backoff(3), seconds(4));
  EXPECT_EQ(queue_->Backoff(30), seconds(30));
  random_ = 0.5;
  EXPECT_EQ(queue_->Backoff(1), milliseconds(1500));
  EXPECT_EQ(queue_->Backoff(3), seconds(6));
  EXPECT_EQ(queue_->Backoff(100), seconds(45));
  // Default jitter stays within the band and varies.
  Queue unseeded(*db_, clock_, QueueOptions{});
  std::set<int64_t> seen;
  for (int draw = 0; draw < 20; ++draw) {
    int64_t delay = unseeded.Backoff(2).count();
    EXPECT_GE(delay, 2000);
    EXPECT_LE(delay, 4000);
    seen.insert(delay);
  }
  EXPECT_GT(seen.size(), 1u);
}

TEST_P(QueueTest, CorruptMediaFailsAtOnce) {
  std::string id = Add();
  Job job = MustClaim("w1");
  auto outcome = queue_->Fail(LeaseOf(job), Status::CorruptMedia("cannot open input: not a video"));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, FailOutcome::kFailed);
  Job stored = MustGet(id);
  EXPECT_EQ(stored.state, kStateFailed);
  EXPECT_EQ(stored.attempts, 1);
  EXPECT_EQ(stored.error.value_or(""), "cannot open input: not a video");
  ASSERT_EQ(failures_.size(), 1u);
}

TEST_P(QueueTest, TransientErrorsAreRetriedWithBackoffThenFail) {
  std::string id = Add();
  random_ = 0.0;
  Job job = MustClaim("w1");
  auto outcome = queue_->Fail(LeaseOf(job), Status::Internal("bug"));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, FailOutcome::kRetryScheduled);
  Job stored = MustGet(id);
  EXPECT_EQ(stored.state, kStateQueued);
  EXPECT_EQ(stored.run_after, clock_.NowMillis() + 1000);
  EXPECT_FALSE(stored.lease_owner.has_value());
  EXPECT_EQ(stored.error.value_or(""), "bug");

  clock_.Advance(seconds(1));
  job = MustClaim("w1");
  ASSERT_EQ(queue_->Fail(LeaseOf(job), Status::Unavailable("disk full")).value(),
            FailOutcome::kRetryScheduled);
  EXPECT_EQ(MustGet(id).run_after, clock_.NowMillis() + 2000);
  clock_.Advance(seconds(2));
  job = MustClaim("w1");
  ASSERT_EQ(queue_->Fail(LeaseOf(job), Status::Internal("bug")).value(), FailOutcome::kFailed);
  stored = MustGet(id);
  EXPECT_EQ(stored.state, kStateFailed);
  EXPECT_EQ(stored.error.value_or(""), "gave up after 3 attempts: bug");
  EXPECT_EQ(failures_.size(), 1u);
}

TEST_P(QueueTest, TheMachinesFaultsAreRetriedPastTheLimitUntilTheyClear) {
  // A full disk or a database away is no fault of the job's: its attempts
  // run out, it keeps waiting at a growing backoff, and it runs when the
  // fault clears.
  std::string id = Add();
  random_ = 0.0;
  for (int attempt = 1; attempt <= 5; ++attempt) {
    Job job = MustClaim("w1");
    ASSERT_EQ(job.attempts, attempt);
    ASSERT_EQ(queue_->Fail(LeaseOf(job), Status::Unavailable("disk full")).value(),
              FailOutcome::kRetryScheduled)
        << attempt;
    Job stored = MustGet(id);
    EXPECT_EQ(stored.state, kStateQueued);
    EXPECT_EQ(stored.run_after, clock_.NowMillis() + queue_->Backoff(attempt).count());
    EXPECT_EQ(stored.error.value_or(""),
              attempt < 3 ? std::string("disk full")
                          : "retrying until the fault clears (attempt " + std::to_string(attempt) +
                                "): disk full");
    ASSERT_EQ(retries_.size(), static_cast<size_t>(attempt));
    EXPECT_EQ(retries_.back(), id + ": attempt " + std::to_string(attempt) +
                                   " failed: disk full (a fault of the installation: retried "
                                   "until it clears); the next attempt starts at " +
                                   FormatApiDate(stored.run_after) + " UTC");
    EXPECT_TRUE(NothingToClaim());  // not before its backoff
    clock_.Advance(queue_->Backoff(attempt));
  }
  EXPECT_TRUE(failures_.empty());
  Job job = MustClaim("w1");
  ASSERT_TRUE(queue_->Complete(LeaseOf(job)).ok());
  EXPECT_EQ(MustGet(id).state, kStateDone);
  // An internal error past the limit still fails the job.
  std::string other = Add();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    Job claimed = MustClaim("w1");
    ASSERT_EQ(queue_->Fail(LeaseOf(claimed), Status::Unavailable("disk full")).value(),
              FailOutcome::kRetryScheduled);
    clock_.Advance(queue_->Backoff(attempt));
  }
  Job claimed = MustClaim("w1");
  ASSERT_EQ(queue_->Fail(LeaseOf(claimed), Status::Internal("bug")).value(), FailOutcome::kFailed);
  EXPECT_EQ(MustGet(other).error.value_or(""), "gave up after 4 attempts: bug");
}

TEST_P(QueueTest, ReleaseMakesTheJobRunnableAtOnceWithoutCountingTheAttempt) {
  std::string id = Add();
  Job job = MustClaim("w1");
  ASSERT_TRUE(queue_->Heartbeat(LeaseOf(job), 71.5, 2).ok());
  ASSERT_TRUE(queue_->Release(LeaseOf(job)).ok());
  Job stored = MustGet(id);
  EXPECT_EQ(stored.state, kStateQueued);
  EXPECT_EQ(stored.attempts, 0);
  // Nothing of the stopped attempt is shown as the job's: its progress goes,
  // and the user is told why it starts again.
  EXPECT_EQ(stored.progress, 0);
  EXPECT_EQ(retries_,
            std::vector<std::string>{id + ": the worker running it was stopped; it runs "
                                          "again from the start on the next free worker"});
  EXPECT_EQ(MustClaim("w2").attempts, 1);
}

TEST_P(QueueTest, CancelledJobRefusesTheWorkersWrites) {
  std::string id = Add(kKindIngestFull, "v");
  Job job = MustClaim("w1");
  // What videos::DeleteVideoCascade does.
  ASSERT_TRUE(db_->Run([&](storage::Session& session) {
                   return session
                       .Execute("UPDATE jobs SET state = 'cancelled', error = ? WHERE video_id = ?",
                                {std::string("the video was deleted"), std::string("v")})
                       .status();
                 })
                  .ok());
  Status heartbeat = queue_->Heartbeat(LeaseOf(job), 10, 1);
  EXPECT_EQ(heartbeat.code(), Code::kCancelled);
  EXPECT_NE(heartbeat.message().find("the video was deleted"), std::string::npos);
  EXPECT_EQ(queue_->Complete(LeaseOf(job)).code(), Code::kCancelled);
  EXPECT_EQ(MustGet(id).state, kStateCancelled);
  EXPECT_TRUE(NothingToClaim());
}

TEST_P(QueueTest, CompleteCommitsTheFinalWritesAtomically) {
  ASSERT_TRUE(db_->Run([](storage::Session& s) {
                   return s.Execute("CREATE TABLE outputs (job_id TEXT)", {}).status();
                 })
                  .ok());
  std::string id = Add();
  Job job = MustClaim("w1");
  Status failed = queue_->Complete(LeaseOf(job), [&](storage::Session& session) -> Status {
    RETURN_IF_ERROR(session.Execute("INSERT INTO outputs VALUES (?)", {id}).status());
    return Status::Unavailable("disk full");
  });
  EXPECT_EQ(failed.code(), Code::kUnavailable);
  EXPECT_EQ(MustGet(id).state, kStateRunning);
  ASSERT_TRUE(
      queue_
          ->Complete(LeaseOf(job),
                     [&](storage::Session& session) {
                       return session.Execute("INSERT INTO outputs VALUES (?)", {id}).status();
                     })
          .ok());
  EXPECT_EQ(MustGet(id).state, kStateDone);
  int64_t rows = 0;
  ASSERT_TRUE(db_->Run([&](storage::Session& s) -> Status {
                   ASSIGN_OR_RETURN(storage::Row row,
                                    s.QueryOne("SELECT COUNT(*) FROM outputs", {}, "count"));
                   rows = row.Int(0);
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(rows, 1);
}

// Separate Database objects behave like separate processes: each claim goes
// to exactly one of the racing claimers.
TEST_P(QueueTest, ConcurrentClaimersNeverShareAJob) {
  constexpr int kJobs = 40;
  for (int job_idx = 0; job_idx < kJobs; ++job_idx) {
    Add();
    clock_.Advance(milliseconds(1));
  }
  constexpr int kClaimers = 4;
  std::vector<std::unique_ptr<storage::Database>> dbs;
  std::vector<std::unique_ptr<Queue>> queues;
  for (int claimer = 0; claimer < kClaimers; ++claimer) {
    auto db = storage::OpenDatabase(scratch_->url());
    ASSERT_TRUE(db.ok());
    dbs.push_back(std::move(*db));
    queues.push_back(std::make_unique<Queue>(*dbs.back(), clock_, QueueOptions{}));
  }
  std::mutex mu;
  std::vector<std::string> claimed;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int claimer = 0; claimer < kClaimers; ++claimer) {
    threads.emplace_back([&, claimer] {
      while (true) {
        auto job = queues[claimer]->Claim("c" + std::to_string(claimer));
        if (!job.ok()) {
          ++errors;
          continue;
        }
        if (!job->has_value()) return;
        std::lock_guard lock(mu);
        claimed.push_back((*job)->id);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(),
            static_cast<size_t>(kJobs));
}

}  // namespace
}  // namespace vidmill::jobs
