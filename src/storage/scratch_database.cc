#include "storage/scratch_database.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>

#include "common/flags.h"
#include "storage/postgres_database.h"

namespace vidmill::storage {
namespace {

Status RunAdmin(const std::string& admin_url, const std::string& sql) {
  std::string separator = admin_url.find('?') == std::string::npos ? "?" : "&";
  ASSIGN_OR_RETURN(std::unique_ptr<Database> admin,
                   OpenPostgresDatabase(admin_url + separator + "pool_max_conns=1"));
  return admin->Run([&](Session& session) { return session.Execute(sql, {}).status(); });
}

}  // namespace

std::string_view BackendName(Backend backend) {
  return backend == Backend::kSqlite ? "Sqlite" : "Postgres";
}

std::string TestPostgresAdminUrl() {
  const char* url = std::getenv(kTestPostgresEnv);
  return url == nullptr ? "" : url;
}

std::string WithDatabaseName(std::string_view url, std::string_view database) {
  size_t scheme = url.find("://");
  size_t authority = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t query = url.find('?', authority);
  size_t path = url.find('/', authority);
  if (path == std::string_view::npos || path > query) path = std::min(query, url.size());
  std::string out(url.substr(0, path));
  out += '/';
  out += database;
  if (query != std::string_view::npos) out += url.substr(query);
  return out;
}

Result<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Create(Backend backend) {
  if (backend == Backend::kSqlite) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vidmill-test-db-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return Status::Unavailable("cannot create a temp dir for the test database");
    }
    return std::unique_ptr<ScratchDatabase>(
        new ScratchDatabase(backend, pattern + "/vidmill.db", pattern));
  }
  std::string admin_url = TestPostgresAdminUrl();
  if (admin_url.empty()) {
    return Status::NotFound(std::string(kTestPostgresEnv) +
                            " is not set: no PostgreSQL to test against (`make test` starts one)");
  }
  std::random_device seed;
  std::mt19937_64 random(seed() ^ (static_cast<uint64_t>(getpid()) << 32));
  char suffix[17];
  std::snprintf(suffix, sizeof(suffix), "%016llx", static_cast<unsigned long long>(random()));
  std::string name = std::string("vidmill_test_") + suffix;
  RETURN_IF_ERROR(RunAdmin(admin_url, "CREATE DATABASE " + name));
  return std::unique_ptr<ScratchDatabase>(
      new ScratchDatabase(backend, WithDatabaseName(admin_url, name), name));
}

ScratchDatabase::~ScratchDatabase() {
  if (EnvironmentSwitchOn("VIDMILL_KEEP_TEMP")) return;
  if (backend_ == Backend::kSqlite) {
    std::error_code ignored;
    std::filesystem::remove_all(name_, ignored);
    return;
  }
  (void)RunAdmin(TestPostgresAdminUrl(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
}

Result<std::unique_ptr<PrivatePostgresCluster>> PrivatePostgresCluster::Start() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "vidmill-pgstate-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status::Unavailable("cannot create a temp dir for the cluster state");
  }
  std::unique_ptr<PrivatePostgresCluster> cluster(new PrivatePostgresCluster(pattern));
  ASSIGN_OR_RETURN(std::string output, cluster->Script("start"));
  // The script may retry (a port lost to a race) and say so on stderr before
  // it prints the URL of the cluster it did start: the URL is its own line.
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("postgresql://", 0) == 0) cluster->admin_url_ = line;
  }
  if (cluster->admin_url_.empty()) {
    return Status::Internal("pg-cluster.sh start printed no URL: " + output);
  }
  return cluster;
}

PrivatePostgresCluster::~PrivatePostgresCluster() {
  (void)Script("stop");
  std::error_code ignored;
  std::filesystem::remove_all(state_dir_, ignored);
}

Status PrivatePostgresCluster::Pause() { return Script("pause").status(); }

Status PrivatePostgresCluster::Resume() { return Script("resume").status(); }

Status PrivatePostgresCluster::Freeze() { return Script("freeze").status(); }

Status PrivatePostgresCluster::Thaw() { return Script("thaw").status(); }

Result<std::string> PrivatePostgresCluster::Script(const std::string& command) {
  std::string line = "VIDMILL_PG_STATE='" + state_dir_ + "/state' '" VIDMILL_SOURCE_DIR
                     "/scripts/pg-cluster.sh' " +
                     command + " 2>&1";
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) {
    return Status::Internal("cannot run scripts/pg-cluster.sh");
  }
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    output += buffer;
  }
  int rc = pclose(pipe);
  if (rc != 0) {
    return Status::Internal("scripts/pg-cluster.sh " + command + " failed: " + output);
  }
  return output;
}

}  // namespace vidmill::storage
