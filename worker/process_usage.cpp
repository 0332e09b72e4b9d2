#include "worker/process_usage.hpp"

#include <sys/resource.h>

#include <cmath>

#include "celery/inspect_replies.hpp"

namespace celeriac::worker {

namespace {

// The counters after utime, stime and maxrss, in shared_usage's order.
constexpr std::int64_t celery::rusage_figures::*counters[] = {
    &celery::rusage_figures::ixrss,   &celery::rusage_figures::idrss,    &celery::rusage_figures::isrss,
    &celery::rusage_figures::minflt,  &celery::rusage_figures::majflt,   &celery::rusage_figures::nswap,
    &celery::rusage_figures::inblock, &celery::rusage_figures::oublock,  &celery::rusage_figures::msgsnd,
    &celery::rusage_figures::msgrcv,  &celery::rusage_figures::nsignals, &celery::rusage_figures::nvcsw,
    &celery::rusage_figures::nivcsw};

double seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

std::int64_t micros(double seconds) { return std::llround(seconds * 1e6); }

celery::rusage_figures usage(int who) {
  rusage u{};
  ::getrusage(who, &u);
  celery::rusage_figures r;
  r.utime = seconds(u.ru_utime);
  r.stime = seconds(u.ru_stime);
  r.maxrss = u.ru_maxrss;
  const long values[] = {u.ru_ixrss,  u.ru_idrss,  u.ru_isrss,  u.ru_minflt,   u.ru_majflt, u.ru_nswap, u.ru_inblock,
                         u.ru_oublock, u.ru_msgsnd, u.ru_msgrcv, u.ru_nsignals, u.ru_nvcsw,  u.ru_nivcsw};
  static_assert(std::size(values) == std::size(counters));
  for (std::size_t i = 0; i < std::size(counters); ++i) r.*counters[i] = values[i];
  return r;
}

}  // namespace

celery::rusage_figures own_usage() { return usage(RUSAGE_SELF); }

celery::rusage_figures reaped_children_usage() { return usage(RUSAGE_CHILDREN); }

static_assert(3 + std::size(counters) == shared_usage::fields);

void shared_usage::store(const celery::rusage_figures& r) noexcept {
  values_[0].store(micros(r.utime), std::memory_order_relaxed);
  values_[1].store(micros(r.stime), std::memory_order_relaxed);
  values_[2].store(r.maxrss, std::memory_order_relaxed);
  for (std::size_t i = 0; i < std::size(counters); ++i) values_[3 + i].store(r.*counters[i], std::memory_order_relaxed);
}

celery::rusage_figures shared_usage::load() const noexcept {
  celery::rusage_figures r;
  r.utime = static_cast<double>(values_[0].load(std::memory_order_relaxed)) / 1e6;
  r.stime = static_cast<double>(values_[1].load(std::memory_order_relaxed)) / 1e6;
  r.maxrss = values_[2].load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < std::size(counters); ++i) r.*counters[i] = values_[3 + i].load(std::memory_order_relaxed);
  return r;
}

}  // namespace celeriac::worker
