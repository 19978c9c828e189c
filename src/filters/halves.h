// Two-way row parallelism for the filters: the machines Vidmill targets have
// few cores and several filters run per frame, so each splits its work in two
// fixed halves, or in fixed chunks that two threads take in turn, rather than
// sizing a pool.
#ifndef VIDMILL_FILTERS_HALVES_H_
#define VIDMILL_FILTERS_HALVES_H_

#include <atomic>

namespace vidmill::filters {

// Runs call(context) on the calling thread's helper thread while the caller
// runs `own`, and returns when both are done. The helper is started on a
// thread's first call and kept until that thread ends: a filter splits its
// work a dozen times per picture, and starting a thread each time cost
// 70–130 µs here (a few percent of denoise's time at 576p). Between tasks,
// and while the caller waits for the helper's part, each polls briefly
// before it sleeps (halves.cc). `own` may call RunBesideHelper again (it then
// gets a second helper).
void RunBesideHelper(void (*call)(const void*), const void* context, void (*own)(const void*),
                     const void* own_context);

// False when the environment sets VIDMILL_ONE_THREAD (read at each call): then
// RunInHalves and RunInChunks run everything on the calling thread, as with
// `threaded` false, to measure one thread's speed or to check that the
// results do not depend on the threads.
bool HelperThreadsAllowed();

// Runs fn(begin, end) on [0, count / 2) and [count / 2, count): the second
// half on the helper thread when `threaded`, else right after the first. The
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
  if (!threaded || !HelperThreadsAllowed()) {
    fn(0, middle);
    fn(middle, count);
    return;
  }
  struct Halves {
    const Fn& fn;
    int middle, count;
  } halves{fn, middle, count};
  RunBesideHelper(
      [](const void* p) {
        const auto& h = *static_cast<const Halves*>(p);
        h.fn(h.middle, h.count);
      },
      &halves,
      [](const void* p) {
        const auto& h = *static_cast<const Halves*>(p);
        h.fn(0, h.middle);
      },
      &halves);
}

// Runs fn(chunk) for every chunk in [0, count) once, on the calling thread
// and, when `threaded`, its helper thread too, each taking the next chunk
// not yet taken: work whose cost varies from chunk to chunk (or whose
// threads get unequal shares of the machine) keeps both threads busy to the
// end, where fixed halves leave one waiting. Which thread runs a chunk, and
// when, depends on timing: fn must give the same result whatever the order,
// so chunks must not depend on one another. fn must not throw.
template <typename Fn>
void RunInChunks(int count, bool threaded, const Fn& fn) {
  std::atomic<int> next{0};
  auto take = [&] {
    for (int chunk = next.fetch_add(1); chunk < count; chunk = next.fetch_add(1)) fn(chunk);
  };
  if (!threaded || count < 2 || !HelperThreadsAllowed()) {
    take();
    return;
  }
  RunInHalves(2, true, [&](int, int) { take(); });
}

}  // namespace vidmill::filters

#endif  // VIDMILL_FILTERS_HALVES_H_
