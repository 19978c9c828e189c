// `vidmill serve`: the API process. Opens the store, wires the routes, starts
// the HTTP server, and (with --workers N) supervises local worker processes.

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "accounts/account_service.h"
#include "api/account_authenticator.h"
#include "api/accounts_routes.h"
#include "api/api.h"
#include "api/media_routes.h"
#include "api/processing_routes.h"
#include "api/videos_routes.h"
#include "app/commands.h"
#include "app/server_flags.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/periodic.h"
#include "common/thread_name.h"
#include "engine/filter_stage.h"
#include "filters/register_filters.h"
#include "http/router.h"
#include "http/server.h"
#include "jobs/handler.h"
#include "jobs/handlers/register_handlers.h"
#include "jobs/queue.h"
#include "jobs/supervisor.h"
#include "storage/blob_store.h"
#include "storage/database.h"

namespace vidmill::app {
namespace {

std::vector<FlagSpec> ServeFlags() {
  std::vector<FlagSpec> specs = StoreFlags();
  std::vector<FlagSpec> more = {
      {"listen", "127.0.0.1:8080", "address to listen on, HOST:PORT (port 0 picks a free one)"},
      {"workers", "1", "worker processes to spawn and supervise (0: API only)"},
      {"token-ttl", "900", "lifetime of issued JWTs, seconds"},
      {"jwt-leeway", "5", "clock skew tolerated when checking exp/nbf, seconds"},
      {"public-url", "", "base of absolute URLs in responses (default: from the Host header)"},
      {"max-upload-bytes", std::to_string(int64_t{50} << 30), "largest accepted upload"},
      {"max-concurrent-uploads", "64",
       "uploads this node streams at once, all accounts together (each holds two threads "
       "and up to 7 MiB); more are answered 503 with Retry-After"},
      {"http-threads", "16", "threads that run request handlers"},
      {"header-timeout", "10", "seconds a client has to send a request header"},
      {"idle-timeout", "60", "seconds an idle keep-alive connection is kept"},
      {"media-sweep-seconds", "3600",
       "seconds between sweeps of the media directory (orphans, stale temporary files)"},
      {"lease-seconds", "30",
       "the job lease of the workers (the supervised ones get it): this node's reaper waits "
       "one after it starts or loses the database (2 to 3600)"},
      {"body-timeout", "30",
       "seconds an upload's body may bring less than 16 KiB (silence, or a slow drip), and a JSON "
       "body's whole time, before it is refused (408)"},
      {"max-connections-per-client", "256",
       "open connections one client address may hold (0: no limit; trusted proxies are not "
       "limited); more are answered 503"},
      {"trusted-proxies", "",
       "reverse proxies whose forwarding header names the client: comma-separated IP "
       "addresses and CIDR ranges (default: none, the header is ignored)"},
      {"forwarded-header", "X-Forwarded-For",
       "the header the trusted proxies write: X-Forwarded-For or Forwarded (RFC 7239); only "
       "that one is read"},
      {"help", "", "print this help", true},
  };
  specs.insert(specs.end(), more.begin(), more.end());
  return specs;
}

}  // namespace

int RunServe(int argc, char** argv) {
  // Request bodies of up to 1 MiB come and go by the thousand under load. A
  // fixed mmap threshold hands each large buffer back to the system when it is
  // freed; glibc's adaptive one raises itself past them, and a burst of
  // bodies would leave over a gigabyte held after its connections close.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  std::vector<FlagSpec> specs = ServeFlags();
  Result<Flags> flags = Flags::Parse(specs, argc, argv, 2);
  if (!flags.ok()) {
    std::fprintf(stderr, "vidmill serve: %s\n", flags.status().message().c_str());
    return 2;
  }
  if (flags->Has("help")) {
    std::printf("usage: vidmill serve [flags]\n%s", Flags::Usage(specs).c_str());
    return 0;
  }
  // Before anything is made on disk: a mistyped --listen must not make the
  // store or print the demo user's password.
  if (Status listen = http::CheckListenSyntax(flags->Get("listen")); !listen.ok()) {
    std::fprintf(stderr, "vidmill serve: %s\n", listen.message().c_str());
    return 2;
  }
  Result<StoreConfig> store = ResolveStore(*flags);
  if (!store.ok()) {
    std::fprintf(stderr, "vidmill serve: %s\n", store.status().message().c_str());
    return 2;
  }
  // The supervised workers take the database URL from the environment they
  // inherit, which keeps a password in it off their command lines (`ps`).
  // Set while this process has one thread.
  setenv("VIDMILL_DATABASE", store->database_url.c_str(), 1);

  // Signals are taken by one watcher thread; every other thread (created
  // below) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  api::ApiContext context;
  context.clock = &SystemClock::Instance();
  auto ttl = flags->GetInt("token-ttl", 1, 86400 * 30);
  auto leeway = flags->GetInt("jwt-leeway", 0, 3600);
  auto max_upload = flags->GetInt("max-upload-bytes", 1, int64_t{1} << 50);
  auto max_uploads = flags->GetInt("max-concurrent-uploads", 1, 100000);
  auto workers = flags->GetInt("workers", 0, 256);
  auto http_threads = flags->GetInt("http-threads", 1, 1024);
  auto header_timeout = flags->GetInt("header-timeout", 1, 3600);
  auto idle_timeout = flags->GetInt("idle-timeout", 1, 3600);
  auto body_timeout = flags->GetInt("body-timeout", 1, 3600);
  auto per_client = flags->GetInt("max-connections-per-client", 0, 1'000'000);
  auto sweep_seconds = flags->GetInt("media-sweep-seconds", 1, 7 * 24 * 3600);
  // Its workers renew their leases every second and need two renewals in one.
  auto lease_seconds = flags->GetInt("lease-seconds", 2, 3600);
  for (const Status& status :
       {ttl.status(), leeway.status(), max_upload.status(), max_uploads.status(), workers.status(),
        http_threads.status(), header_timeout.status(), idle_timeout.status(),
        body_timeout.status(), per_client.status(), sweep_seconds.status(),
        lease_seconds.status()}) {
    if (!status.ok()) {
      std::fprintf(stderr, "vidmill serve: %s\n", status.message().c_str());
      return 2;
    }
  }
  Result<http::TrustedProxies> trusted_proxies =
      http::TrustedProxies::Parse(flags->Get("trusted-proxies"));
  if (!trusted_proxies.ok()) {
    std::fprintf(stderr, "vidmill serve: --trusted-proxies: %s\n",
                 trusted_proxies.status().message().c_str());
    return 2;
  }
  const std::string forwarded_header = flags->Get("forwarded-header");
  const bool rfc7239 = strcasecmp(forwarded_header.c_str(), "Forwarded") == 0;
  if (!rfc7239 && strcasecmp(forwarded_header.c_str(), "X-Forwarded-For") != 0) {
    std::fprintf(stderr,
                 "vidmill serve: --forwarded-header: \"%s\" is neither X-Forwarded-For nor "
                 "Forwarded\n",
                 forwarded_header.c_str());
    return 2;
  }
  context.config.max_upload_bytes = *max_upload;
  context.config.max_concurrent_uploads = static_cast<int>(*max_uploads);
  context.config.media_dir = store->media_dir;

  http::ServerOptions options;
  options.listen = flags->Get("listen");
  options.public_url = flags->Get("public-url");
  while (!options.public_url.empty() && options.public_url.back() == '/') {
    options.public_url.pop_back();
  }
  options.handler_threads = static_cast<int>(*http_threads);
  options.header_timeout_seconds = static_cast<int>(*header_timeout);
  options.idle_timeout_seconds = static_cast<int>(*idle_timeout);
  options.body_chunk_timeout_seconds = static_cast<int>(*body_timeout);
  options.max_connections_per_client = static_cast<int>(*per_client);
  options.trusted_proxies = *trusted_proxies;
  options.rfc7239_forwarded = rfc7239;
  // Set once the database is open; until then no route takes a body.
  std::atomic<api::AccountAuthenticator*> body_checker{nullptr};
  options.check_before_body = [&body_checker](const http::Request& request) -> Status {
    api::AccountAuthenticator* checker = body_checker.load();
    return checker == nullptr ? Status::Ok() : checker->CheckBeforeBody(request);
  };

  // A node whose database is not up yet listens anyway: /healthz answers (the
  // process is alive: an orchestrator's liveness probe must not restart it in
  // a loop), /readyz and every other route answer 503 until it is ready, when
  // the full router replaces this one. The "listening on" line is printed then.
  http::Router starting_router;
  api::RegisterStartingRoutes(starting_router);
  http::Router router;  // the full one, filled once the database is open
  http::Server server(options, &starting_router);
  std::thread early_runner;
  int early_port = 0;
  struct StopEarlyServer {
    http::Server& server;
    std::thread& runner;
    ~StopEarlyServer() {
      if (!runner.joinable()) return;
      server.Stop();
      runner.join();
    }
  } stop_early_server{server, early_runner};

  Result<std::unique_ptr<storage::Database>> db = storage::OpenDatabase(store->database_url);
  if (!db.ok() && db.status().code() == Code::kUnavailable) {
    std::fprintf(stderr, "vidmill serve: %s\n", db.status().message().c_str());
    Result<int> bound = server.Start();
    if (!bound.ok()) {
      std::fprintf(stderr, "vidmill serve: %s\n", bound.status().message().c_str());
      return StartFailureExitCode(bound.status());
    }
    early_port = *bound;
    LogInfo("waiting for the database; meanwhile /healthz answers on port " +
            std::to_string(early_port) + " and every other route 503");
    early_runner = std::thread([&server] { server.Run(); });
    db = OpenDatabaseWhenUp(store->database_url, "vidmill serve");
  }
  if (!db.ok()) {
    std::fprintf(stderr, "vidmill serve: %s\n", db.status().message().c_str());
    return StartFailureExitCode(db.status());
  }
  context.db = db->get();

  accounts::AccountService account_service(
      context.db, context.clock,
      accounts::AccountOptions{*ttl, *leeway, /*max_concurrent_hashes=*/2});
  api::AccountAuthenticator authenticator(&account_service);
  context.accounts = &account_service;
  context.auth = &authenticator;
  Result<std::optional<accounts::DemoUser>> demo = account_service.CreateDemoUserIfEmpty();
  if (!demo.ok()) {
    std::fprintf(stderr, "vidmill serve: cannot create the demo user: %s\n",
                 demo.status().message().c_str());
    return 1;
  }
  if (demo->has_value()) {
    std::printf("vidmill: created demo user %s with password %s\n", (*demo)->email.c_str(),
                (*demo)->password.c_str());
  }
  Result<std::unique_ptr<storage::BlobStore>> blobs = storage::OpenFileBlobStore(store->media_dir);
  if (!blobs.ok()) {
    std::fprintf(stderr, "vidmill serve: %s\n", blobs.status().message().c_str());
    return 1;
  }
  context.blobs = blobs->get();
  if (Status checked = CheckMediaDirMatchesDatabase(*context.db, *context.blobs, store->media_dir);
      !checked.ok()) {
    std::fprintf(stderr, "vidmill serve: %s\n", checked.message().c_str());
    return 2;
  }
  if (Status swept = api::SweepMediaOrphans(context); !swept.ok()) {
    LogWarning("media sweep skipped: " + swept.ToString());
  }

  // The process-video route answers 501 for an own filter this build lacks.
  filters::RegisterBuiltInFilters();
  context.own_filter_available = [](const std::string& name) {
    return engine::HasFilterStage(name);
  };

  api::RegisterHealthRoutes(router, context);
  api::RegisterAccountsRoutes(router, context);
  api::RegisterProcessingRoutes(router, context);
  api::RegisterVideosRoutes(router, context);
  api::RegisterMediaRoutes(router, context);

  Result<int> port = early_port > 0 ? Result<int>(early_port) : server.Start();
  if (!port.ok()) {
    std::fprintf(stderr, "vidmill serve: %s\n", port.status().message().c_str());
    return StartFailureExitCode(port.status());
  }
  // Bound before any worker starts: a second serve on a port in use (a
  // restart while the old process still runs) starts none.
  // Media work happens in worker processes, never here.
  jobs::SupervisorOptions supervisor_options;
  supervisor_options.workers = static_cast<int>(*workers);
  supervisor_options.worker_args = {"--media-dir",     store->media_dir,
                                    "--data-dir",      store->data_dir,
                                    "--lease-seconds", std::to_string(*lease_seconds)};
  jobs::Supervisor supervisor(supervisor_options);
  if (Status started = supervisor.Start(); !started.ok()) {
    std::fprintf(stderr, "vidmill serve: cannot start workers: %s\n", started.message().c_str());
    return 1;
  }

  // From here on the full routes answer (on a node that listened while it
  // waited for the database, in place of the starting ones).
  body_checker.store(&authenticator);
  server.SetRouter(&router);
  const std::string url = server.ListeningUrl();
  std::printf("vidmill: listening on %s\n", url.c_str());
  std::fflush(stdout);
  LogInfo("serving on " + url.substr(url.find("//") + 2) + " with data in " + store->data_dir);
  if (!options.trusted_proxies.empty()) {
    LogInfo(std::string("client addresses from ") +
            (options.rfc7239_forwarded ? "Forwarded" : "X-Forwarded-For") +
            " when the peer is in " +
            options.trusted_proxies.ToString());
  }

  // Expired leases are reaped here too, not only when a worker looks for
  // work: a job whose node died would read as running, its progress and ETA
  // frozen, until some worker is free — a minute and more when every worker
  // is busy. The handlers are registered for their hooks only
  // (the retry note in the video's state); this process runs no job.
  jobs::HandlerRegistry reap_hooks;
  jobs::RegisterJobHandlers(
      reap_hooks, jobs::JobHandlerConfig{
                      .database = context.db, .blobs = context.blobs, .clock = context.clock});
  jobs::QueueOptions reap_options;
  reap_options.lease_duration = std::chrono::seconds(*lease_seconds);
  jobs::Queue reap_queue(*context.db, *context.clock, reap_options);
  reap_hooks.InstallHooks(reap_queue);
  PeriodicTask reaper(std::chrono::seconds(5), [&reap_queue] {
    Result<int> reaped = reap_queue.ReapExpiredWhenDue();
    if (!reaped.ok() && reaped.status().code() != Code::kUnavailable) {
      LogWarning("reaping expired job leases: " + reaped.status().ToString());
    }
  });

  // The media sweep again while serving, not only at start-up: what a crash
  // or a cancelled job leaves behind would otherwise stay until the next
  // restart.
  PeriodicTask sweeper(std::chrono::seconds(*sweep_seconds), [&context] {
    if (Status swept = api::SweepMediaOrphans(context); !swept.ok()) {
      LogWarning("media sweep skipped: " + swept.ToString());
    }
  });

  std::thread signal_watcher([&server, signals] {
    NameThisThread("vm-signals");
    int received = 0;
    sigwait(&signals, &received);
    LogInfo(std::string("received ") + (received == SIGTERM ? "SIGTERM" : "SIGINT") +
            "; finishing in-flight requests");
    server.Stop();
  });
  if (early_runner.joinable()) {
    early_runner.join();  // serving since the wait for the database
  } else {
    server.Run();
  }
  // Run() returns only after Stop(); wake the watcher if Stop came from elsewhere.
  pthread_kill(signal_watcher.native_handle(), SIGTERM);
  signal_watcher.join();
  sweeper.Stop();
  reaper.Stop();
  supervisor.Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace vidmill::app
