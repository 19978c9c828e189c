#include "videos/project_store.h"

#include <string>
#include <utility>

#include "common/ids.h"
#include "videos/video_store.h"

namespace vidmill::videos {
namespace {

constexpr std::string_view kProjectColumns =
    "id, team_id, name, is_default, created_at, updated_at";

Project RowToProject(const storage::Row& row) {
  Project project;
  project.id = row.Text(0);
  project.team_id = row.Text(1);
  project.name = row.Text(2);
  project.is_default = row.Bool(3);
  project.created_at = row.Int(4);
  project.updated_at = row.Int(5);
  return project;
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

Result<std::string> NormalizeName(std::string_view name, std::string_view what) {
  while (!name.empty() && IsAsciiSpace(name.front())) name.remove_prefix(1);
  while (!name.empty() && IsAsciiSpace(name.back())) name.remove_suffix(1);
  if (name.empty()) {
    return Status::InvalidArgument(std::string(what) + " must not be empty");
  }
  size_t characters = 0;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(std::string(what) + " must not contain control characters");
    }
    // Count code points: every byte that is not a UTF-8 continuation byte.
    if ((c & 0xC0) != 0x80) ++characters;
  }
  if (characters > kMaxNameLength) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(characters) +
                                   " characters long; at most " + std::to_string(kMaxNameLength) +
                                   " are allowed");
  }
  return std::string(name);
}

Result<Project> CreateProject(storage::Session& session, const std::string& team_id,
                              const std::string& name, int64_t now_millis) {
  RETURN_IF_ERROR(LockTeam(session, team_id));
  ASSIGN_OR_RETURN(int64_t created_at, NextCreationTime(session, "projects", team_id, now_millis));
  std::string id = NewId();
  RETURN_IF_ERROR(session
                      .Execute("INSERT INTO projects (id, team_id, name, is_default, created_at, "
                               "updated_at) VALUES (?, ?, ?, 0, ?, ?)",
                               {id, team_id, name, created_at, created_at})
                      .status());
  return GetProject(session, team_id, id);
}

Result<Project> GetProject(storage::Session& session, const std::string& team_id,
                           const std::string& project_id) {
  if (!IsValidId(project_id)) return Status::NotFound("project", project_id);
  ASSIGN_OR_RETURN(storage::Rows rows,
                   session.Query("SELECT " + std::string(kProjectColumns) +
                                     " FROM projects WHERE id = ? AND team_id = ?",
                                 {project_id, team_id}));
  if (rows.empty()) return Status::NotFound("project", project_id);
  return RowToProject(rows[0]);
}

Result<Project> RenameProject(storage::Session& session, const std::string& team_id,
                              const std::string& project_id, const std::string& name,
                              int64_t now_millis) {
  if (!IsValidId(project_id)) return Status::NotFound("project", project_id);
  ASSIGN_OR_RETURN(int64_t changed, session.Execute("UPDATE projects SET name = ?, updated_at = ? "
                                                    "WHERE id = ? AND team_id = ?",
                                                    {name, now_millis, project_id, team_id}));
  if (changed == 0) return Status::NotFound("project", project_id);
  return GetProject(session, team_id, project_id);
}

Result<Project> DeleteProject(storage::Session& session, const std::string& team_id,
                              const std::string& project_id) {
  // The lock keeps a concurrent video creation from slipping in between the
  // count and the delete.
  RETURN_IF_ERROR(LockTeam(session, team_id));
  ASSIGN_OR_RETURN(Project project, GetProject(session, team_id, project_id));
  ASSIGN_OR_RETURN(storage::Rows count,
                   session.Query("SELECT COUNT(*) FROM videos WHERE project_id = ?", {project_id}));
  int64_t videos = count.empty() ? 0 : count[0].Int(0);
  if (videos > 0) {
    return Status::Conflict("project '" + project_id + "' still holds " + std::to_string(videos) +
                            (videos == 1 ? " video" : " videos") +
                            "; delete them before deleting the project");
  }
  RETURN_IF_ERROR(
      session.Execute("DELETE FROM projects WHERE id = ? AND team_id = ?", {project_id, team_id})
          .status());
  return project;
}

Result<Project> GetOrCreateDefaultProject(storage::Session& session, const std::string& team_id,
                                          int64_t now_millis) {
  RETURN_IF_ERROR(LockTeam(session, team_id));
  ASSIGN_OR_RETURN(storage::Rows rows,
                   session.Query("SELECT " + std::string(kProjectColumns) +
                                     " FROM projects WHERE team_id = ? AND is_default = 1 "
                                     "ORDER BY created_at, id LIMIT 1",
                                 {team_id}));
  if (!rows.empty()) return RowToProject(rows[0]);
  ASSIGN_OR_RETURN(int64_t created_at, NextCreationTime(session, "projects", team_id, now_millis));
  std::string id = NewId();
  RETURN_IF_ERROR(
      session
          .Execute("INSERT INTO projects (id, team_id, name, is_default, created_at, "
                   "updated_at) VALUES (?, ?, ?, 1, ?, ?)",
                   {id, team_id, std::string(kDefaultProjectName), created_at, created_at})
          .status());
  return GetProject(session, team_id, id);
}

Result<Page<Project>> ListProjects(storage::Session& session, const std::string& team_id,
                                   const PageRequest& request) {
  ListQuery query{"projects", std::string(kProjectColumns), "team_id = ?", {team_id}};
  ASSIGN_OR_RETURN(Page<storage::Row> rows, ListRows(session, query, request));
  Page<Project> page;
  page.total = rows.total;
  page.anchor = std::move(rows.anchor);
  page.items.reserve(rows.items.size());
  for (const storage::Row& row : rows.items) page.items.push_back(RowToProject(row));
  return page;
}

}  // namespace vidmill::videos
