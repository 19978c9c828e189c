#pragma once
// Command-line flags with environment fallbacks.
//
// Every subcommand declares the flags it accepts; a flag `--token-ttl` may also
// be given as the environment variable VIDMILL_TOKEN_TTL (switches only on the
// command line). Precedence: command line, then environment, then the declared
// default. Unknown flags are an
// error so a typo never silently does nothing.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vidmill {

struct FlagSpec {
  std::string name;           // without dashes: "token-ttl"
  std::string default_value;  // "" means unset unless given
  std::string help;
  bool is_switch = false;     // takes no value: present means "true"
};

class Flags {
 public:
  // Parses argv[first..argc). Positional arguments are kept in order.
  static Result<Flags> Parse(const std::vector<FlagSpec>& specs, int argc, char** argv, int first,
                             bool use_environment = true);

  bool Has(const std::string& name) const;
  std::string Get(const std::string& name) const;
  Result<int64_t> GetInt(const std::string& name, int64_t min, int64_t max) const;
  const std::vector<std::string>& positional() const { return positional_; }

  static std::string EnvName(const std::string& flag_name);
  static std::string Usage(const std::vector<FlagSpec>& specs);

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// Whether the environment variable `name` turns its switch on: set to
// anything but empty, 0, false, no or off (in any case), so that
// VIDMILL_ONE_THREAD=0 means what it says.
bool EnvironmentSwitchOn(const char* name);

}  // namespace vidmill
