#pragma once
// The schema, as an ordered list of versioned migrations shared by both back
// ends. ApplyMigrations runs the ones a database has not seen yet, under a
// lock (SQLite: the write transaction; PostgreSQL: an advisory lock), so
// several nodes starting at once apply each migration exactly once.
//
// To change the schema, append a migration; never edit one that has shipped.

#include "storage/database.h"

namespace vidmill::storage {

Status ApplyMigrations(Database& db);

// The highest migration version this binary knows.
int LatestSchemaVersion();

// This database's installation id (a UUID), made on first use.
Result<std::string> InstallationId(Database& db);

}  // namespace vidmill::storage
