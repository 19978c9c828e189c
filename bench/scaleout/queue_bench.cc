// Queue overhead across worker processes: how many jobs per minute N
// `vidmill worker`-like processes get through when the work itself is free,
// and how long an idle worker takes to pick up a new job.
//
// Each worker is a separate process (fork before any database connection is
// opened) running the real jobs::Worker loop — claim, temp dir, heartbeat
// thread, complete — with a handler that does nothing. The parent enqueues the
// jobs, starts the clock, forks the workers and polls the jobs table until all
// are done, then checks that every job ran exactly once.
//
//   scaleout_queue_bench --database URL --workers N [--jobs M] [--poll-ms P]
//
// Prints one line: backend workers jobs seconds jobs_per_minute pickup_ms_p50
// pickup_ms_max.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/flags.h"
#include "common/log.h"
#include "jobs/handler.h"
#include "jobs/queue.h"
#include "jobs/worker.h"
#include "storage/database.h"

namespace vidmill {
namespace {

using Milliseconds = std::chrono::milliseconds;

class NoopHandler final : public jobs::JobHandler {
 public:
  Status Run(jobs::JobContext&) override { return Status::Ok(); }
};

[[noreturn]] void Die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "scaleout_queue_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

// The body of one worker process: runs until SIGTERM.
[[noreturn]] void WorkerProcess(const std::string& url, int index, Milliseconds poll,
                                const std::string& temp_root) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  SetLogLevel(LogLevel::kWarning);  // one line per job would dominate the output
  auto db = storage::OpenDatabase(url);
  if (!db.ok()) Die("worker cannot open the database", db.status());
  jobs::Queue queue(**db, SystemClock::Instance());
  jobs::HandlerRegistry handlers;
  handlers.Register(std::string(jobs::kKindProcess), std::make_unique<NoopHandler>());
  handlers.InstallHooks(queue);
  jobs::WorkerOptions options;
  options.poll_interval = poll;
  options.temp_root = temp_root + "/w" + std::to_string(index);
  options.owner_prefix = "bench-" + std::to_string(index);
  jobs::Worker worker(queue, handlers, options);
  std::thread stopper([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    worker.Stop();
  });
  Status status = worker.Run();
  stopper.join();
  std::_Exit(status.ok() ? 0 : 1);
}

int64_t CountDone(storage::Database& db) {
  int64_t done = -1;
  Status status = db.Run([&](storage::Session& s) -> Status {
    ASSIGN_OR_RETURN(storage::Row row,
                     s.QueryOne("SELECT COUNT(*) FROM jobs WHERE state = 'done'", {}, "count"));
    done = row.Int(0);
    return Status::Ok();
  });
  if (!status.ok()) Die("counting jobs", status);
  return done;
}

Status Enqueue(storage::Database& db, int count, const std::string& prefix) {
  return db.Transaction([&](storage::Session& s) -> Status {
    for (int job_idx = 0; job_idx < count; ++job_idx) {
      RETURN_IF_ERROR(jobs::Enqueue(s,
                                    {std::string(jobs::kKindProcess),
                                     prefix + std::to_string(job_idx), "{}"},
                                    SystemClock::Instance())
                          .status());
    }
    return Status::Ok();
  });
}

int Main(int argc, char** argv) {
  std::vector<FlagSpec> specs = {
      {"database", "", "database URL (a fresh, empty database)"},
      {"workers", "1", "worker processes"},
      {"jobs", "1000", "jobs in the backlog"},
      {"poll-ms", "200", "idle poll interval of each worker"},
      {"pickups", "10", "single jobs enqueued to idle workers to time the pickup"},
  };
  auto flags = Flags::Parse(specs, argc, argv, 1, /*use_environment=*/false);
  if (!flags.ok()) Die("flags", flags.status());
  std::string url = flags->Get("database");
  auto workers = flags->GetInt("workers", 1, 64);
  auto job_count = flags->GetInt("jobs", 1, 1'000'000);
  auto poll_ms = flags->GetInt("poll-ms", 1, 60'000);
  auto pickups = flags->GetInt("pickups", 0, 1000);
  if (url.empty() || !workers.ok() || !job_count.ok() || !poll_ms.ok() || !pickups.ok()) {
    std::fprintf(stderr, "usage: scaleout_queue_bench --database URL --workers N [--jobs M]\n");
    return 2;
  }
  char pattern[] = "/tmp/vidmill-bench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  std::string temp_root = pattern;

  // The backlog, written before any worker exists; the connections are closed
  // again so no child inherits them.
  {
    auto db = storage::OpenDatabase(url);
    if (!db.ok()) Die("opening the database", db.status());
    Status status = Enqueue(**db, static_cast<int>(*job_count), "backlog-");
    if (!status.ok()) Die("enqueuing", status);
  }

  auto start = std::chrono::steady_clock::now();
  std::vector<pid_t> children;
  for (int worker_idx = 0; worker_idx < *workers; ++worker_idx) {
    pid_t pid = fork();
    if (pid == 0) WorkerProcess(url, worker_idx, Milliseconds(*poll_ms), temp_root);
    children.push_back(pid);
  }
  auto db = storage::OpenDatabase(url);
  if (!db.ok()) Die("opening the database", db.status());
  while (CountDone(**db) < *job_count) {
    std::this_thread::sleep_for(Milliseconds(5));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Pickup latency: one job at a time, enqueued while every worker idles.
  // Enqueued at a random point of the workers' poll cycle.
  std::vector<double> pickup_ms;
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int64_t> phase(0, *poll_ms);
  for (int pickup_idx = 0; pickup_idx < *pickups; ++pickup_idx) {
    std::this_thread::sleep_for(Milliseconds(*poll_ms + phase(random)));
    auto enqueued = std::chrono::steady_clock::now();
    Status status = Enqueue(**db, 1, "pickup-" + std::to_string(pickup_idx) + "-");
    if (!status.ok()) Die("enqueuing", status);
    int64_t want = *job_count + pickup_idx + 1;
    while (CountDone(**db) < want) {
      std::this_thread::sleep_for(Milliseconds(2));
    }
    pickup_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - enqueued)
            .count());
  }

  for (pid_t child : children) kill(child, SIGTERM);
  bool clean = true;
  for (pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    clean = clean && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  // Exactly once: every job done, each in one attempt.
  int64_t total = *job_count + *pickups;
  int64_t done = 0;
  int64_t attempts = 0;
  Status status = (*db)->Run([&](storage::Session& s) -> Status {
    ASSIGN_OR_RETURN(storage::Row row,
                     s.QueryOne("SELECT COUNT(*), COALESCE(SUM(attempts), 0) FROM jobs "
                                "WHERE state = 'done'",
                                {}, "count"));
    done = row.Int(0);
    attempts = row.Int(1);
    return Status::Ok();
  });
  if (!status.ok()) Die("checking the jobs", status);
  std::filesystem::remove_all(temp_root);
  if (done != total || attempts != total || !clean) {
    std::fprintf(stderr,
                 "scaleout_queue_bench: %lld of %lld jobs done in %lld attempts; workers %s\n",
                 static_cast<long long>(done), static_cast<long long>(total),
                 static_cast<long long>(attempts), clean ? "exited cleanly" : "failed");
    return 1;
  }
  std::sort(pickup_ms.begin(), pickup_ms.end());
  double p50 = pickup_ms.empty() ? 0 : pickup_ms[pickup_ms.size() / 2];
  double most = pickup_ms.empty() ? 0 : pickup_ms.back();
  std::printf("%-8s %7lld %6lld %8.2f %10.0f %10.0f %10.0f\n",
              (*db)->dialect() == storage::Dialect::kPostgres ? "postgres" : "sqlite",
              static_cast<long long>(*workers), static_cast<long long>(*job_count), seconds,
              *job_count / seconds * 60.0, p50, most);
  return 0;
}

}  // namespace
}  // namespace vidmill

int main(int argc, char** argv) { return vidmill::Main(argc, argv); }
