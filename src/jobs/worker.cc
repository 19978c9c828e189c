#include "jobs/worker.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/thread_name.h"

namespace vidmill::jobs {
namespace {

namespace fs = std::filesystem;

// "attempt 2/3"; an attempt past the limit (a fault of the installation is
// retried until it clears) says so rather than "4/3" (audit 42 F3).
std::string Describe(const Job& job) {
  std::string text = "job " + job.id + " (" + job.kind + ", video " + job.video_id + ", attempt ";
  text += std::to_string(job.attempts);
  text += job.attempts <= job.max_attempts ? "/" : ", past the ";
  text += std::to_string(job.max_attempts);
  if (job.attempts > job.max_attempts) {
    text += " counted: retried until the installation's fault clears";
  }
  return text + ")";
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) {
    return "localhost";
  }
  return name;
}

// Runs the handler, turning an escaped exception into kInternal.
Status RunHandler(JobHandler& handler, JobContext& context) {
  try {
    return handler.Run(context);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("unexpected error: ") + e.what());
  } catch (...) {
    return Status::Internal("unexpected error (unknown exception)");
  }
}

}  // namespace

Worker::Worker(Queue& queue, const HandlerRegistry& handlers, WorkerOptions options)
    : queue_(queue), handlers_(handlers), options_(std::move(options)) {
  owner_prefix_ = options_.owner_prefix.empty() ? OwnerPrefix(getpid(), options_.owner_tag)
                                                : options_.owner_prefix;
  if (options_.concurrency < 1) {
    options_.concurrency = 1;
  }
  if (options_.temp_root.empty()) {
    options_.temp_root = (fs::temp_directory_path() / "vidmill-jobs").string();
  }
}

Worker::~Worker() { Stop(); }

std::string Worker::OwnerPrefix(int64_t pid, const std::string& tag) {
  std::string prefix = HostName() + ":" + std::to_string(pid);
  if (!tag.empty()) prefix += ":" + tag;
  return prefix;
}

std::string Worker::OwnerName(int slot) const {
  // A fresh suffix per claim would also do; per slot keeps logs readable, and
  // the attempt number in the lease already tells two claims apart.
  return owner_prefix_ + ":" + std::to_string(slot);
}

Status Worker::Run() {
  std::error_code ec;
  fs::create_directories(options_.temp_root, ec);
  if (ec) {
    return Status::Unavailable("cannot create the job temp directory " + options_.temp_root + ": " +
                               ec.message());
  }
  SweepAbandonedTempDirs();
  LogInfo("worker " + owner_prefix_ + ": running " + std::to_string(options_.concurrency) +
          " slot(s)");
  std::vector<std::thread> slots;
  for (int slot = 0; slot < options_.concurrency; ++slot) {
    slots.emplace_back([this, slot] {
      NameThisThread("vm-slot-" + std::to_string(slot));
      SlotLoop(slot);
    });
  }
  PeriodicTask sweeper(options_.temp_sweep_interval, [this] { SweepAbandonedTempDirs(); });
  for (std::thread& thread : slots) {
    thread.join();
  }
  sweeper.Stop();
  LogInfo("worker " + owner_prefix_ + ": stopped");
  return Status::Ok();
}

void Worker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  std::lock_guard lock(contexts_mu_);
  for (JobContext* context : running_) {
    context->RequestStop(StopReason::kShutdown, "the worker is shutting down");
  }
}

void Worker::SlotLoop(int slot) {
  auto idle_wait = options_.poll_interval;
  while (!stopping_.load()) {
    Result<bool> ran = RunOne(slot);
    auto wait = std::chrono::milliseconds(0);
    if (!ran.ok()) {
      LogWarning("worker " + OwnerName(slot) + ": " + ran.status().ToString());
      // A database outage: back off, up to 5 s, so the log stays readable.
      idle_wait = std::min<std::chrono::milliseconds>(idle_wait * 2, std::chrono::seconds(5));
      wait = idle_wait;
    } else if (!*ran) {
      idle_wait = options_.poll_interval;
      wait = idle_wait;
    }
    if (wait.count() > 0) {
      std::unique_lock lock(mu_);
      stop_cv_.wait_for(lock, wait, [this] { return stopping_.load(); });
    }
  }
}

