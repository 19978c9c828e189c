// Scale-out through the real binaries: two `vidmill serve --workers 0` API
// nodes and separate `vidmill worker` processes on one store (database and
// media directory), with faults injected — kill -9 of a worker in the middle of
// an ingestion, a PostgreSQL restart, an API node dying while an upload
// streams to it. Each asserts that nothing is lost or done twice: every upload
// that was acknowledged is ingested by exactly one job that finished once.
//
// The store is the first harness's (SQLite, or a scratch PostgreSQL database
// when VIDMILL_TEST_POSTGRES is set); the restart test uses a private cluster.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.h"
#include "storage/scratch_database.h"
#include "tests/support/http_client.h"
#include "tests/support/server_harness.h"

namespace vidmill::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr const char* kPassword = "correct horse battery staple";

std::string Text(const boost::json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : boost::json::serialize(value);
}

// A clip made by ffmpeg's test source, returned as bytes.
std::string MakeClip(const std::string& dir, const std::string& name, double seconds_long,
                     const std::string& size) {
  std::string path = dir + "/" + name;
  CommandResult made = RunShell(
      "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=" + size + ":rate=25 -t " +
      std::to_string(seconds_long) + " -pix_fmt yuv420p -c:v libx264 -preset ultrafast " + path);
  EXPECT_EQ(made.exit_code, 0) << made.err;
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A `vidmill worker` on a given store; stderr to `log_path`. SIGKILLed on
// destruction if still running.
class WorkerProcess {
 public:
  WorkerProcess(const std::string& database_url, const std::string& data_dir,
                const std::string& media_dir, const std::string& log_path)
      : log_path_(log_path) {
    std::vector<std::string> args = {VIDMILL_BINARY, "worker",        "--database",
                                     database_url,   "--data-dir",    data_dir,
                                     "--media-dir",  media_dir,       "--poll-ms",
                                     "50",           "--lease-seconds", "2",
                                     "--heartbeat-ms", "200"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
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
  bool Running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string Log() const {
    std::ifstream in(log_path_);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// A client of one API node, logged in as `email`.
class ApiClient {
 public:
  // Logs in as `email` (created with CreateUser).
  ApiClient(int port, const std::string& email) : http_(port) {
    HttpResponse response =
        http_.Send("GET", "/accounts/v1/token", {{"Authorization", BasicAuth(email, kPassword)}});
    EXPECT_EQ(response.status, 200) << response.body;
    boost::json::value doc = response.Json();
    if (doc.is_object() && doc.as_object().contains("jwtToken")) {
      token_ = Text(doc.as_object()["jwtToken"]);
    }
  }
  // A client of another node, reusing a token.
  struct Token {
    std::string value;
  };
  ApiClient(int port, Token token) : http_(port), token_(std::move(token.value)) {}

  const std::string& token() const { return token_; }
  HttpClient& http() { return http_; }

  std::string CreateVideo() {
    HttpResponse response =
        http_.SendJson("PUT", "/videos/v1/video", boost::json::object{{"name", "clip"}}, token_);
    EXPECT_EQ(response.status, 200) << response.body;
    boost::json::value doc = response.Json();
    return doc.is_object() && doc.as_object().contains("videoId")
               ? Text(doc.as_object()["videoId"])
               : "";
  }

  HttpResponse Upload(const std::string& video_id, const std::string& bytes) {
    return http_.Send("POST", "/media/v1/upload/" + video_id,
                      {{"Authorization", "Bearer " + token_},
                       {"Content-Type", "multipart/form-data; boundary=" + Boundary()}},
                      MultipartBody(bytes));
  }

  // "DONE", "FAILED", … or "" when the state cannot be read.
  std::string IngestionStatus(const std::string& video_id) {
    HttpResponse response =
        http_.Get("/videos/v1/check-ingest-video-progress/" + video_id, token_);
    boost::json::value doc = response.Json();
    if (response.status != 200 || !doc.is_object()) return "";
    const boost::json::value* state = doc.as_object().if_contains("ingestionState");
    if (state == nullptr || !state->is_object()) return "";
    const boost::json::value* status = state->as_object().if_contains("ingestionStatus");
    return status ? Text(*status) : "";
  }

  // Polls until the ingestion is DONE or FAILED; returns the last status.
  std::string WaitForIngestion(const std::string& video_id, seconds limit = seconds(120)) {
    auto deadline = steady_clock::now() + limit;
    std::string status;
    while (steady_clock::now() < deadline) {
      status = IngestionStatus(video_id);
      if (status == "DONE" || status == "FAILED") break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return status;
  }

  static std::string Boundary() { return "vidmill-scaleout-boundary-41c2"; }
  static std::string MultipartBody(const std::string& bytes) {
    return "--" + Boundary() +
           "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n"
           "Content-Type: video/mp4\r\n\r\n" +
           bytes + "\r\n--" + Boundary() + "--\r\n";
  }

 private:
  HttpClient http_;
  std::string token_;
};

void CreateUser(const std::string& database_url, const std::string& data_dir,
                const std::string& email) {
  CommandResult added = RunProgram({VIDMILL_BINARY, "user", "add", "--email", email, "--password",
                                    kPassword, "--team", "team-" + email, "--database",
                                    database_url, "--data-dir", data_dir});
  ASSERT_EQ(added.exit_code, 0) << added.err << added.out;
}

// What the jobs table says about the ingestion of `video_ids`.
struct JobSummary {
  int64_t jobs = 0;       // ingestion jobs of these videos
  int64_t done = 0;       // … in state done
  int64_t attempts = 0;   // their attempts, summed
  int64_t videos = 0;     // distinct videos with a job
};

JobSummary SummariseJobs(const std::string& database_url, const std::vector<std::string>& ids) {
  JobSummary summary;
  auto db = storage::OpenDatabase(database_url);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return summary;
  for (const std::string& id : ids) {
    Status status = (*db)->Run([&](storage::Session& s) -> Status {
      ASSIGN_OR_RETURN(storage::Rows rows,
                       s.Query("SELECT state, attempts FROM jobs WHERE video_id = ?", {id}));
      summary.videos += rows.empty() ? 0 : 1;
      for (const storage::Row& row : rows) {
        ++summary.jobs;
        summary.done += row.Text(0) == "done" ? 1 : 0;
        summary.attempts += row.Int(1);
      }
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  return summary;
}

// Two API nodes (no local workers) on one store, and `workers` worker
// processes. Node A owns the store (its harness made it); node B is pointed at
// it with --database and --media-dir.
class Deployment {
 public:
  explicit Deployment(int workers, std::vector<std::string> store_flags = {}) {
    ServerHarness::Options a_options;
    a_options.workers = 0;
    a_options.extra_flags = store_flags;
    a_ = std::make_unique<ServerHarness>(a_options);
    database_url_ = a_->database_url();
    for (size_t idx = 0; idx + 1 < store_flags.size(); ++idx) {
      if (store_flags[idx] == "--database") database_url_ = store_flags[idx + 1];
    }
    media_dir_ = a_->data_dir() + "/media";
    ServerHarness::Options b_options;
    b_options.workers = 0;
    b_options.extra_flags = {"--database", database_url_, "--media-dir", media_dir_};
    b_ = std::make_unique<ServerHarness>(b_options);
    for (int worker_idx = 0; worker_idx < workers; ++worker_idx) {
      workers_.push_back(std::make_unique<WorkerProcess>(
          database_url_, a_->data_dir(), media_dir_,
          a_->data_dir() + "/worker-" + std::to_string(worker_idx) + ".log"));
    }
  }
  ~Deployment() {
    if (::testing::Test::HasFailure()) {
      for (auto& worker : workers_) {
        std::string log = worker->Log();
        if (log.size() > 8000) log = "…" + log.substr(log.size() - 8000);
        std::fprintf(stderr, "---- worker %d log ----\n%s\n", worker->pid(), log.c_str());
      }
    }
  }

  ServerHarness& a() { return *a_; }
  ServerHarness& b() { return *b_; }
  const std::string& database_url() const { return database_url_; }
  std::vector<std::unique_ptr<WorkerProcess>>& workers() { return workers_; }

 private:
  std::unique_ptr<ServerHarness> a_;
  std::unique_ptr<ServerHarness> b_;
  std::string database_url_;
  std::string media_dir_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
};

TEST(ScaleOutHttpTest, TwoApiNodesAndThreeWorkersIngestThirtyUploadsOnce) {
  Deployment deployment(3);
  ASSERT_GT(deployment.a().port(), 0);
  ASSERT_GT(deployment.b().port(), 0);
  CreateUser(deployment.database_url(), deployment.a().data_dir(), "ops@example.com");
  ApiClient a(deployment.a().port(), "ops@example.com");
  ASSERT_FALSE(a.token().empty());
  // A token issued by one node is honoured by the other: nothing is node-local.
  ApiClient b(deployment.b().port(), ApiClient::Token{a.token()});
  std::string clip = MakeClip(deployment.a().data_dir(), "tiny.mp4", 0.4, "96x64");
  ASSERT_FALSE(clip.empty());

  constexpr int kUploads = 30;
  std::vector<std::string> ids;
  for (int upload_idx = 0; upload_idx < kUploads; ++upload_idx) {
    ApiClient& node = upload_idx % 2 == 0 ? a : b;
    std::string id = node.CreateVideo();
    ASSERT_FALSE(id.empty());
    HttpResponse response = node.Upload(id, clip);
    ASSERT_EQ(response.status, 200) << response.body;
    ids.push_back(id);
  }
  for (size_t idx = 0; idx < ids.size(); ++idx) {
    ApiClient& node = idx % 2 == 0 ? b : a;  // read through the other node
    EXPECT_EQ(node.WaitForIngestion(ids[idx]), "DONE") << ids[idx];
  }
  JobSummary jobs = SummariseJobs(deployment.database_url(), ids);
  EXPECT_EQ(jobs.videos, kUploads);
  EXPECT_EQ(jobs.jobs, kUploads);      // one ingestion job per upload
  EXPECT_EQ(jobs.done, kUploads);
  EXPECT_EQ(jobs.attempts, kUploads);  // each done in its first attempt
  for (auto& worker : deployment.workers()) {
    EXPECT_TRUE(worker->Running());
  }
}

TEST(ScaleOutHttpTest, AWorkerKilledMidIngestionIsReplacedAndTheVideoIngestedOnce) {
  Deployment deployment(2);
  CreateUser(deployment.database_url(), deployment.a().data_dir(), "ops@example.com");
  ApiClient a(deployment.a().port(), "ops@example.com");
  // Long enough that ingestion (analysis, thumbnails, web preview) takes a
  // while: the worker is killed in the middle of it.
  std::string clip = MakeClip(deployment.a().data_dir(), "long.mp4", 20, "320x240");
  std::string id = a.CreateVideo();
  ASSERT_EQ(a.Upload(id, clip).status, 200);

  auto db = storage::OpenDatabase(deployment.database_url());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  std::string owner;
  auto deadline = steady_clock::now() + seconds(60);
  while (owner.empty() && steady_clock::now() < deadline) {
    ASSERT_TRUE((*db)->Run([&](storage::Session& s) -> Status {
                       ASSIGN_OR_RETURN(storage::Rows rows,
                                        s.Query("SELECT lease_owner FROM jobs WHERE video_id = ? "
                                                "AND state = 'running' AND progress > 0",
                                                {id}));
                       if (!rows.empty()) owner = rows[0].Text(0);
                       return Status::Ok();
                     }).ok());
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_FALSE(owner.empty()) << "the ingestion never showed progress";
  // Owner names are "<host>:<pid>:<slot>".
  size_t slot_colon = owner.rfind(':');
  size_t pid_colon = owner.rfind(':', slot_colon - 1);
  pid_t pid = std::atoi(owner.substr(pid_colon + 1, slot_colon - pid_colon - 1).c_str());
  WorkerProcess* victim = nullptr;
  for (auto& worker : deployment.workers()) {
    if (worker->pid() == pid) victim = worker.get();
  }
  ASSERT_NE(victim, nullptr) << "no worker has pid " << pid << " (owner " << owner << ")";
  victim->Kill();

  EXPECT_EQ(a.WaitForIngestion(id), "DONE");
  JobSummary jobs = SummariseJobs(deployment.database_url(), {id});
  EXPECT_EQ(jobs.jobs, 1);
  EXPECT_EQ(jobs.done, 1);
  EXPECT_EQ(jobs.attempts, 2);  // the killed attempt, then the survivor's
}

TEST(ScaleOutHttpTest, AnUploadCutOffByItsNodeDyingPublishesNothingAndTheRetryWorks) {
  Deployment deployment(1);
  CreateUser(deployment.database_url(), deployment.a().data_dir(), "ops@example.com");
  ApiClient a(deployment.a().port(), "ops@example.com");
  std::string clip = MakeClip(deployment.a().data_dir(), "clip.mp4", 2, "160x120");
  std::string id = a.CreateVideo();
  ASSERT_FALSE(id.empty());

  // Half an upload to node B, by hand, then B dies.
  std::string body = ApiClient::MultipartBody(clip);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(deployment.b().port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  std::string head = "POST /media/v1/upload/" + id +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + a.token() +
                     "\r\nContent-Type: multipart/form-data; boundary=" + ApiClient::Boundary() +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  std::string half = head + body.substr(0, body.size() / 2);
  ASSERT_EQ(send(fd, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()));
  std::this_thread::sleep_for(milliseconds(300));  // the node is streaming it to disk
  deployment.b().Kill();
  close(fd);

  // Nothing was published: no original to download, the video not uploaded.
  HttpResponse original = a.http().Get("/media/v1/download/original/" + id, a.token());
  EXPECT_EQ(original.status, 404) << original.body;
  EXPECT_NE(a.IngestionStatus(id), "DONE");

  // The client retries on the other node.
  HttpResponse retried = a.Upload(id, clip);
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(a.WaitForIngestion(id), "DONE");
  original = a.http().Get("/media/v1/download/original/" + id, a.token());
  EXPECT_EQ(original.status, 200);
  EXPECT_EQ(original.body.size(), clip.size());
  EXPECT_TRUE(original.body == clip);
  JobSummary jobs = SummariseJobs(deployment.database_url(), {id});
  EXPECT_EQ(jobs.done, 1);
}

// A node started with the wrong --media-dir (a typo, or the shared mount
// missing) would accept uploads into its own directory that no other node
// sees. Once the store holds an upload, such a node refuses to start and says
// why.
TEST(ScaleOutHttpTest, ANodeWhoseMediaDirLacksTheStoresUploadsRefusesToStart) {
  Deployment deployment(1);
  CreateUser(deployment.database_url(), deployment.a().data_dir(), "ops@example.com");
  ApiClient a(deployment.a().port(), "ops@example.com");
  std::string clip = MakeClip(deployment.a().data_dir(), "clip.mp4", 0.4, "96x64");
  std::string id = a.CreateVideo();
  ASSERT_EQ(a.Upload(id, clip).status, 200);
  ASSERT_EQ(a.WaitForIngestion(id), "DONE");

  const std::string wrong_media = deployment.a().data_dir() + "/wrong-media";
  const std::string node_dir = deployment.a().data_dir() + "/node-c";
  const std::vector<std::string> store = {"--database", deployment.database_url(), "--media-dir",
                                          wrong_media, "--data-dir", node_dir};
  for (std::string command : {"serve", "worker"}) {
    // `timeout` ends a node that (wrongly) starts; 124 is its exit code then.
    std::vector<std::string> argv = {"timeout", "5", VIDMILL_BINARY, command};
    argv.insert(argv.end(), store.begin(), store.end());
    if (command == "serve") argv.insert(argv.end(), {"--workers", "0", "--listen", "127.0.0.1:0"});
    CommandResult started = RunProgram(argv);
    EXPECT_NE(started.exit_code, 124) << command << " started with the wrong media dir";
    EXPECT_NE(started.exit_code, 0) << command;
    EXPECT_NE(started.err.find("--media-dir"), std::string::npos) << command << ": " << started.err;
    EXPECT_NE(started.err.find(wrong_media), std::string::npos) << command << ": " << started.err;
    // Nothing marks it as the store: it would pass for one if this were a
    // mount point whose share is mounted later and lost again.
    EXPECT_FALSE(std::filesystem::exists(wrong_media + "/.vidmill-media")) << command;
  }
  // The right directory still starts.
  CommandResult right = RunProgram({"timeout", "3", VIDMILL_BINARY, "worker", "--database",
                                    deployment.database_url(), "--media-dir",
                                    deployment.a().data_dir() + "/media", "--data-dir", node_dir});
  EXPECT_EQ(right.exit_code, 124) << right.err;  // still running when timeout stopped it
}

// A loopback port nothing listens on now (bound, read, released).
int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

// A node started while PostgreSQL is down (its host boots later) waits for it
// and then serves, as docs/scale-out.md says; it had exited 1 ("database
// unavailable: cannot connect to the database server").
// A database that refuses the node's settings is not waited for as an
// outage is: serve, worker and the admin commands exit 1 at once, saying why;
// a URL they cannot read is a usage error, 2 (audit 16, audit 18).
TEST(ScaleOutHttpTest, ARefusedOrUnreadableDatabaseUrlEndsTheCommandAtOnce) {
  const std::string admin = storage::TestPostgresAdminUrl();
  if (admin.empty()) {
    GTEST_SKIP() << storage::kTestPostgresEnv << " is not set: no PostgreSQL to test against";
  }
  TempDir dir;
  const std::string refused = "postgresql://no_such_role@" + admin.substr(admin.find('@') + 1);
  const std::string unreadable = "postgresql://u@127.0.0.1:notaport/db";
  for (const auto& [url, code] :
       std::vector<std::pair<std::string, int>>{{refused, 1}, {unreadable, 2}}) {
    for (const std::vector<std::string>& command : StoreOpeningCommands()) {
      const auto started = std::chrono::steady_clock::now();
      CommandResult result = RunWithDatabase(command, url, dir.path());
      EXPECT_EQ(result.exit_code, code) << command[0] << " " << url << ": " << result.err;
      EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10)) << command[0];
      EXPECT_NE(result.err.find(code == 1 ? "the database refused the connection"
                                          : "invalid database URL"),
                std::string::npos)
          << result.err;
    }
  }
}

TEST(ScaleOutHttpTest, ANodeStartedBeforePostgresWaitsForIt) {
  if (storage::TestPostgresAdminUrl().empty()) {
    GTEST_SKIP() << storage::kTestPostgresEnv << " is not set: no PostgreSQL to test against";
  }
  auto cluster = storage::PrivatePostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  Status paused = (*cluster)->Pause();
  ASSERT_TRUE(paused.ok()) << paused.ToString();
  // A worker told to stop while it waits stops, at once and cleanly (it had
  // kept waiting, the signal pending until the database came back).
  test::TempDir worker_dir;
  WorkerProcess waiting((*cluster)->admin_url(), worker_dir.path(), worker_dir.path() + "/media",
                        worker_dir.path() + "/worker.log");
  std::this_thread::sleep_for(milliseconds(1500));
  ASSERT_TRUE(waiting.Running()) << waiting.Log();
  kill(waiting.pid(), SIGTERM);
  int status = -1;
  const auto asked = steady_clock::now();
  while (waitpid(waiting.pid(), &status, WNOHANG) == 0 &&
         steady_clock::now() - asked < seconds(3)) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << " " << waiting.Log();

  // While it waits it listens: /healthz says it is alive (a liveness probe
  // must not restart it in a loop; there had been no listener at all), and
  // /readyz and the API answer 503 with a JSON error.
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  std::thread later([&] {
    HttpClient early(port);
    HttpResponse health;
    for (int i = 0; i < 100 && health.status != 200; ++i) {
      std::this_thread::sleep_for(milliseconds(50));
      health = early.Get("/healthz");
    }
    EXPECT_EQ(health.status, 200) << health.body;
    EXPECT_NE(health.body.find("\"starting\""), std::string::npos) << health.body;
    HttpResponse ready = early.Get("/readyz");
    EXPECT_EQ(ready.status, 503) << ready.body;
    EXPECT_NE(ready.body.find("waiting for the database"), std::string::npos) << ready.body;
    HttpResponse api = early.Get("/videos/v1/videos");
    EXPECT_EQ(api.status, 503) << api.body;
    EXPECT_EQ(api.Header("Retry-After"), "5");
    EXPECT_NE(api.body.find("\"exception\":\"ServiceUnavailableException\""), std::string::npos)
        << api.body;
    Status resumed = (*cluster)->Resume();
    EXPECT_TRUE(resumed.ok()) << resumed.ToString();
  });
  ServerHarness node(
      ServerHarness::Options{.workers = 1,
                             .extra_flags = {"--database", (*cluster)->admin_url(), "--listen",
                                             "127.0.0.1:" + std::to_string(port)}});
  later.join();
  ASSERT_TRUE(node.running()) << node.ServerLog();
  EXPECT_EQ(node.port(), port);
  HttpClient client(node.port());
  EXPECT_EQ(client.Get("/readyz").status, 200);
  EXPECT_NE(client.Get("/healthz").body.find("\"ok\""), std::string::npos);
  EXPECT_EQ(client.Get("/videos/v1/videos").status, 401);  // the full routes now
  EXPECT_NE(node.ServerLog().find("retrying in"), std::string::npos) << node.ServerLog();
}

// The liveness probe is answered at once while every handler thread waits on
// a frozen database: it had queued behind them, 5–10 s, and a probe with a
// 1 s timeout would have had a healthy node restarted (audit 33 F5).
TEST(ScaleOutHttpTest, TheLivenessProbeAnswersAtOnceWhilePostgresIsFrozen) {
  if (storage::TestPostgresAdminUrl().empty()) {
    GTEST_SKIP() << storage::kTestPostgresEnv << " is not set: no PostgreSQL to test against";
  }
  auto cluster = storage::PrivatePostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const std::string url = (*cluster)->admin_url();
  ServerHarness::Options options;
  options.workers = 0;
  options.extra_flags = {"--database", url, "--http-threads", "2"};
  ServerHarness server(options);
  CreateUser(url, server.data_dir(), "ops@example.com");
  ApiClient client(server.port(), "ops@example.com");
  const std::string token = client.token();
  ASSERT_TRUE((*cluster)->Freeze().ok());
  std::vector<std::thread> waiting;
  for (int request = 0; request < 6; ++request) {
    waiting.emplace_back([&] { HttpClient(server.port()).Get("/videos/v1/videos", token); });
  }
  std::this_thread::sleep_for(milliseconds(500));  // both handler threads wait now
  const auto start = steady_clock::now();
  HttpResponse health = HttpClient(server.port()).Get("/healthz");
  const auto took = steady_clock::now() - start;
  EXPECT_TRUE((*cluster)->Thaw().ok());
  for (std::thread& thread : waiting) thread.join();
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_LT(took, milliseconds(1000));
}

TEST(ScaleOutHttpTest, ApiAnswers503WhilePostgresRestartsThenEverythingResumes) {
  if (storage::TestPostgresAdminUrl().empty()) {
    GTEST_SKIP() << storage::kTestPostgresEnv << " is not set: no PostgreSQL to test against";
  }
  auto cluster = storage::PrivatePostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const std::string url = (*cluster)->admin_url();
  Deployment deployment(2, {"--database", url});
  ASSERT_GT(deployment.b().port(), 0);
  CreateUser(url, deployment.a().data_dir(), "ops@example.com");
  ApiClient a(deployment.a().port(), "ops@example.com");
  ApiClient b(deployment.b().port(), ApiClient::Token{a.token()});
  std::string clip = MakeClip(deployment.a().data_dir(), "clip.mp4", 0.4, "96x64");

  std::vector<std::string> ids;
  for (int upload_idx = 0; upload_idx < 4; ++upload_idx) {
    ids.push_back(a.CreateVideo());
    ASSERT_EQ(a.Upload(ids.back(), clip).status, 200);
  }
  for (const std::string& id : ids) EXPECT_EQ(a.WaitForIngestion(id), "DONE");

  Status paused = (*cluster)->Pause();
  ASSERT_TRUE(paused.ok()) << paused.ToString();
  for (ApiClient* node : {&a, &b}) {
    auto start = steady_clock::now();
    HttpResponse response = node->http().Get("/videos/v1/video/" + ids[0], node->token());
    EXPECT_LT(steady_clock::now() - start, seconds(5));  // no waiting on a dead server
    EXPECT_EQ(response.status, 503) << response.body;
    EXPECT_EQ(response.Header("Retry-After"), "5");  // it had none (audit 33 F6)
    boost::json::value doc = response.Json();
    ASSERT_TRUE(doc.is_object()) << response.body;
    EXPECT_TRUE(doc.as_object().contains("exception")) << response.body;
    EXPECT_NE(Text(doc.as_object()["errorMessage"]).find("database unavailable"),
              std::string::npos)
        << response.body;
  }
  std::this_thread::sleep_for(seconds(3));  // longer than a worker lease
  Status resumed = (*cluster)->Resume();
  ASSERT_TRUE(resumed.ok()) << resumed.ToString();

  for (ApiClient* node : {&a, &b}) {
    HttpResponse response = node->http().Get("/videos/v1/video/" + ids[0], node->token());
    EXPECT_EQ(response.status, 200) << response.body;
  }
  for (int upload_idx = 0; upload_idx < 4; ++upload_idx) {
    ApiClient& node = upload_idx % 2 == 0 ? a : b;
    ids.push_back(node.CreateVideo());
    ASSERT_EQ(node.Upload(ids.back(), clip).status, 200);
  }
  for (const std::string& id : ids) EXPECT_EQ(a.WaitForIngestion(id), "DONE") << id;
  JobSummary jobs = SummariseJobs(url, ids);
  EXPECT_EQ(jobs.jobs, 8);
  EXPECT_EQ(jobs.done, 8);
  for (auto& worker : deployment.workers()) {
    EXPECT_TRUE(worker->Running()) << "a worker died of the outage";
  }
}

}  // namespace
}  // namespace vidmill::test
