#include "common/flags.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace vidmill {

std::string Flags::EnvName(const std::string& flag_name) {
  std::string env = "VIDMILL_";
  for (char c : flag_name) {
    env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return env;
}

std::string Flags::Usage(const std::vector<FlagSpec>& specs) {
  std::string out;
  for (const FlagSpec& spec : specs) {
    out += "  --" + spec.name;
    if (!spec.is_switch) out += " VALUE";
    out += "\n      " + spec.help;
    if (!spec.default_value.empty()) out += " (default: " + spec.default_value + ")";
    // A switch is read from the command line only (Parse).
    out += spec.is_switch ? std::string("\n") : "; env " + EnvName(spec.name) + "\n";
  }
  return out;
}

Result<Flags> Flags::Parse(const std::vector<FlagSpec>& specs, int argc, char** argv, int first,
                           bool use_environment) {
  Flags flags;
  auto find_spec = [&](const std::string& name) -> const FlagSpec* {
    for (const FlagSpec& spec : specs) {
      if (spec.name == name) return &spec;
    }
    return nullptr;
  };
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      flags.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = find_spec(name);
    if (spec == nullptr) {
      return Status::InvalidArgument("unknown flag --" + name);
    }
    if (spec->is_switch) {
      flags.values_[name] = value.value_or("true");
      continue;
    }
    if (!value) {
      if (i + 1 >= argc) {
        return Status::InvalidArgument("flag --" + name + " needs a value");
      }
      value = argv[++i];
    }
    flags.values_[name] = *value;
  }
  for (const FlagSpec& spec : specs) {
    if (flags.values_.count(spec.name)) continue;
    // A switch (--help) is asked for on the command line only: read from the
    // environment, VIDMILL_HELP, whatever its value, would turn a command into
    // its help.
    if (use_environment && !spec.is_switch) {
      if (const char* env = std::getenv(EnvName(spec.name).c_str()); env != nullptr) {
        flags.values_[spec.name] = env;
        continue;
      }
    }
    if (!spec.default_value.empty()) {
      flags.values_[spec.name] = spec.default_value;
    }
  }
  return flags;
}

bool Flags::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string Flags::Get(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

Result<int64_t> Flags::GetInt(const std::string& name, int64_t min, int64_t max) const {
  std::string text = Get(name);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("--" + name + " must be an integer, got '" + text + "'");
  }
  if (value < min || value > max) {
    return Status::InvalidArgument("--" + name + " must be between " + std::to_string(min) +
                                   " and " + std::to_string(max) + ", got " + text);
  }
  return value;
}

bool EnvironmentSwitchOn(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return false;
  std::string lower(value);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !(lower.empty() || lower == "0" || lower == "false" || lower == "no" || lower == "off");
}

}  // namespace vidmill
