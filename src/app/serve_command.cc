// `vidmill serve`: the API process. Opens the store, wires the routes, starts
// the HTTP server, and (with --workers N) supervises local worker processes.

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
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

// What the flags of `vidmill serve` set, read and checked.
struct ServeSettings {
  StoreConfig store;
  // All but check_before_body, which the Listener sets: it asks the
  // authenticator, made once the database is open.
  http::ServerOptions server;
  int64_t workers = 0;
  int64_t token_ttl = 0;
  int64_t jwt_leeway = 0;
  int64_t max_upload_bytes = 0;
  int64_t max_concurrent_uploads = 0;
  int64_t media_sweep_seconds = 0;
  int64_t lease_seconds = 0;
};

// Prints serve's one-line error for `status`; returns `exit_code`.
int Fail(const Status& status, int exit_code) {
  std::fprintf(stderr, "vidmill serve: %s\n", status.message().c_str());
  return exit_code;
}

// Parses the command line, answers --help, and resolves the store (making its
// directories). Returns the exit code when serve ends here.
std::optional<int> ParseFlagsAndResolveStore(int argc, char** argv, Flags& flags,
                                             StoreConfig& store) {
  std::vector<FlagSpec> specs = ServeFlags();
  Result<Flags> parsed = Flags::Parse(specs, argc, argv, 2);
  if (!parsed.ok()) return Fail(parsed.status(), 2);
  if (parsed->Has("help")) {
    std::printf("usage: vidmill serve [flags]\n%s", Flags::Usage(specs).c_str());
    return 0;
  }
  // Before anything is made on disk: a mistyped --listen must not make the
  // store or print the demo user's password.
  if (Status listen = http::CheckListenSyntax(parsed->Get("listen")); !listen.ok()) {
    return Fail(listen, 2);
  }
  Result<StoreConfig> resolved = ResolveStore(*parsed);
  if (!resolved.ok()) return Fail(resolved.status(), 2);
  flags = std::move(parsed).value();
  store = std::move(resolved).value();
  return std::nullopt;
}

// What is set while this process has one thread, for every thread and
// process it makes later to inherit. Returns the signals that stop serve.
sigset_t PrepareForThreads(const StoreConfig& store) {
  // The supervised workers take the database URL from the environment they
  // inherit, which keeps a password in it off their command lines (`ps`).
  setenv("VIDMILL_DATABASE", store.database_url.c_str(), 1);

  // Signals are taken by one watcher thread; every other thread inherits the
  // blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// --public-url is the base of every absolute URL the responses hand out, so
// it must be one: http:// or https://, a host (a name, a dotted quad or a
// bracketed IPv6 address) with an optional port, and at most a path. Without
// it a client following uploadMediaUrl gets "video.example.com/media/…", and
// credentials in it would be handed to every client. The scheme and host are
// lower-cased, as clients write them when they sign a request's URL.
Result<std::string> NormalizePublicUrl(std::string_view url) {
  if (url.empty()) return std::string();
  const std::string shown = "'" + std::string(url) + "'";
  const auto refuse = [&](const std::string& why) {
    return Status::InvalidArgument(shown + " " + why +
                                   "; give an http:// or https:// URL such as "
                                   "https://video.example.com");
  };
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '?' || c == '#') {
      return refuse("holds white space, a control character, a query or a fragment");
    }
  }
  std::string lowered(url);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t scheme_end = 0;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (lowered.starts_with(scheme)) scheme_end = scheme.size();
  }
  if (scheme_end == 0) return refuse("is not an http:// or https:// URL");
  const size_t path = std::min(url.find('/', scheme_end), url.size());
  const std::string_view authority = url.substr(scheme_end, path - scheme_end);
  if (authority.find('@') != std::string_view::npos) return refuse("holds credentials");
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return refuse("opens an IPv6 address it does not close");
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return refuse("has something after its IPv6 address");
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return refuse("has no host");
  if (authority.size() > host.size()) {
    int number = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || error != std::errc() || end != port.data() + port.size() || number < 1 ||
        number > 65535) {
      return refuse("has a port that is not a number from 1 to 65535");
    }
  }
  std::string normalized = lowered.substr(0, path) + std::string(url.substr(path));
  while (!normalized.empty() && normalized.back() == '/') normalized.pop_back();
  return normalized;
}

