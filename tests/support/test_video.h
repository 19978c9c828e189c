#pragma once
// A video row for tests of what hangs on one (jobs, media): a new team, its
// default project and a video named "clip" in it, inserted in `session`.

#include <cstdint>
#include <string>

#include "common/ids.h"
#include "common/status.h"
#include "storage/database.h"
#include "videos/video_store.h"

namespace vidmill::test {

// Returns the video's id.
inline Result<std::string> InsertTestVideo(storage::Session& session, int64_t now) {
  const std::string team = NewId();
  const std::string project = NewId();
  RETURN_IF_ERROR(session
                      .Execute("INSERT INTO teams (id, name, created_at, updated_at) "
                               "VALUES (?, 'team', 1, 1)",
                               {team})
                      .status());
  RETURN_IF_ERROR(session
                      .Execute("INSERT INTO projects (id, team_id, name, is_default, "
                               "created_at, updated_at) VALUES (?, ?, 'default', 1, 1, 1)",
                               {project, team})
                      .status());
  ASSIGN_OR_RETURN(videos::Video video,
                   videos::InsertVideo(session,
                                       videos::NewVideo{.team_id = team,
                                                        .project_id = project,
                                                        .user_id = NewId(),
                                                        .name = "clip"},
                                       now));
  return video.id;
}

}  // namespace vidmill::test
