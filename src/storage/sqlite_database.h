#pragma once
// SQLite back end: one file in WAL mode, shared by the API process, its
// workers and the admin commands (each process opens its own connections).

#include <memory>
#include <string>

#include "storage/database.h"

namespace vidmill::storage {

Result<std::unique_ptr<Database>> OpenSqliteDatabase(const std::string& path);

}  // namespace vidmill::storage