// Reads the flags that set limits, timeouts, the job lease and the client
// address into `settings`. Returns the exit code (2) when one is wrong.
std::optional<int> ReadServeSettings(const Flags& flags, ServeSettings& settings) {
  auto ttl = flags.GetInt("token-ttl", 1, 86400 * 30);
  auto leeway = flags.GetInt("jwt-leeway", 0, 3600);
  auto max_upload = flags.GetInt("max-upload-bytes", 1, int64_t{1} << 50);
  auto max_uploads = flags.GetInt("max-concurrent-uploads", 1, 100000);
  auto workers = flags.GetInt("workers", 0, 256);
  auto http_threads = flags.GetInt("http-threads", 1, 1024);
  auto header_timeout = flags.GetInt("header-timeout", 1, 3600);
  auto idle_timeout = flags.GetInt("idle-timeout", 1, 3600);
  auto body_timeout = flags.GetInt("body-timeout", 1, 3600);
  auto per_client = flags.GetInt("max-connections-per-client", 0, 1'000'000);
  auto sweep_seconds = flags.GetInt("media-sweep-seconds", 1, 7 * 24 * 3600);
  // Its workers renew their leases every second and need two renewals in one.
  auto lease_seconds = flags.GetInt("lease-seconds", 2, 3600);
  for (const Status& status :
       {ttl.status(), leeway.status(), max_upload.status(), max_uploads.status(), workers.status(),
        http_threads.status(), header_timeout.status(), idle_timeout.status(),
        body_timeout.status(), per_client.status(), sweep_seconds.status(),
        lease_seconds.status()}) {
    if (!status.ok()) return Fail(status, 2);
  }
  Result<http::TrustedProxies> trusted_proxies =
      http::TrustedProxies::Parse(flags.Get("trusted-proxies"));
  if (!trusted_proxies.ok()) {
    std::fprintf(stderr, "vidmill serve: --trusted-proxies: %s\n",
                 trusted_proxies.status().message().c_str());
    return 2;
  }
  const std::string forwarded_header = flags.Get("forwarded-header");
  const bool rfc7239 = strcasecmp(forwarded_header.c_str(), "Forwarded") == 0;
  if (!rfc7239 && strcasecmp(forwarded_header.c_str(), "X-Forwarded-For") != 0) {
    std::fprintf(stderr,
                 "vidmill serve: --forwarded-header: \"%s\" is neither X-Forwarded-For nor "
                 "Forwarded\n",
                 forwarded_header.c_str());
    return 2;
  }
  settings.workers = *workers;
  settings.token_ttl = *ttl;
  settings.jwt_leeway = *leeway;
  settings.max_upload_bytes = *max_upload;
  settings.max_concurrent_uploads = *max_uploads;
  settings.media_sweep_seconds = *sweep_seconds;
  settings.lease_seconds = *lease_seconds;

  http::ServerOptions& options = settings.server;
  options.listen = flags.Get("listen");
  Result<std::string> public_url = NormalizePublicUrl(flags.Get("public-url"));
  if (!public_url.ok()) {
    std::fprintf(stderr, "vidmill serve: --public-url: %s\n",
                 public_url.status().message().c_str());
    return 2;
  }
  options.public_url = *public_url;
  options.handler_threads = static_cast<int>(*http_threads);
  options.header_timeout_seconds = static_cast<int>(*header_timeout);
  options.idle_timeout_seconds = static_cast<int>(*idle_timeout);
  options.body_chunk_timeout_seconds = static_cast<int>(*body_timeout);
  options.max_connections_per_client = static_cast<int>(*per_client);
  options.trusted_proxies = *trusted_proxies;
  options.rfc7239_forwarded = rfc7239;
  return std::nullopt;
}

// The routes' context as the flags set it; the store's parts join it once it
// is open.
api::ApiContext ApiContextFor(const ServeSettings& settings) {
  api::ApiContext context;
  context.clock = &SystemClock::Instance();
  context.config.max_upload_bytes = settings.max_upload_bytes;
  context.config.max_concurrent_uploads = static_cast<int>(settings.max_concurrent_uploads);
  context.config.media_dir = settings.store.media_dir;
  return context;
}

