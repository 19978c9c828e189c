#include "common/thread_name.h"

#include <pthread.h>

#include <string>

namespace vidmill {

void NameThisThread(std::string_view name) {
  std::string shortened(name.substr(0, 15));
  pthread_setname_np(pthread_self(), shortened.c_str());
}

}  // namespace vidmill