Result<bool> Worker::RunOne(int slot) {
  std::vector<std::string> kinds = handlers_.kinds();
  if (kinds.empty()) {
    return false;  // an empty filter would claim every kind
  }
  ASSIGN_OR_RETURN(std::optional<Job> job, queue_.Claim(OwnerName(slot), kinds));
  if (!job) {
    return false;
  }
  RunClaimed(std::move(*job));
  return true;
}

void Worker::RemoveStaleTempDirs(const Job& job) const {
  // Earlier attempts of this job (a worker that crashed) left these behind.
  std::error_code ec;
  std::string prefix = "job-" + job.id + "-";
  for (fs::directory_iterator it(options_.temp_root, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) == 0) {
      std::error_code ignored;
      fs::remove_all(it->path(), ignored);
    }
  }
}

Status Worker::MakeWorkDir(const std::string& temp_dir) const {
  if (options_.storage_check) {
    if (Status storage = options_.storage_check(); !storage.ok()) {
      return Status::Unavailable("no work directory made: " + storage.message());
    }
  }
  std::error_code ec;
  fs::create_directories(temp_dir, ec);
  if (ec) {
    return Status::Unavailable("cannot create the job temp directory " + temp_dir + ": " +
                               ec.message());
  }
  return Status::Ok();
}

void Worker::SweepAbandonedTempDirs() const {
  std::error_code ec;
  auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(options_.temp_root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind("job-", 0) != 0) continue;
    std::error_code time_error;
    auto modified = fs::last_write_time(it->path(), time_error);
    if (time_error || now - modified < options_.temp_max_age) continue;
    std::error_code ignored;
    fs::remove_all(it->path(), ignored);
    LogInfo("worker " + owner_prefix_ + ": removed abandoned " + it->path().string());
  }
}

void Worker::RunClaimed(Job job) {
  JobHandler* handler = handlers_.Find(job.kind);
  Lease lease = LeaseOf(job);
  if (handler == nullptr) {
    // Only kinds with a handler are claimed; this is a bug.
    (void)queue_.Fail(lease, Status::NotImplemented("no handler for job kind '" + job.kind + "'"));
    return;
  }
  RemoveStaleTempDirs(job);
  std::string temp_dir =
      (fs::path(options_.temp_root) /
       ("job-" + job.id + "-" + std::to_string(job.attempts) + "-" + NewId().substr(0, 8)))
          .string();
  const Status made = MakeWorkDir(temp_dir);
  LogInfo(Describe(job) + ": started by " + lease.owner);

  JobContext context(queue_, *handler, job, temp_dir, options_.time_limits);
  {
    std::lock_guard lock(contexts_mu_);
    running_.push_back(&context);
    if (stopping_.load()) {
      context.RequestStop(StopReason::kShutdown, "the worker is shutting down");
    }
  }

  Status result = made;
  std::error_code ec;
  if (made.ok()) {
    std::atomic<bool> done{false};
    std::mutex heartbeat_mu;
    std::condition_variable heartbeat_cv;
    std::thread heartbeat([&] {
      NameThisThread("vm-heartbeat");
      HeartbeatLoop(context, done, heartbeat_mu, heartbeat_cv);
    });
    result = RunHandler(*handler, context);
    if (!result.ok() && result.code() != Code::kUnavailable && result.code() != Code::kCancelled &&
        !context.ShouldStop() && !fs::exists(temp_dir, ec)) {
      // Its work directory was removed under it (a cleaner, an operator):
      // what failed was the installation, not the media, and the attempt is
      // retried as such. It had failed the job for good ("finishing the
      // output file: No such file or directory"; audit 33 F4).
      result = Status::Unavailable("the job's work directory " + temp_dir +
                                   " was removed while it ran (" + result.message() + ")");
    }
    {
      std::lock_guard lock(heartbeat_mu);
      done = true;
    }
    heartbeat_cv.notify_all();
    heartbeat.join();
  }

  {
    std::lock_guard lock(contexts_mu_);
    std::erase(running_, &context);
  }
  fs::remove_all(temp_dir, ec);
  EndAttempt(context, result);
  // A job's frames, codec and filter buffers are freed now, but glibc keeps
  // freed pages in its arenas, and an idle worker would hold 240–320 MB after
  // its jobs (a fresh one holds 42 MB). Handing them back takes a part:
  // after two 1080p ProRes jobs 127 MB instead of 148 MB (the rest is not
  // free memory: codec tables, thread stacks, filter state).
  malloc_trim(0);
}

