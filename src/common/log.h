#pragma once
// Minimal structured logging to stderr: one line per event, with a UTC
// timestamp and level. Thread-safe (a line is written with one write(2)).
// Never log secrets: passwords, tokens, keys, signature secrets.

#include <string_view>

namespace vidmill {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(std::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(std::string_view message) { Log(LogLevel::kError, message); }

}  // namespace vidmill
