#include "worker/process_usage.hpp"

#include <sys/resource.h>

#include <cmath>

#include "celery/inspect_replies.hpp"

namespace celeriac::worker {

namespace {

double seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

std::int64_t micros(double seconds) { return std::llround(seconds * 1e6); }

celery::rusage_figures usage(int who) {
  rusage u{};
  ::getrusage(who, &u);
  celery::rusage_figures r;
  r.utime = seconds(u.ru_utime);
  r.stime = seconds(u.ru_stime);
  r.maxrss = u.ru_maxrss;
  r.ixrss = u.ru_ixrss;
  r.idrss = u.ru_idrss;
  r.isrss = u.ru_isrss;
  r.minflt = u.ru_minflt;
  r.majflt = u.ru_majflt;
  r.nswap = u.ru_nswap;
  r.inblock = u.ru_inblock;
  r.oublock = u.ru_oublock;
  r.msgsnd = u.ru_msgsnd;
  r.msgrcv = u.ru_msgrcv;
  r.nsignals = u.ru_nsignals;
  r.nvcsw = u.ru_nvcsw;
  r.nivcsw = u.ru_nivcsw;
  return r;
}

}  // namespace

celery::rusage_figures own_usage() { return usage(RUSAGE_SELF); }

celery::rusage_figures reaped_children_usage() { return usage(RUSAGE_CHILDREN); }

static_assert(3 + std::size(celery::rusage_counters) == shared_usage::fields);

void shared_usage::store(const celery::rusage_figures& r) noexcept {
  values_[0].store(micros(r.utime), std::memory_order_relaxed);
  values_[1].store(micros(r.stime), std::memory_order_relaxed);
  values_[2].store(r.maxrss, std::memory_order_relaxed);
  std::size_t i = 3;
  for (const auto& c : celery::rusage_counters) values_[i++].store(r.*c.field, std::memory_order_relaxed);
}

celery::rusage_figures shared_usage::load() const noexcept {
  celery::rusage_figures r;
  r.utime = static_cast<double>(values_[0].load(std::memory_order_relaxed)) / 1e6;
  r.stime = static_cast<double>(values_[1].load(std::memory_order_relaxed)) / 1e6;
  r.maxrss = values_[2].load(std::memory_order_relaxed);
  std::size_t i = 3;
  for (const auto& c : celery::rusage_counters) r.*c.field = values_[i++].load(std::memory_order_relaxed);
  return r;
}

}  // namespace celeriac::worker
