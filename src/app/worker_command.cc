// `vidmill worker`: runs media jobs (ingestion, processing) from the shared
// queue until SIGTERM/SIGINT, then finishes or releases its jobs and exits 0.
// Started by `vidmill serve --workers N` (jobs::Supervisor) or by hand on any
// machine that reaches the same database and media storage.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>

#include "app/commands.h"
#include "app/server_flags.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "filters/register_filters.h"
#include "jobs/handler.h"
#include "jobs/handlers/register_handlers.h"
#include "jobs/queue.h"
#include "jobs/worker.h"
#include "storage/blob_store.h"
#include "storage/database.h"

namespace vidmill::app {
namespace {

std::vector<FlagSpec> WorkerFlags() {
  std::vector<FlagSpec> specs = StoreFlags();
  std::vector<FlagSpec> more = {
      {"concurrency", "1", "jobs run at once by this process"},
      {"lease-seconds", "30", "how long a job stays claimed without a heartbeat"},
      {"heartbeat-ms", "1000", "interval between heartbeats (progress, lease renewal)"},
      {"poll-ms", "200", "how often an idle worker looks for new jobs"},
      {"time-limit-base", "300", "wall-time limit of a job: this many seconds …"},
      {"time-limit-factor", "20", "… plus this many seconds per second of media"},
      {"time-limit-initial", "3600", "wall-time limit before the media duration is known"},
      {"stuck-grace", "30",
       "seconds a job may ignore a stop request before the worker exits to be replaced"},
      {"max-frame-pixels", std::to_string(int64_t{7680} * 4320),
       "largest accepted width × height of an input video"},
      {"max-duration-seconds", "21600", "longest accepted input video"},
      {"owner-tag", "", "set by serve: a token that tells this process's leases apart"},
      {"lost-worker", "", "set by serve: the pid of the worker process this one replaces"},
      {"lost-worker-tag", "", "set by serve: that process's --owner-tag"},
      {"lost-worker-exit", "", "set by serve: how that process ended"},
      {"help", "", "print this help", true},
  };
  specs.insert(specs.end(), more.begin(), more.end());
  return specs;
}

// A worker started in place of one that died (`--lost-worker PID
// --lost-worker-tag TAG`, from serve's supervisor) first ends the attempts
// that process held, so its jobs are retried, and their users told why, now
// rather than once the leases expire. A worker started by hand has no
// predecessor.
void TakeBackJobsOfLostWorker(const Flags& flags, jobs::Queue& queue) {
  if (flags.Get("lost-worker").empty()) return;
  Result<int64_t> pid = flags.GetInt("lost-worker", 1, INT32_MAX);
  if (!pid.ok()) return;
  std::string how = flags.Get("lost-worker-exit");
  if (how.empty()) how = "ended";
  const std::string pid_text = std::to_string(*pid);
  Result<int> moved =
      queue.EndAttemptsOfOwner(jobs::Worker::OwnerPrefix(*pid, flags.Get("lost-worker-tag")) + ":",
                               "the worker process running it (pid " + pid_text + ") " + how);
  if (!moved.ok()) {
    LogWarning("cannot take back the jobs of worker pid " + pid_text +
               " (their leases will expire): " + moved.status().ToString());
  } else if (*moved > 0) {
    LogInfo("took back " + std::to_string(*moved) + " job(s) of worker pid " + pid_text +
            ", which " + how);
  }
}

int Fail(const Status& status, int code) {
  std::fprintf(stderr, "vidmill worker: %s\n", status.message().c_str());
  return code;
}

}  // namespace

int RunWorker(int argc, char** argv) {
  // Started as /proc/self/exe by serve, a worker would show as "exe" in top
  // and ps, and so would every thread it starts.
  NameThisThread("vidmill-worker");
  // Signals are taken by one watcher thread; every thread created later
  // inherits the blocked mask. First thing, so that a SIGTERM during start-up
  // is not lost either.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<FlagSpec> specs = WorkerFlags();
  Result<Flags> flags = Flags::Parse(specs, argc, argv, 2);
  if (!flags.ok()) return Fail(flags.status(), 2);
  if (flags->Has("help")) {
    std::printf("usage: vidmill worker [flags]\n%s", Flags::Usage(specs).c_str());
    return 0;
  }
  Result<StoreConfig> store = ResolveStore(*flags);
  if (!store.ok()) return Fail(store.status(), 2);

  auto concurrency = flags->GetInt("concurrency", 1, 256);
  auto lease_seconds = flags->GetInt("lease-seconds", 1, 3600);
  auto heartbeat_ms = flags->GetInt("heartbeat-ms", 10, 600'000);
  auto poll_ms = flags->GetInt("poll-ms", 10, 60'000);
  auto limit_base = flags->GetInt("time-limit-base", 0, 30 * 86400);
  auto limit_factor = flags->GetInt("time-limit-factor", 0, 100'000);
  auto limit_initial = flags->GetInt("time-limit-initial", 1, 30 * 86400);
  auto stuck_grace = flags->GetInt("stuck-grace", 1, 86400);
  auto max_pixels = flags->GetInt("max-frame-pixels", 1, int64_t{1} << 40);
  auto max_duration = flags->GetInt("max-duration-seconds", 1, 30 * 86400);
  for (const Status& status :
       {concurrency.status(), lease_seconds.status(), heartbeat_ms.status(), poll_ms.status(),
        limit_base.status(), limit_factor.status(), limit_initial.status(), stuck_grace.status(),
        max_pixels.status(), max_duration.status()}) {
    if (!status.ok()) return Fail(status, 2);
  }
  if (*heartbeat_ms * 2 > *lease_seconds * 1000) {
    return Fail(Status::InvalidArgument("--heartbeat-ms must be at most half of --lease-seconds"),
                2);
  }

  Result<std::unique_ptr<storage::Database>> db =
      OpenDatabaseWhenUp(store->database_url, "vidmill worker");
  if (!db.ok()) return Fail(db.status(), StartFailureExitCode(db.status()));

  jobs::QueueOptions queue_options;
  queue_options.lease_duration = std::chrono::seconds(*lease_seconds);
  jobs::Queue queue(**db, SystemClock::Instance(), queue_options);

  Result<std::unique_ptr<storage::BlobStore>> blobs = storage::OpenFileBlobStore(store->media_dir);
  if (!blobs.ok()) return Fail(blobs.status(), 1);
  Status checked = CheckMediaDirMatchesDatabase(**db, **blobs, store->media_dir);
  if (!checked.ok()) return Fail(checked, 2);

  jobs::HandlerRegistry handlers;
  filters::RegisterBuiltInFilters();  // Vidmill's own filters, for the process job
  jobs::RegisterJobHandlers(handlers,
                            jobs::JobHandlerConfig{
                                .database = db->get(),
                                .blobs = blobs->get(),
                                .clock = &SystemClock::Instance(),
                                .max_frame_pixels = *max_pixels,
                                .max_duration_seconds = static_cast<double>(*max_duration),
                            });
  handlers.InstallHooks(queue);
  TakeBackJobsOfLostWorker(*flags, queue);

  jobs::WorkerOptions options;
  options.concurrency = static_cast<int>(*concurrency);
  options.poll_interval = std::chrono::milliseconds(*poll_ms);
  options.heartbeat_interval = std::chrono::milliseconds(*heartbeat_ms);
  options.temp_root = (std::filesystem::path(store->media_dir) / ".tmp" / "jobs").string();
  options.storage_check = [media = blobs->get()] { return media->CheckAvailable(); };
  options.time_limits.initial = std::chrono::seconds(*limit_initial);
  options.time_limits.base = std::chrono::seconds(*limit_base);
  options.time_limits.per_media_second = static_cast<double>(*limit_factor);
  options.stuck_grace = std::chrono::seconds(*stuck_grace);
  options.exit_when_stuck = true;
  options.owner_tag = flags->Get("owner-tag");
  jobs::Worker worker(queue, handlers, options);

  std::atomic<bool> done{false};
  std::thread signal_watcher([&worker, &done, signals] {
    NameThisThread("vm-signals");
    timespec wake{0, 200'000'000};
    while (!done.load()) {
      int received = sigtimedwait(&signals, nullptr, &wake);
      if (received == SIGTERM || received == SIGINT) {
        LogInfo(std::string("received ") + (received == SIGTERM ? "SIGTERM" : "SIGINT") +
                "; releasing running jobs");
        worker.Stop();
        return;
      }
    }
  });
  Status status = worker.Run();
  done = true;
  signal_watcher.join();
  if (!status.ok()) return Fail(status, 1);
  return 0;
}

}  // namespace vidmill::app