// The HTTP server and the two routers it answers with. A node whose database
// is not up yet listens anyway: /healthz answers (the process is alive: an
// orchestrator's liveness probe must not restart it in a loop), /readyz and
// every other route answer 503 until it is ready, when the full router
// replaces the starting one. The "listening on" line is printed then.
// Made in place and never moved: the server's body check points into it.
struct Listener {
  explicit Listener(http::ServerOptions options);
  // Stops a server that runs since the wait for the database, when serve ends
  // before it serves the full routes.
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Set once the database is open; until then no route takes a body.
  std::atomic<api::AccountAuthenticator*> body_checker{nullptr};
  http::Router starting_router = StartingRouter();
  http::Router router;  // the full one, filled once the database is open
  http::Server server;
  std::thread early_runner;  // runs `server` when it listened while the database was away
  int early_port = 0;

 private:
  static http::Router StartingRouter();
  static http::ServerOptions WithBodyCheck(http::ServerOptions options,
                                           const std::atomic<api::AccountAuthenticator*>& checker);
};

Listener::Listener(http::ServerOptions options)
    : server(WithBodyCheck(std::move(options), body_checker), &starting_router) {}

Listener::~Listener() {
  if (!early_runner.joinable()) return;
  server.Stop();
  early_runner.join();
}

http::Router Listener::StartingRouter() {
  http::Router router;
  api::RegisterStartingRoutes(router);
  return router;
}

http::ServerOptions Listener::WithBodyCheck(
    http::ServerOptions options, const std::atomic<api::AccountAuthenticator*>& checker) {
  options.check_before_body = [&checker](const http::Request& request) -> Status {
    api::AccountAuthenticator* authenticator = checker.load();
    return authenticator == nullptr ? Status::Ok() : authenticator->CheckBeforeBody(request);
  };
  return options;
}

// Opens the database at `url` into `database`. One that is unavailable is
// waited for, and meanwhile `listener` listens with the starting routes on its
// early runner. Returns the exit code when serve ends here.
std::optional<int> OpenDatabaseWhileStarting(const std::string& url, Listener& listener,
                                             std::unique_ptr<storage::Database>& database) {
  Result<std::unique_ptr<storage::Database>> db = storage::OpenDatabase(url);
  if (!db.ok() && db.status().code() == Code::kUnavailable) {
    std::fprintf(stderr, "vidmill serve: %s\n", db.status().message().c_str());
    Result<int> bound = listener.server.Start();
    if (!bound.ok()) return Fail(bound.status(), StartFailureExitCode(bound.status()));
    listener.early_port = *bound;
    LogInfo("waiting for the database; meanwhile /healthz answers on port " +
            std::to_string(listener.early_port) + " and every other route 503");
    listener.early_runner = std::thread([&server = listener.server] { server.Run(); });
    db = OpenDatabaseWhenUp(url, "vidmill serve");
  }
  if (!db.ok()) return Fail(db.status(), StartFailureExitCode(db.status()));
  database = std::move(db).value();
  return std::nullopt;
}

// What the full routes serve from, once it is open. Made in place and never
// moved: its parts point at each other.
struct Store {
  std::unique_ptr<storage::Database> db;
  std::optional<accounts::AccountService> accounts;
  std::optional<api::AccountAuthenticator> authenticator;
  std::unique_ptr<storage::BlobStore> blobs;
};

