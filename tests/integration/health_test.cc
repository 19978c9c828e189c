// The server's own behaviour, independent of any service: health, error
// documents for unknown paths and methods, request ids, limits, timeouts,
// keep-alive and graceful shutdown.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/server_harness.h"

namespace vidmill::test {
namespace {

// A connection to the server on loopback, from `from` (another loopback
// address is another client to the server's per-client limits).
int ConnectRaw(int port, const char* from = nullptr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (from != nullptr) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, from, &local.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
      close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string ReadUntilClose(int fd, int timeout_seconds) {
  timeval tv{timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// The resident set of process `pid` in KiB, from /proc.
long ResidentKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Whether a new connection gets /healthz answered within `limit` (tried
// every 50 ms), once what held the server back is gone.
bool ServedWithin(ServerHarness& server, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  do {
    HttpClient client(server.port());
    if (client.Get("/healthz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

void ExpectErrorShape(const HttpResponse& response, int status, const std::string& exception) {
  EXPECT_EQ(response.status, status) << response.body;
  boost::json::value doc = response.Json();
  ASSERT_TRUE(doc.is_object()) << response.body;
  EXPECT_EQ(doc.as_object()["exception"].as_string(), exception);
  EXPECT_FALSE(doc.as_object()["errorMessage"].as_string().empty());
  EXPECT_EQ(response.Header("Content-Type"), "application/json");
}

TEST(ServerTest, HealthAnswersWithoutAuthentication) {
  ServerHarness server;
  HttpClient client(server.port());
  HttpResponse response = client.Get("/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"status":"ok"})");
  EXPECT_EQ(response.Header("X-Request-Id").size(), 16u);
}

// A body sent to a health route, which takes no credentials, is read like any
// other: a malformed chunk is a 400, a well-formed one is answered. The early
// credential check had answered 401 NoJWTTokenFoundException (audit 27 F6).
TEST(ServerTest, HealthRoutesTakeBodiesWithoutCredentials) {
  ServerHarness server;
  for (const auto& [chunk, status] : std::vector<std::pair<std::string, std::string>>{
           {"zz\r\n", " 400 "}, {"2\r\nok\r\n0\r\n\r\n", " 200 "}}) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    const std::string request =
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Transfer-Encoding: chunked\r\n\r\n" +
        chunk;
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    const std::string answer = ReadUntilClose(fd, 10);
    close(fd);
    EXPECT_EQ(answer.substr(8, status.size()), status) << answer;
    EXPECT_EQ(answer.find("NoJWTTokenFoundException"), std::string::npos) << answer;
  }
}

TEST(ServerTest, ReadinessChecksTheStore) {
  ServerHarness server;
  HttpClient client(server.port());
  HttpResponse response = client.Get("/readyz");
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"status":"ready"})");
}

// A media directory that is no longer the store (a share unmounted, the
// directory moved) takes the node out of readiness; it had stayed "ready"
// while uploads went to the wrong disk and jobs failed for good.
TEST(ServerTest, ReadinessChecksTheMediaStore) {
  ServerHarness server;
  HttpClient client(server.port());
  EXPECT_EQ(client.Get("/readyz").status, 200);
  const std::filesystem::path media = std::filesystem::path(server.data_dir()) / "media";
  std::filesystem::rename(media, media.string() + ".away");
  std::filesystem::create_directories(media);
  HttpResponse away = client.Get("/readyz");
  EXPECT_EQ(away.status, 503) << away.body;
  EXPECT_NE(away.body.find("marker"), std::string::npos) << away.body;
  std::filesystem::remove(media);
  std::filesystem::rename(media.string() + ".away", media);
  EXPECT_EQ(client.Get("/readyz").status, 200);
}

TEST(ServerTest, UnknownPathsAndMethodsGetTheErrorDocument) {
  ServerHarness server;
  HttpClient client(server.port());
  ExpectErrorShape(client.Get("/no/such/thing"), 404, "NotFoundException");
  HttpResponse wrong_method = client.Send("DELETE", "/healthz");
  ExpectErrorShape(wrong_method, 405, "MethodNotAllowedException");
  EXPECT_EQ(wrong_method.Header("Allow"), "GET, HEAD");
  ExpectErrorShape(client.Get("/bad%zzescape"), 400, "BadRequestException");
  // Each response has its own request id, and the keep-alive connection survived.
  EXPECT_NE(client.Get("/healthz").Header("X-Request-Id"),
            client.Get("/healthz").Header("X-Request-Id"));
}

TEST(ServerTest, HeadSendsHeadersWithoutBody) {
  ServerHarness server;
  HttpClient client(server.port());
  HttpResponse response = client.Send("HEAD", "/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("Content-Length"), "15");
  EXPECT_TRUE(response.body.empty());
}

// A header past the limit is a 431 however long the one field that passes
// it: a field of 25 000 bytes or more had been a 414 "request target longer
// than …" (audit 32 F1).
TEST(ServerTest, OversizedHeaderIsRefused) {
  ServerHarness server;
  for (size_t size : {20000, 25000, 60000}) {
    HttpClient client(server.port());
    HttpResponse response = client.Send("GET", "/healthz", {{"X-Big", std::string(size, 'a')}});
    EXPECT_EQ(response.status, 431) << size << ": " << response.body;
    EXPECT_NE(response.body.find("RequestHeaderFieldsTooLargeException"), std::string::npos)
        << response.body;
  }
  // The limit is one budget for the request line and the fields: a 14 000
  // byte target with a 3 000 byte field passes it, and the answer says so
  // (audit 39: the 414's message had spoken of the target alone).
  {
    HttpClient client(server.port());
    HttpResponse response = client.Send("GET", "/healthz?" + std::string(14000, 'a'),
                                        {{"X-Big", std::string(3000, 'a')}});
    EXPECT_EQ(response.status, 431) << response.body;
    EXPECT_NE(response.body.find("request line and header fields longer than 16384 bytes together"),
              std::string::npos)
        << response.body;
  }
  // The same with a longer request line, and with the head sent in two
  // pieces (they had been 414s; audit 34 F5).
  for (const std::string& target : {std::string("/healthz"), "/healthz?" + std::string(700, 'q')}) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    const std::string start = "GET " + target + " HTTP/1.1\r\nHost: x\r\n";
    send(fd, start.data(), start.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string rest = "X-Big: " + std::string(20000, 'a') + "\r\n\r\n";
    send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    std::string answer = ReadUntilClose(fd, 5);
    close(fd);
    EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u)
        << target.size() << ": " << answer.substr(0, 200);
  }
  // The server keeps serving.
  HttpClient other(server.port());
  EXPECT_EQ(other.Get("/healthz").status, 200);
}

// A second serve on a port in use (a restart while the old process still
// runs) fails before it starts any worker on the shared store; it had
// started them first, then stopped them.
TEST(ServerTest, AServeThatCannotListenStartsNoWorker) {
  ServerHarness server;
  CommandResult second =
      RunProgram({"timeout", "30", VIDMILL_BINARY, "serve", "--data-dir", server.data_dir(),
                  "--database", server.database_url(), "--listen",
                  "127.0.0.1:" + std::to_string(server.port()), "--workers", "1"});
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
  EXPECT_EQ(second.err.find("started worker"), std::string::npos) << second.err;
  EXPECT_EQ(HttpClient(server.port()).Get("/healthz").status, 200);
}

// --listen takes a host name ("localhost" had been refused), and ":PORT"
// (every interface) says which address it bound; a port that is not a number
// is a usage error (it had listened on a port of the system's choice), as is
// a host nobody resolves, or a numeric host that is no dotted quad (the
// resolver had read "1.2.3" as 1.2.0.3, "0x7f.1" as 127.0.0.1).
TEST(ServerTest, ListenTakesHostNamesAndRefusesWhatItCannotRead) {
  {
    ServerHarness server(ServerHarness::Options{.extra_flags = {"--listen", "localhost:0"}});
    ASSERT_GT(server.port(), 0) << server.ServerLog();
    EXPECT_EQ(HttpClient(server.port()).Get("/healthz").status, 200);
    EXPECT_NE(server.ServerLog().find("serving on 127.0.0.1:"), std::string::npos)
        << server.ServerLog();
  }
  {
    ServerHarness server(ServerHarness::Options{.extra_flags = {"--listen", ":0"}});
    ASSERT_GT(server.port(), 0) << server.ServerLog();
    EXPECT_EQ(HttpClient(server.port()).Get("/healthz").status, 200);
    EXPECT_NE(server.ServerLog().find("serving on 0.0.0.0:"), std::string::npos)
        << server.ServerLog();
  }
  TempDir dir;
  for (const char* listen : {"127.0.0.1:8o80", "127.0.0.1:70000", "no-such-host.invalid:0",
                             "256.1.1.1:0", "[::1:0", "1.2.3:0", "0x7f.1:0", "0x7f.0.0.1:0"}) {
    CommandResult refused = RunProgram({"timeout", "30", VIDMILL_BINARY, "serve", "--data-dir",
                                        dir.path(), "--listen", listen, "--workers", "0"});
    EXPECT_EQ(refused.exit_code, 2) << listen << ": " << refused.err;
    EXPECT_NE(refused.err.find("--listen"), std::string::npos) << refused.err;
    // Refused before the store is made (it had made it and printed the demo
    // user's password first).
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/vidmill.db")) << listen;
  }
}

// A database URL of a scheme Vidmill does not speak is a usage error, found
// before anything is made on disk (it had been opened as a SQLite file name,
// then the media directory made before the refusal).
TEST(ServerTest, AnUnsupportedDatabaseSchemeIsRefusedBeforeAnythingIsMade) {
  TempDir dir;
  for (const std::vector<std::string>& command : StoreOpeningCommands()) {
    CommandResult result = RunWithDatabase(command, "mysql://user@host/db", dir.path() + "/data");
    EXPECT_EQ(result.exit_code, 2) << command[0] << ": " << result.err;
    EXPECT_NE(result.err.find("is not supported"), std::string::npos) << result.err;
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data")) << command[0];
  }
}

// A request line too long is a 414, not a 431 (RFC 9110 §15.5.15).
TEST(ServerTest, OversizedTargetIs414) {
  ServerHarness server;
  HttpClient client(server.port());
  HttpResponse response = client.Get("/" + std::string(20000, 'a'));
  EXPECT_EQ(response.status, 414) << response.body;
  EXPECT_NE(response.body.find("URITooLongException"), std::string::npos) << response.body;
  EXPECT_NE(response.body.find("request line (method, target, version) longer than the 16384"),
            std::string::npos)
      << response.body;
  // The same request pipelined whole behind a short one, in one write (it
  // had been a 431: its line end was in the buffer; audit 35 F2).
  for (size_t length : {16400, 20000, 40000}) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    const std::string both = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /" +
                             std::string(length, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, both.data(), both.size(), MSG_NOSIGNAL);
    std::string answers = ReadUntilClose(fd, 5);
    close(fd);
    EXPECT_EQ(answers.rfind("HTTP/1.1 200", 0), 0u) << answers.substr(0, 200);
    const size_t second = answers.find("HTTP/1.1 ", 1);
    ASSERT_NE(second, std::string::npos) << answers;
    EXPECT_EQ(answers.compare(second, 12, "HTTP/1.1 414"), 0)
        << length << answers.substr(second, 200);
  }
  EXPECT_EQ(HttpClient(server.port()).Get("/healthz").status, 200);
}

// The absolute form of the target, which a server must take (RFC 9112
// §3.2.2), is served like its path; its authority stands for Host in the
// URLs the answer hands out. It had been a 400.
TEST(ServerTest, AnAbsoluteFormTargetIsServed) {
  ServerHarness server;
  auto exchange = [&](const std::string& request) {
    int fd = ConnectRaw(server.port());
    EXPECT_GE(fd, 0);
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string answer = ReadUntilClose(fd, 5);
    close(fd);
    return answer;
  };
  std::string health = exchange(
      "GET HTTP://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_EQ(health.rfind("HTTP/1.1 200 OK", 0), 0u) << health;
  EXPECT_NE(health.find("{\"status\":\"ok\"}"), std::string::npos) << health;
  std::string token = server.CreateUserAndLogin("abs@example.com", "correct horse battery", "t");
  std::string created = exchange(
      "PUT http://media.example:8080/videos/v1/video HTTP/1.1\r\nHost: wrong\r\n"
      "Authorization: Bearer " +
      token +
      "\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_EQ(created.rfind("HTTP/1.1 200 OK", 0), 0u) << created;
  EXPECT_NE(created.find("http://media.example:8080/media/v1/upload/"), std::string::npos)
      << created;
}

TEST(ServerTest, SlowHeaderDripIsCutOffByTheHeaderTimeout) {
  ServerHarness server({.extra_flags = {"--header-timeout", "1"}});
  int fd = ConnectRaw(server.port());
  ASSERT_GE(fd, 0);
  std::string partial = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  auto started = std::chrono::steady_clock::now();
  std::string answer = ReadUntilClose(fd, 10);
  auto waited = std::chrono::steady_clock::now() - started;
  close(fd);
  EXPECT_NE(answer.find("408"), std::string::npos) << answer;
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST(ServerTest, IdleConnectionsAreClosedByTheIdleTimeout) {
  ServerHarness server({.extra_flags = {"--idle-timeout", "1"}});
  // One connection that never sends anything, one that goes quiet after a
  // request: both must be closed, or idle clients could pile up for ever.
  int silent = ConnectRaw(server.port());
  int quiet = ConnectRaw(server.port());
  ASSERT_GE(silent, 0);
  ASSERT_GE(quiet, 0);
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  send(quiet, request.data(), request.size(), 0);
  auto started = std::chrono::steady_clock::now();
  std::string silent_answer = ReadUntilClose(silent, 8);
  std::string quiet_answer = ReadUntilClose(quiet, 8);
  auto waited = std::chrono::steady_clock::now() - started;
  close(silent);
  close(quiet);
  EXPECT_TRUE(silent_answer.empty()) << silent_answer;
  EXPECT_NE(quiet_answer.find("200 OK"), std::string::npos) << quiet_answer;
  EXPECT_LT(waited, std::chrono::seconds(6));
}

TEST(ServerTest, IdleConnectionsCostLittleMemory) {
  // All from one address: past the default per-client limit of 256.
  ServerHarness server(
      ServerHarness::Options{.extra_flags = {"--max-connections-per-client", "0"}});
  HttpClient client(server.port());
  ASSERT_EQ(client.Get("/healthz").status, 200);
  long before = ResidentKib(server.pid());
  ASSERT_GT(before, 0);
  std::vector<int> fds;
  for (int i = 0; i < 1000; ++i) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  // Every connection has been accepted and its session started once a
  // request on a later connection is answered.
  HttpClient after(server.port());
  EXPECT_EQ(after.Get("/healthz").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  long grown = ResidentKib(server.pid()) - before;
  for (int fd : fds) close(fd);
  // A few KiB each (the session's frame and buffers); a 64 KiB body buffer
  // per connection made this 64 MiB.
  EXPECT_LT(grown, 24 * 1024) << "resident set grew by " << grown << " KiB";
}

// CPU seconds process `pid` has used (user + system), from /proc.
double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stol(field);  // utime, stime
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Out of file descriptors, the server waits between accepts instead of
// spinning (it had run at full CPU and logged ~1 GB of "accept failed" in
// 16 s), and serves again once connections close.
TEST(ServerTest, RunningOutOfFileDescriptorsDoesNotSpin) {
  ServerHarness server(ServerHarness::Options{.max_open_files = 64});
  HttpClient client(server.port());
  ASSERT_EQ(client.Get("/healthz").status, 200);
  std::vector<int> fds;
  for (int i = 0; i < 120; ++i) {
    int fd = ConnectRaw(server.port());  // the kernel's backlog takes them
    if (fd >= 0) fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double before = CpuSeconds(server.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double used = CpuSeconds(server.pid()) - before;
  for (int fd : fds) close(fd);
  EXPECT_LT(used, 0.5) << "CPU seconds in 2 s with no descriptor left";
  const std::string log = server.ServerLog();
  size_t warnings = 0;
  for (size_t at = log.find("accept failed"); at != std::string::npos;
       at = log.find("accept failed", at + 1)) {
    ++warnings;
  }
  EXPECT_GT(warnings, 0u) << "the limit was not reached";
  EXPECT_LT(warnings, 10u);
  // Served again, once the idle connections are gone.
  EXPECT_TRUE(ServedWithin(server, std::chrono::seconds(5)));
}

TEST(ServerTest, MalformedRequestLineIsABadRequest) {
  ServerHarness server;
  int fd = ConnectRaw(server.port());
  ASSERT_GE(fd, 0);
  std::string garbage = "THIS IS NOT HTTP\r\n\r\n";
  send(fd, garbage.data(), garbage.size(), 0);
  std::string answer = ReadUntilClose(fd, 5);
  close(fd);
  EXPECT_NE(answer.find("400 Bad Request"), std::string::npos) << answer;
}

TEST(ServerTest, ATransferEncodingOtherThanChunkedIsRefusedAndNotSmuggled) {
  ServerHarness server;
  int fd = ConnectRaw(server.port());
  ASSERT_GE(fd, 0);
  // "gzip" alone leaves the body unframed: its bytes must not be answered as
  // a second request on the same connection.
  std::string smuggle =
      "POST /accounts/v1/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  send(fd, smuggle.data(), smuggle.size(), 0);
  std::string answer = ReadUntilClose(fd, 5);
  close(fd);
  EXPECT_EQ(answer.find("HTTP/1.1 400 Bad Request"), 0u) << answer;
  EXPECT_NE(answer.find("Transfer-Encoding"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("200 OK"), std::string::npos) << answer;
}

TEST(ServerTest, ARepeatedHostAuthorizationOrContentTypeIsABadRequest) {
  ServerHarness server;
  std::string token = server.CreateUserAndLogin("dora@example.com", "a long password", "team-d");
  const std::string one_token = "Authorization: Bearer " + token + "\r\n";
  struct Case {
    std::string fields;
    std::string named;
  };
  const std::vector<Case> cases = {
      {"Host: x\r\nHost: y\r\n" + one_token, "Host"},
      {"Host: x\r\n" + one_token + "Authorization: Bearer other\r\n", "Authorization"},
      {"Host: x\r\n" + one_token + "Content-Type: application/json\r\nContent-Type: text/plain\r\n",
       "Content-Type"},
  };
  for (const Case& c : cases) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    std::string request =
        "GET /videos/v1/videos HTTP/1.1\r\n" + c.fields + "Connection: close\r\n\r\n";
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string answer = ReadUntilClose(fd, 5);
    close(fd);
    EXPECT_EQ(answer.find("HTTP/1.1 400 Bad Request"), 0u) << c.named << ": " << answer;
    EXPECT_NE(answer.find("2 " + c.named + " fields"), std::string::npos) << answer;
  }
  // One of each is served.
  int fd = ConnectRaw(server.port());
  ASSERT_GE(fd, 0);
  std::string request =
      "GET /videos/v1/videos HTTP/1.1\r\nHost: x\r\n" + one_token + "Connection: close\r\n\r\n";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer = ReadUntilClose(fd, 5);
  close(fd);
  EXPECT_EQ(answer.find("HTTP/1.1 200 OK"), 0u) << answer;
}

// RFC 9112 §3.2: an HTTP/1.1 request must name its Host, once, as a host
// name; absolute URLs in answers are built from it.
TEST(ServerTest, AMissingOrMalformedHostIsABadRequest) {
  ServerHarness server;
  auto answer_to = [&](const std::string& request) {
    int fd = ConnectRaw(server.port());
    if (fd < 0) return std::string("no connection");
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string answer = ReadUntilClose(fd, 5);
    close(fd);
    return answer;
  };
  // A port past 65535, a second colon, an unclosed or empty IPv6 literal, an
  // empty port (the port had been taken as it came and copied into answers'
  // URLs; audit 32 F7).
  for (const std::string& fields :
       {std::string(), std::string("Host: a b\r\n"), std::string("Host: x\"y<z>\r\n"),
        std::string("Host: evil.example:99999\r\n"), std::string("Host: a:b:c\r\n"),
        std::string("Host: [::1\r\n"), std::string("Host: []:80\r\n"), std::string("Host: [:]\r\n"),
        std::string("Host: [1.2.3.4]:80\r\n"), std::string("Host: [::1%@evil.example?]\r\n"),
        std::string("Host: [fe80::1%eth0]\r\n"), std::string("Host: host:\r\n"),
        std::string("Host: host:80x\r\n")}) {
    std::string answer =
        answer_to("GET /videos/v1/videos HTTP/1.1\r\n" + fields + "Connection: close\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 400 Bad Request", 0), 0u) << fields << answer;
    EXPECT_NE(answer.find("Host"), std::string::npos) << answer;
  }
  // HTTP/1.0 needs none; a name with a port is fine; the health probes are
  // answered without one (a load balancer's bare check).
  EXPECT_EQ(answer_to("GET /healthz HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 200 OK", 0), 0u);
  EXPECT_EQ(
      answer_to("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 200 OK", 0),
      0u);
  for (const std::string host :
       {"media.example.com:8080", "[::1]:65535", "[::1]", "10.0.0.7", "host:000065535"}) {
    // Past the Host check, to the credentials' (401).
    EXPECT_EQ(answer_to("GET /videos/v1/videos HTTP/1.1\r\nHost: " + host +
                        "\r\nConnection: close\r\n\r\n")
                  .rfind("HTTP/1.1 401", 0),
              0u)
        << host;
  }
  // The probes take any Host, as they take none (their answers hold no URL).
  EXPECT_EQ(answer_to("GET /healthz HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n")
                .rfind("HTTP/1.1 200 OK", 0),
            0u);
}

// An error message quotes what the client sent; bytes that are not UTF-8
// are replaced, so the error body stays JSON.
TEST(ServerTest, ErrorBodiesAreValidUtf8WhateverThePathHeld) {
  ServerHarness server;
  HttpClient client(server.port());
  HttpResponse response = client.Get("/nope%ff%fe");
  EXPECT_EQ(response.status, 404);
  EXPECT_NE(response.body.find("\xEF\xBF\xBD"), std::string::npos) << response.body;
  EXPECT_EQ(response.body.find('\xff'), std::string::npos) << response.body;
  boost::system::error_code ec;
  boost::json::parse(response.body, ec);
  EXPECT_FALSE(ec) << ec.message();
}

// One client address holds at most --max-connections-per-client open
// connections; the next is answered 503 at once, and others are served. One
// client had taken every file descriptor, and nobody else got an answer.
TEST(ServerTest, OneClientHoldsAtMostItsShareOfConnections) {
  ServerHarness::Options options;
  options.extra_flags = {"--max-connections-per-client", "8"};
  ServerHarness server(options);
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    held.push_back(fd);
  }
  int ninth = ConnectRaw(server.port());
  ASSERT_GE(ninth, 0);
  std::string answer = ReadUntilClose(ninth, 5);
  close(ninth);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503 Service Unavailable", 0), 0u) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
  EXPECT_NE(answer.find("too many connections from this address"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\r\nX-Request-Id: "), std::string::npos) << answer;  // as every answer
  // The operator learns who was refused.
  const std::string refusal = "refused 1 connection(s) with 503: client=127.0.0.1 holds 8";
  for (int i = 0; i < 50 && server.ServerLog().find(refusal) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(server.ServerLog().find(refusal), std::string::npos) << server.ServerLog();
  // The held ones still work, and a slot comes back when one closes.
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  send(held[0], request.data(), request.size(), MSG_NOSIGNAL);
  EXPECT_EQ(ReadUntilClose(held[0], 5).rfind("HTTP/1.1 200 OK", 0), 0u);
  close(held[0]);
  EXPECT_TRUE(ServedWithin(server, std::chrono::seconds(5)));
  for (size_t i = 1; i < held.size(); ++i) close(held[i]);
}

// Reads one response head from `fd` (up to its blank line), waiting at most
// `timeout_ms` for each piece; the connection stays open.
std::string ReadHead(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  char c;
  while (out.find("\r\n\r\n") == std::string::npos && recv(fd, &c, 1, 0) == 1) out += c;
  return out;
}

// The head of a JSON request that announces a 1 MiB body and waits for
// 100 Continue before sending it.
std::string AnnouncedBody(const std::string& authorization) {
  return "PUT /videos/v1/video HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         authorization + "Content-Length: 1048576\r\nExpect: 100-continue\r\n\r\n";
}

// A body is read only for a caller with credentials: without any, or with a
// bad Bearer token, the answer is a 401 before a byte of it is read (no
// 100 Continue). Thousands of such connections had held a gigabyte.
TEST(ServerTest, ABodyWithoutGoodCredentialsIsRefusedBeforeItIsRead) {
  ServerHarness server;
  std::string token = server.CreateUserAndLogin("erin@example.com", "a long password", "team-e");
  for (const std::string& authorization :
       {std::string(), std::string("Authorization: Bearer not.a.token\r\n")}) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    std::string head = AnnouncedBody(authorization);
    send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    std::string answer = ReadUntilClose(fd, 5);
    close(fd);
    EXPECT_EQ(answer.rfind("HTTP/1.1 401 Unauthorized", 0), 0u) << authorization << answer;
    EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << answer;
  }
  int fd = ConnectRaw(server.port());
  ASSERT_GE(fd, 0);
  std::string head = AnnouncedBody("Authorization: Bearer " + token + "\r\n");
  send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  EXPECT_EQ(ReadHead(fd, 2000).rfind("HTTP/1.1 100 Continue", 0), 0u);
  close(fd);
}

// Buffered bodies being received at once hold at most 8 MiB per client (and
// 256 MiB in all): the client's next is a 503 with Retry-After before its body
// is read, another client's is taken, and room comes back as bodies end. One
// client had been able to take the whole node's budget (audit 12).
// A client that sends its body at once, without waiting for 100 Continue,
// reads the 401 that refused it: the server drops what still arrives before
// it closes. It had closed at once, the connection was reset, and the client
// saw "broken pipe" instead of the 401 (audit 12).
TEST(ServerTest, AClientStillSendingItsRefusedBodyReadsTheAnswer) {
  ServerHarness server;
  int fd = ConnectRaw(server.port());
  ASSERT_GE(fd, 0);
  const std::string head =
      "PUT /videos/v1/video HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1048576\r\n\r\n";
  ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  // In pieces, as a client on a real network does: the answer goes out
  // while the body is still coming.
  const std::string body(1 << 20, ' ');
  size_t sent = 0;
  while (sent < body.size()) {
    ssize_t n =
        send(fd, body.data() + sent, std::min<size_t>(64 * 1024, body.size() - sent), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(sent, body.size()) << "the connection was cut: " << std::strerror(errno);
  std::string answer = ReadUntilClose(fd, 5);
  close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 401 Unauthorized", 0), 0u) << answer;
}

TEST(ServerTest, BufferedBodiesBeingReceivedHoldAtMostTheirBudget) {
  ServerHarness server;
  std::string token = server.CreateUserAndLogin("fred@example.com", "a long password", "team-f");
  const std::string head = AnnouncedBody("Authorization: Bearer " + token + "\r\n");
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    held.push_back(fd);
    send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    ASSERT_EQ(ReadHead(fd, 2000).rfind("HTTP/1.1 100 Continue", 0), 0u) << "body " << i;
  }
  int refused = ConnectRaw(server.port());
  ASSERT_GE(refused, 0);
  send(refused, head.data(), head.size(), MSG_NOSIGNAL);
  std::string answer = ReadUntilClose(refused, 5);
  close(refused);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503 Service Unavailable", 0), 0u) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << answer;
  // Another client is not held back.
  int other = ConnectRaw(server.port(), "127.0.0.2");
  ASSERT_GE(other, 0);
  send(other, head.data(), head.size(), MSG_NOSIGNAL);
  EXPECT_EQ(ReadHead(other, 2000).rfind("HTTP/1.1 100 Continue", 0), 0u);
  close(other);

  for (int fd : held) close(fd);
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    int fd = ConnectRaw(server.port());
    ASSERT_GE(fd, 0);
    send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    admitted = ReadHead(fd, 500).rfind("HTTP/1.1 100 Continue", 0) == 0;
    close(fd);
  }
  EXPECT_TRUE(admitted) << "the budget was not given back";
}

TEST(ServerTest, ControlCharactersInThePathCannotForgeAccessLogLines) {
  ServerHarness server;
  HttpClient client(server.port());
  EXPECT_EQ(client.Get("/no/such%0d%0aforged-line%0a").status, 404);
  EXPECT_EQ(client.Get("/healthz").status, 200);  // its log line follows the 404's
  std::string log = server.ServerLog();
  EXPECT_EQ(log.find("\nforged-line"), std::string::npos) << log;
  EXPECT_NE(log.find("/no/such\\x0d\\x0aforged-line\\x0a 404"), std::string::npos) << log;
}

TEST(ServerTest, AnEndlessChunkHeaderIsRefusedWithBoundedMemory) {
  ServerHarness server;
  // With credentials, so the body is read at all (check_before_body).
  std::string token = server.CreateUserAndLogin("gail@example.com", "a long password", "team-g");
  long before = ResidentKib(server.pid());
  int fd = ConnectRaw(server.port());
  ASSERT_GE(fd, 0);
  // A chunk-size line whose extension never ends: the body limit counts body
  // bytes only, so this used to be buffered whole (hundreds of MiB).
  std::string head = "POST /accounts/v1/token HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     token + "\r\nTransfer-Encoding: chunked\r\n\r\n1;";
  send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  std::string filler(1 << 20, 'a');
  for (int i = 0; i < 64; ++i) {
    if (send(fd, filler.data(), filler.size(), MSG_NOSIGNAL) < 0) break;
  }
  std::string answer = ReadUntilClose(fd, 10);
  close(fd);
  long grown = ResidentKib(server.pid()) - before;
  EXPECT_NE(answer.find("413"), std::string::npos) << answer;
  EXPECT_LT(grown, 16 * 1024) << "resident set grew by " << grown << " KiB";
  HttpClient other(server.port());
  EXPECT_EQ(other.Get("/healthz").status, 200);
}

TEST(ServerTest, SigtermFinishesAndExitsZero) {
  ServerHarness server;
  HttpClient client(server.port());
  ASSERT_EQ(client.Get("/healthz").status, 200);  // leaves an idle keep-alive connection
  auto started = std::chrono::steady_clock::now();
  int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace vidmill::test
