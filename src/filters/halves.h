// Two-way row parallelism for the filters: the machines Vidmill targets have
// few cores and several filters run per frame, so each splits its work in two
// fixed halves rather than sizing a pool.
#ifndef VIDMILL_FILTERS_HALVES_H_
#define VIDMILL_FILTERS_HALVES_H_

namespace vidmill::filters {

// Runs call(context) on the calling thread's helper thread while the caller
// runs `own`, and returns when both are done. The helper is started on a
// thread's first call and kept until that thread ends: a filter splits its
// work a dozen times per picture, and starting a thread each time cost
// 70–130 µs here (a few percent of denoise's time at 576p). `own` may call
// RunBesideHelper again (it then gets a second helper).
void RunBesideHelper(void (*call)(const void*), const void* context, void (*own)(const void*),
                     const void* own_context);

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
  if (!threaded) {
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

}  // namespace vidmill::filters

#endif  // VIDMILL_FILTERS_HALVES_H_
