// `vidmill user …` and `vidmill team …`: the operator's account administration.
// Each works on the same store as `serve` (and while it runs), prints a JSON
// line on success, and exits non-zero with a one-line message on error.

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "accounts/account_service.h"
#include "app/commands.h"
#include "app/server_flags.h"
#include "common/clock.h"

namespace vidmill::app {
namespace {

int Fail(const std::string& command, const std::string& message, int code = 1) {
  std::fprintf(stderr, "vidmill %s: %s\n", command.c_str(), message.c_str());
  return code;
}

struct Admin {
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<accounts::AccountService> accounts;
};

// Parses the flags after `vidmill <noun> <verb> [operands]` and opens the
// store.
Result<std::pair<Flags, Admin>> Open(const std::vector<FlagSpec>& own, int argc, char** argv,
                                     const char* operands = "") {
  std::vector<FlagSpec> specs = StoreFlags();
  specs.insert(specs.end(), own.begin(), own.end());
  specs.push_back({"help", "", "print this help", true});
  ASSIGN_OR_RETURN(Flags flags, Flags::Parse(specs, argc, argv, 3));
  if (flags.Has("help")) {
    // Before the store is opened: the usage needs no database or media dir.
    std::printf("usage: vidmill %s %s %s[flags]\n%s", argv[1], argv[2], operands,
                Flags::Usage(specs).c_str());
    std::exit(0);
  }
  ASSIGN_OR_RETURN(StoreConfig store, ResolveStore(flags));
  Admin admin;
  ASSIGN_OR_RETURN(admin.db, storage::OpenDatabase(store.database_url));
  admin.accounts = std::make_unique<accounts::AccountService>(
      admin.db.get(), &SystemClock::Instance(), accounts::AccountOptions{});
  return std::make_pair(std::move(flags), std::move(admin));
}

// Open's failure, with StartFailureExitCode's status: the database refusing
// or away is 1, as for the store refusing the request.
int FailOpen(const std::string& command, const Status& status) {
  return Fail(command, status.message(), StartFailureExitCode(status));
}

// `vidmill user --help`: prints `usage` (the verbs, each with its own --help)
// and says so.
bool PrintedHelp(int argc, char** argv, const char* usage) {
  if (argc <= 2) return false;
  const std::string verb = argv[2];
  if (verb != "--help" && verb != "-h" && verb != "help") return false;
  std::printf("%s\n", usage);
  return true;
}

Status Require(const Flags& flags, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (flags.Get(name).empty())
      return Status::InvalidArgument(std::string("--") + name + " is required");
  }
  return Status::Ok();
}

}  // namespace

int RunUser(int argc, char** argv) {
  static constexpr char kUsage[] =
      "usage: vidmill user add|ban|unban --email E [--password P] [--name N] [--team NAME] "
      "[--reason R]\n(vidmill user VERB --help lists a verb's flags)";
  if (PrintedHelp(argc, argv, kUsage)) return 0;
  std::string verb = argc > 2 ? argv[2] : "";
  std::string command = "user " + verb;
  if (verb == "add") {
    auto opened = Open({{"email", "", "e-mail address (the login)"},
                        {"password", "", "password, 8 to 1024 bytes"},
                        {"name", "", "display name"},
                        {"team", "", "team to join; created when missing"}},
                       argc, argv);
    if (!opened.ok()) return FailOpen(command, opened.status());
    auto& [flags, admin] = *opened;
    if (Status s = Require(flags, {"email", "password"}); !s.ok())
      return Fail(command, s.message(), 2);
    auto made = admin.accounts->AddUser(flags.Get("email"), flags.Get("password"),
                                        flags.Get("name"), flags.Get("team"));
    if (!made.ok()) return Fail(command, made.status().message());
    std::printf("%s\n", boost::json::serialize(boost::json::object{{"userId", made->first.id},
                                                                   {"teamId", made->second.id}})
                            .c_str());
    return 0;
  }
  if (verb == "ban") {
    auto opened =
        Open({{"email", "", "the user's e-mail"}, {"reason", "", "shown to the user"}}, argc, argv);
    if (!opened.ok()) return FailOpen(command, opened.status());
    auto& [flags, admin] = *opened;
    if (Status s = Require(flags, {"email", "reason"}); !s.ok())
      return Fail(command, s.message(), 2);
    if (Status s = admin.accounts->BanUser(flags.Get("email"), flags.Get("reason")); !s.ok()) {
      return Fail(command, s.message());
    }
    std::printf(
        "%s\n",
        boost::json::serialize(boost::json::object{{"banned", flags.Get("email")}}).c_str());
    return 0;
  }
  if (verb == "unban") {
    auto opened = Open({{"email", "", "the user's e-mail"}}, argc, argv);
    if (!opened.ok()) return FailOpen(command, opened.status());
    auto& [flags, admin] = *opened;
    if (Status s = Require(flags, {"email"}); !s.ok()) return Fail(command, s.message(), 2);
    if (Status s = admin.accounts->UnbanUser(flags.Get("email")); !s.ok()) {
      return Fail(command, s.message());
    }
    std::printf(
        "%s\n",
        boost::json::serialize(boost::json::object{{"unbanned", flags.Get("email")}}).c_str());
    return 0;
  }
  return Fail("user", kUsage, 2);
}

int RunTeam(int argc, char** argv) {
  static constexpr char kUsage[] =
      "usage: vidmill team add NAME | vidmill team add-member --team NAME --email E\n"
      "(vidmill team VERB --help lists a verb's flags)";
  if (PrintedHelp(argc, argv, kUsage)) return 0;
  std::string verb = argc > 2 ? argv[2] : "";
  std::string command = "team " + verb;
  if (verb == "add") {
    // `vidmill team add NAME`: the name is positional.
    auto opened = Open({}, argc, argv, "NAME ");
    if (!opened.ok()) return FailOpen(command, opened.status());
    auto& [flags, admin] = *opened;
    if (flags.positional().size() != 1) return Fail(command, "usage: vidmill team add NAME", 2);
    auto team = admin.accounts->AddTeam(flags.positional()[0]);
    if (!team.ok()) return Fail(command, team.status().message());
    std::printf("%s\n", boost::json::serialize(
                            boost::json::object{{"teamId", team->id}, {"name", team->name}})
                            .c_str());
    return 0;
  }
  if (verb == "add-member") {
    auto opened = Open({{"team", "", "team name"}, {"email", "", "the user's e-mail"}}, argc, argv);
    if (!opened.ok()) return FailOpen(command, opened.status());
    auto& [flags, admin] = *opened;
    if (Status s = Require(flags, {"team", "email"}); !s.ok()) return Fail(command, s.message(), 2);
    if (Status s = admin.accounts->AddMember(flags.Get("team"), flags.Get("email")); !s.ok()) {
      return Fail(command, s.message());
    }
    std::printf("%s\n", boost::json::serialize(boost::json::object{{"team", flags.Get("team")},
                                                                   {"added", flags.Get("email")}})
                            .c_str());
    return 0;
  }
  return Fail("team", kUsage, 2);
}

}  // namespace vidmill::app
