// Two-way row parallelism for the filters: the machines Vidmill targets have
// few cores and several filters run per frame, so each splits its work in two
// fixed halves rather than sizing a pool.
#ifndef VIDMILL_FILTERS_HALVES_H_
#define VIDMILL_FILTERS_HALVES_H_

#include <thread>

namespace vidmill::filters {

// Runs fn(begin, end) on [0, count / 2) and [count / 2, count): the second
// half on a helper thread when `threaded`, else right after the first. The
// split depends on `count` alone — never on `threaded` or on timing — so a
// filter's output is the same however it ran. fn must be safe to run on the
// two halves at once.
template <typename Fn>
void RunInHalves(int count, bool threaded, const Fn& fn) {
  const int middle = count / 2;
  if (middle == 0) {
    fn(0, count);
    return;
  }
  if (!threaded) {
    fn(0, middle);
    fn(middle, count);
    return;
  }
  std::thread helper([&] { fn(middle, count); });
  fn(0, middle);
  helper.join();
}

}  // namespace vidmill::filters

#endif  // VIDMILL_FILTERS_HALVES_H_