// Opens the store into `store` and points `context` at it: the database (see
// OpenDatabaseWhileStarting), the accounts with a demo user when there is
// none, and the media directory, checked against the database and swept.
// Returns the exit code when serve ends here.
std::optional<int> OpenStoreWhileStarting(const ServeSettings& settings, Listener& listener,
                                          Store& store, api::ApiContext& context) {
  if (std::optional<int> exit_code =
          OpenDatabaseWhileStarting(settings.store.database_url, listener, store.db)) {
    return exit_code;
  }
  context.db = store.db.get();

  store.accounts.emplace(context.db, context.clock,
                         accounts::AccountOptions{settings.token_ttl, settings.jwt_leeway,
                                                  /*max_concurrent_hashes=*/2});
  store.authenticator.emplace(&*store.accounts);
  context.accounts = &*store.accounts;
  context.auth = &*store.authenticator;
  Result<std::optional<accounts::DemoUser>> demo = store.accounts->CreateDemoUserIfEmpty();
  if (!demo.ok()) {
    std::fprintf(stderr, "vidmill serve: cannot create the demo user: %s\n",
                 demo.status().message().c_str());
    return 1;
  }
  if (demo->has_value()) {
    std::printf("vidmill: created demo user %s with password %s\n", (*demo)->email.c_str(),
                (*demo)->password.c_str());
  }
  Result<std::unique_ptr<storage::BlobStore>> blobs =
      storage::OpenFileBlobStore(settings.store.media_dir);
  if (!blobs.ok()) return Fail(blobs.status(), 1);
  store.blobs = std::move(blobs).value();
  context.blobs = store.blobs.get();
  if (Status checked =
          CheckMediaDirMatchesDatabase(*context.db, *context.blobs, settings.store.media_dir);
      !checked.ok()) {
    return Fail(checked, 2);
  }
  if (Status swept = api::SweepMediaOrphans(context); !swept.ok()) {
    LogWarning("media sweep skipped: " + swept.ToString());
  }
  return std::nullopt;
}

// Fills the full router with every route of the API.
void RegisterRoutes(api::ApiContext& context, http::Router& router) {
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
}

// Binds the server's port, unless it listens already (since the wait for the
// database). Returns the port.
Result<int> BindUnlessListening(Listener& listener) {
  return listener.early_port > 0 ? Result<int>(listener.early_port) : listener.server.Start();
}

// The supervised workers: how many, and the store and lease they are given.
jobs::SupervisorOptions WorkerOptions(const ServeSettings& settings) {
  jobs::SupervisorOptions options;
  options.workers = static_cast<int>(settings.workers);
  options.worker_args = {"--media-dir",     settings.store.media_dir,
                         "--data-dir",      settings.store.data_dir,
                         "--lease-seconds", std::to_string(settings.lease_seconds)};
  return options;
}

// From here on the full routes answer (on a node that listened while it
// waited for the database, in place of the starting ones). Says where.
void ServeFullRoutes(Listener& listener, api::AccountAuthenticator& authenticator,
                     const ServeSettings& settings) {
  listener.body_checker.store(&authenticator);
  listener.server.SetRouter(&listener.router);
  const std::string url = listener.server.ListeningUrl();
  std::printf("vidmill: listening on %s\n", url.c_str());
  std::fflush(stdout);
  LogInfo("serving on " + url.substr(url.find("//") + 2) + " with data in " +
          settings.store.data_dir);
  const http::ServerOptions& options = settings.server;
  if (!options.trusted_proxies.empty()) {
    LogInfo(std::string("client addresses from ") +
            (options.rfc7239_forwarded ? "Forwarded" : "X-Forwarded-For") +
            " when the peer is in " + options.trusted_proxies.ToString());
  }
}

// What serve does in the background while it serves: the reaper of expired
// job leases and the media sweeper. Made in place and never moved: the tasks
// point into it. `context` must outlive it.
class BackgroundTasks {
 public:
  BackgroundTasks(api::ApiContext& context, const ServeSettings& settings);
  BackgroundTasks(const BackgroundTasks&) = delete;
  BackgroundTasks& operator=(const BackgroundTasks&) = delete;

  // Waits for runs in progress; none starts after it returns.
  void Stop();

 private:
  jobs::HandlerRegistry reap_hooks_;
  std::optional<jobs::Queue> reap_queue_;
  std::optional<PeriodicTask> reaper_;
  std::optional<PeriodicTask> sweeper_;
};

