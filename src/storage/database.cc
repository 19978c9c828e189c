#include "storage/database.h"

#include <cstdlib>

#include "storage/migrations.h"
#include "storage/sqlite_database.h"
#include "storage/postgres_database.h"

namespace vidmill::storage {

bool Row::IsNull(size_t column) const {
  return column >= values_.size() || std::holds_alternative<std::monostate>(values_[column]);
}

int64_t Row::Int(size_t column) const {
  if (column >= values_.size()) return 0;
  const Value& v = values_[column];
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (auto* s = std::get_if<std::string>(&v)) return std::strtoll(s->c_str(), nullptr, 10);
  return 0;
}

double Row::Double(size_t column) const {
  if (column >= values_.size()) return 0;
  const Value& v = values_[column];
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* s = std::get_if<std::string>(&v)) return std::strtod(s->c_str(), nullptr);
  return 0;
}

std::string Row::Text(size_t column) const {
  if (column >= values_.size()) return {};
  const Value& v = values_[column];
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return {};
}

std::optional<std::string> Row::OptText(size_t column) const {
  if (IsNull(column)) return std::nullopt;
  return Text(column);
}

Result<Row> Session::QueryOne(std::string_view sql, const std::vector<Value>& params,
                              std::string_view what) {
  ASSIGN_OR_RETURN(Rows rows, Query(sql, params));
  if (rows.empty()) {
    return Status::NotFound(std::string(what) + " not found");
  }
  return std::move(rows.front());
}

Status CheckDatabaseUrlScheme(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || url.find('/') < scheme) return Status::Ok();  // a path
  const std::string name = url.substr(0, scheme);
  if (name == "postgresql" || name == "postgres" || name == "sqlite") return Status::Ok();
  // Another scheme (mysql://…) is not a file name: taken for one, it would be
  // opened as a SQLite path relative to the working directory, or waited on
  // for ever.
  return Status::InvalidArgument("invalid database URL: the scheme '" + name +
                                 "' is not supported; use postgresql://…, sqlite://PATH or a "
                                 "file path");
}

Result<std::unique_ptr<Database>> OpenDatabase(const std::string& url) {
  std::unique_ptr<Database> db;
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    ASSIGN_OR_RETURN(db, OpenPostgresDatabase(url));
  } else {
    std::string path = url;
    RETURN_IF_ERROR(CheckDatabaseUrlScheme(url));
    if (path.rfind("sqlite://", 0) == 0) path = path.substr(9);
    ASSIGN_OR_RETURN(db, OpenSqliteDatabase(path));
  }
  RETURN_IF_ERROR(ApplyMigrations(*db));
  return db;
}

bool IsDiskFull(const Status& status) {
  return status.code() == Code::kUnavailable && status.message().rfind(kDiskFullPrefix, 0) == 0;
}

}  // namespace vidmill::storage
