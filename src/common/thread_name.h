#pragma once
// Names the calling thread for top -H, pidstat -t, gdb and /proc (Linux keeps
// 15 bytes of it). Vidmill's threads start with "vm-"; libav's own are the
// ones without a name of their own (they show the program's).

#include <string_view>

namespace vidmill {

void NameThisThread(std::string_view name);

}  // namespace vidmill