BackgroundTasks::BackgroundTasks(api::ApiContext& context, const ServeSettings& settings) {
  // Expired leases are reaped here too, not only when a worker looks for
  // work: a job whose node died would read as running, its progress and ETA
  // frozen, until some worker is free — a minute and more when every worker
  // is busy. The handlers are registered for their hooks only
  // (the retry note in the video's state); this process runs no job.
  jobs::RegisterJobHandlers(
      reap_hooks_, jobs::JobHandlerConfig{
                       .database = context.db, .blobs = context.blobs, .clock = context.clock});
  jobs::QueueOptions reap_options;
  reap_options.lease_duration = std::chrono::seconds(settings.lease_seconds);
  jobs::Queue& reap_queue = reap_queue_.emplace(*context.db, *context.clock, reap_options);
  reap_hooks_.InstallHooks(reap_queue);
  reaper_.emplace(std::chrono::seconds(5), [&reap_queue] {
    Result<int> reaped = reap_queue.ReapExpiredWhenDue();
    if (!reaped.ok() && reaped.status().code() != Code::kUnavailable) {
      LogWarning("reaping expired job leases: " + reaped.status().ToString());
    }
  });

  // The media sweep again while serving, not only at start-up: what a crash
  // or a cancelled job leaves behind would otherwise stay until the next
  // restart.
  sweeper_.emplace(std::chrono::seconds(settings.media_sweep_seconds), [&context] {
    if (Status swept = api::SweepMediaOrphans(context); !swept.ok()) {
      LogWarning("media sweep skipped: " + swept.ToString());
    }
  });
}

void BackgroundTasks::Stop() {
  sweeper_->Stop();
  reaper_->Stop();
}

// Serves until SIGTERM or SIGINT (one of `stop_signals`, blocked in every
// thread) or another Stop, and returns once in-flight requests have finished.
void RunUntilSignalled(Listener& listener, const sigset_t& stop_signals) {
  http::Server& server = listener.server;
  std::thread signal_watcher([&server, signals = stop_signals] {
    NameThisThread("vm-signals");
    int received = 0;
    sigwait(&signals, &received);
    LogInfo(std::string("received ") + (received == SIGTERM ? "SIGTERM" : "SIGINT") +
            "; finishing in-flight requests");
    server.Stop();
  });
  if (listener.early_runner.joinable()) {
    listener.early_runner.join();  // serving since the wait for the database
  } else {
    server.Run();
  }
  // Run() returns only after Stop(); wake the watcher if Stop came from elsewhere.
  pthread_kill(signal_watcher.native_handle(), SIGTERM);
  signal_watcher.join();
}

}  // namespace

int RunServe(int argc, char** argv) {
  // Request bodies of up to 1 MiB come and go by the thousand under load. A
  // fixed mmap threshold hands each large buffer back to the system when it is
  // freed; glibc's adaptive one raises itself past them, and a burst of
  // bodies would leave over a gigabyte held after its connections close.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  Flags flags;
  ServeSettings settings;
  if (std::optional<int> exit_code = ParseFlagsAndResolveStore(argc, argv, flags, settings.store)) {
    return *exit_code;
  }
  const sigset_t stop_signals = PrepareForThreads(settings.store);
  if (std::optional<int> exit_code = ReadServeSettings(flags, settings)) {
    return *exit_code;
  }

  api::ApiContext context = ApiContextFor(settings);
  Listener listener(settings.server);
  Store store;
  if (std::optional<int> exit_code = OpenStoreWhileStarting(settings, listener, store, context)) {
    return *exit_code;
  }
  RegisterRoutes(context, listener.router);

  if (Result<int> port = BindUnlessListening(listener); !port.ok()) {
    return Fail(port.status(), StartFailureExitCode(port.status()));
  }
  // Bound before any worker starts: a second serve on a port in use (a
  // restart while the old process still runs) starts none.
  // Media work happens in worker processes, never here.
  jobs::Supervisor supervisor(WorkerOptions(settings));
  if (Status started = supervisor.Start(); !started.ok()) {
    std::fprintf(stderr, "vidmill serve: cannot start workers: %s\n", started.message().c_str());
    return 1;
  }

  ServeFullRoutes(listener, *store.authenticator, settings);
  BackgroundTasks background(context, settings);
  RunUntilSignalled(listener, stop_signals);
  background.Stop();
  supervisor.Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace vidmill::app
