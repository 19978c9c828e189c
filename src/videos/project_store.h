#pragma once
// Projects: named folders of videos, each owned by one team. Every team gets
// a default project, named "Default", the first time it creates a video
// without naming a project.
//
// Team isolation as in video_store.h: another team's project is NotFound.
// Functions that write take the team lock (LockTeam) and must be called
// inside Database::Transaction; reads may run in Database::Run.
//
// Thread safety: free functions on a caller-supplied Session.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/database.h"
#include "videos/paging.h"

namespace vidmill::videos {

inline constexpr std::string_view kDefaultProjectName = "Default";
// Longest project or video name, in characters (Unicode code points).
inline constexpr size_t kMaxNameLength = 255;

struct Project {
  std::string id;
  std::string team_id;
  std::string name;
  bool is_default = false;
  int64_t created_at = 0;  // epoch milliseconds
  int64_t updated_at = 0;
};

// Trims ASCII whitespace from `name` and checks it is 1–kMaxNameLength
// characters with no control characters. `what` names the field in the error
// ("name"). Returns the trimmed name or InvalidArgument.
Result<std::string> NormalizeName(std::string_view name, std::string_view what);

// Creates a project named `name` (already normalised). Transaction only.
Result<Project> CreateProject(storage::Session& session, const std::string& team_id,
                              const std::string& name, int64_t now_millis);

// NotFound for a missing, malformed or other team's id.
Result<Project> GetProject(storage::Session& session, const std::string& team_id,
                           const std::string& project_id);

// Renames and returns the project. NotFound as GetProject.
Result<Project> RenameProject(storage::Session& session, const std::string& team_id,
                              const std::string& project_id, const std::string& name,
                              int64_t now_millis);

// Deletes an empty project and returns it as it was. Conflict while any video
// (original or processed) is still in it. NotFound as GetProject.
// Transaction only.
Result<Project> DeleteProject(storage::Session& session, const std::string& team_id,
                              const std::string& project_id);

// The team's default project, created on first use. Transaction only.
Result<Project> GetOrCreateDefaultProject(storage::Session& session, const std::string& team_id,
                                          int64_t now_millis);

// The team's projects, newest first (see paging.h).
Result<Page<Project>> ListProjects(storage::Session& session, const std::string& team_id,
                                   const PageRequest& request);

}  // namespace vidmill::videos
