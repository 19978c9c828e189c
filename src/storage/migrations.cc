#include "storage/migrations.h"

#include <string>
#include <vector>

#include "common/ids.h"

namespace vidmill::storage {
namespace {

struct Migration {
  int version;
  std::vector<const char*> statements;
};

// Times are BIGINT epoch milliseconds; booleans BIGINT 0/1; JSON documents TEXT.
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1,
       {
           R"sql(CREATE TABLE teams (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL))sql",
           R"sql(CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                email_confirmed BIGINT NOT NULL DEFAULT 0,
                banned BIGINT NOT NULL DEFAULT 0,
                banned_reason TEXT,
                banned_at BIGINT,
                default_team_id TEXT NOT NULL,
                jwt_method TEXT NOT NULL,
                jwt_key_id TEXT NOT NULL UNIQUE,
                jwt_private_key TEXT NOT NULL,
                jwt_public_key TEXT NOT NULL,
                signature_method TEXT,
                signature_secret TEXT,
                tokens_valid_after BIGINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL))sql",
           R"sql(CREATE TABLE team_members (
                team_id TEXT NOT NULL REFERENCES teams(id),
                user_id TEXT NOT NULL REFERENCES users(id),
                joined_at BIGINT NOT NULL,
                PRIMARY KEY (team_id, user_id)))sql",
           "CREATE INDEX team_members_by_user ON team_members(user_id, joined_at)",
           R"sql(CREATE TABLE signature_replays (
                digest TEXT PRIMARY KEY,
                expires_at BIGINT NOT NULL))sql",
           R"sql(CREATE TABLE projects (
                id TEXT PRIMARY KEY,
                team_id TEXT NOT NULL REFERENCES teams(id),
                name TEXT NOT NULL,
                is_default BIGINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL))sql",
           "CREATE INDEX projects_by_team ON projects(team_id, created_at, id)",
           R"sql(CREATE TABLE videos (
                id TEXT PRIMARY KEY,
                team_id TEXT NOT NULL REFERENCES teams(id),
                project_id TEXT NOT NULL REFERENCES projects(id),
                user_id TEXT NOT NULL,
                parent_id TEXT REFERENCES videos(id),
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                attributes TEXT NOT NULL DEFAULT '{}',
                upload_status TEXT NOT NULL DEFAULT 'INITIAL',
                upload_updated_at BIGINT NOT NULL,
                upload_error TEXT,
                file_name TEXT,
                file_size BIGINT,
                file_type TEXT,
                file_container TEXT,
                file_sha256 TEXT,
                file_modified_at BIGINT,
                ingestion_status TEXT NOT NULL DEFAULT 'INITIAL',
                ingestion_updated_at BIGINT NOT NULL,
                ingestion_error TEXT,
                ingestion_kind TEXT,
                ingestion_progress DOUBLE PRECISION NOT NULL DEFAULT 0,
                ingestion_eta BIGINT,
                metadata_available BIGINT NOT NULL DEFAULT 0,
                metadata_committed BIGINT NOT NULL DEFAULT 0,
                thumbnail_count BIGINT NOT NULL DEFAULT 0,
                web_video_available BIGINT NOT NULL DEFAULT 0,
                metadata TEXT,
                quality TEXT,
                processing_status TEXT NOT NULL DEFAULT 'INITIAL',
                processing_updated_at BIGINT NOT NULL,
                processing_error TEXT,
                processing_progress DOUBLE PRECISION NOT NULL DEFAULT 0,
                processing_eta BIGINT,
                processing_parameters TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL))sql",
           "CREATE INDEX videos_by_team ON videos(team_id, created_at, id)",
           "CREATE INDEX videos_by_project ON videos(project_id, created_at, id)",
           "CREATE INDEX videos_by_parent ON videos(parent_id, created_at, id)",
           R"sql(CREATE TABLE jobs (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                video_id TEXT NOT NULL,
                params TEXT NOT NULL DEFAULT '{}',
                state TEXT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                max_attempts BIGINT NOT NULL DEFAULT 3,
                lease_owner TEXT,
                lease_expires_at BIGINT,
                run_after BIGINT NOT NULL,
                progress DOUBLE PRECISION NOT NULL DEFAULT 0,
                eta_seconds BIGINT,
                error TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL))sql",
           "CREATE INDEX jobs_by_state ON jobs(state, run_after, created_at)",
           "CREATE INDEX jobs_by_video ON jobs(video_id)",
       }},
      // Accounts: a per-user generation that password changes and bans bump,
      // so every token issued before either stops working at once.
      {2,
       {
           "ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0",
       }},
      // The installation's identity (one row), which its media directory's
      // marker names: a node on another database never sweeps that media.
      {3,
       {
           "CREATE TABLE installation (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), "
           "id TEXT NOT NULL)",
       }},
  };
  return migrations;
}

}  // namespace

int LatestSchemaVersion() { return Migrations().back().version; }

Result<std::string> InstallationId(Database& db) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string id;
    Status status = db.Transaction([&](Session& session) -> Status {
      ASSIGN_OR_RETURN(Rows rows, session.Query("SELECT id FROM installation", {}));
      if (!rows.empty()) {
        id = rows[0].Text(0);
        return Status::Ok();
      }
      id = NewId();
      return session.Execute("INSERT INTO installation (singleton, id) VALUES (1, ?)", {id})
          .status();
    });
    if (status.ok()) return id;
    // Another node made it first: read theirs.
    if (status.code() != Code::kConflict) return status;
  }
  return Status::Internal("the installation id could not be read");
}

Status ApplyMigrations(Database& db) {
  return db.Transaction([&](Session& session) -> Status {
    if (session.dialect() == Dialect::kPostgres) {
      // Serialises concurrent starters; released at commit.
      RETURN_IF_ERROR(session.Query("SELECT pg_advisory_xact_lock(7263514)", {}).status());
    }
    RETURN_IF_ERROR(session
                        .Execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 "version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                                 {})
                        .status());
    ASSIGN_OR_RETURN(Rows rows,
                     session.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}));
    int64_t current = rows.empty() ? 0 : rows[0].Int(0);
    if (current > LatestSchemaVersion()) {
      return Status::Internal("the database schema (version " + std::to_string(current) +
                              ") is newer than this binary knows (" +
                              std::to_string(LatestSchemaVersion()) + "); upgrade vidmill");
    }
    for (const Migration& migration : Migrations()) {
      if (migration.version <= current) continue;
      for (const char* statement : migration.statements) {
        Status status = session.Execute(statement, {}).status();
        if (!status.ok()) {
          return status.Annotate("migration " + std::to_string(migration.version));
        }
      }
      RETURN_IF_ERROR(session
                          .Execute("INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)",
                                   {int64_t{migration.version}, int64_t{0}})
                          .status());
    }
    return Status::Ok();
  });
}

}  // namespace vidmill::storage