void Worker::HeartbeatLoop(JobContext& context, std::atomic<bool>& done, std::mutex& mu,
                           std::condition_variable& cv) {
  const Job& job = context.job();
  std::optional<std::chrono::steady_clock::time_point> stop_seen;
  while (true) {
    {
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, options_.heartbeat_interval, [&] { return done.load(); })) {
        return;
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now > context.deadline()) {
      auto limit =
          std::chrono::duration_cast<std::chrono::seconds>(context.deadline() - context.started());
      context.RequestStop(StopReason::kTimeLimit, "the job ran longer than its time limit of " +
                                                      std::to_string(limit.count()) + " s");
    }
    if (context.ShouldStop()) {
      if (!stop_seen) {
        stop_seen = now;
      } else if (options_.exit_when_stuck && now - *stop_seen > options_.stuck_grace) {
        LogError(
            Describe(job) + ": the handler ignored a stop request (" + context.stop_message() +
            ") for " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(options_.stuck_grace).count()) +
            " s; exiting so that the worker is replaced");
        std::_Exit(3);
      }
    }
    if (context.stop_reason() == StopReason::kLeaseLost) {
      continue;  // nothing left to renew
    }
    double progress = context.progress();
    std::optional<int64_t> eta = context.EtaSeconds();
    Status status = queue_.Heartbeat(context.lease(), progress, eta, [&](storage::Session& s) {
      return context.handler().OnProgress(s, job, progress, eta);
    });
    if (status.code() == Code::kCancelled) {
      LogInfo(Describe(job) + ": stopping: " + status.message());
      context.RequestStop(StopReason::kLeaseLost, status.message());
    } else if (status.ok()) {
      // Marks the temp dir as live for SweepAbandonedTempDirs on other workers.
      std::error_code ignored;
      fs::last_write_time(context.temp_dir(), fs::file_time_type::clock::now(), ignored);
    } else {
      // A database blip: keep trying. Past the lease, the next heartbeat
      // renews it if no reaper took the job meanwhile (reapers that saw the
      // outage wait a lease duration), else it reports the lease lost.
      LogWarning(Describe(job) + ": heartbeat failed: " + status.ToString());
    }
  }
}

void Worker::EndAttempt(JobContext& context, const Status& result) {
  const Job& job = context.job();
  const Lease& lease = context.lease();
  StopReason reason = context.stop_reason();
  Status status;
  if (context.completed()) {
    LogInfo(Describe(job) + ": done");
    return;
  }
  if (result.ok()) {
    status = context.Complete();
    if (status.ok()) {
      LogInfo(Describe(job) + ": done");
    }
  } else if (reason == StopReason::kLeaseLost ||
             (reason == StopReason::kNone && result.code() == Code::kCancelled)) {
    LogInfo(Describe(job) + ": output discarded: " +
            (reason == StopReason::kLeaseLost ? context.stop_message() : result.message()));
    return;
  } else if (reason == StopReason::kShutdown) {
    status = queue_.Release(lease);
    if (status.ok()) {
      LogInfo(Describe(job) + ": released (shutting down)");
    }
  } else {
    Status error = reason == StopReason::kTimeLimit ? context.CheckStop() : result;
    Result<FailOutcome> outcome = queue_.Fail(lease, error);
    status = outcome.status();
    if (outcome.ok()) {
      LogInfo(Describe(job) + (*outcome == FailOutcome::kFailed ? ": failed: " : ": will retry: ") +
              error.ToString());
    }
  }
  if (status.code() == Code::kCancelled) {
    // Cancelled meanwhile (its video deleted): nothing is wrong, as for a
    // cancellation heard while it ran.
    LogInfo(Describe(job) + ": output discarded: " + status.message());
  } else if (!status.ok()) {
    // Lost lease or database outage: the lease expires and the queue retries.
    LogWarning(Describe(job) + ": could not end the attempt: " + status.ToString());
  }
}

}  // namespace vidmill::jobs
