#include "worker/job_outcomes.hpp"

#include "json/dump.hpp"
#include "json/parse.hpp"
#include "json/value.hpp"

namespace celeriac::worker {

std::string encode_job_outcome(const job_outcome& o) {
  return json::dump(json::object{{"queue", o.queue}, {"state", o.state}, {"error", o.error}, {"raw", o.raw}});
}

std::optional<job_outcome> decode_job_outcome(std::string_view text) {
  auto v = json::parse(text);
  if (!v || !v->is_object()) return std::nullopt;
  job_outcome o;
  for (auto [key, field] : {std::pair{"queue", &o.queue}, {"state", &o.state}, {"error", &o.error}, {"raw", &o.raw}}) {
    const json::value* f = v->find(key);
    if (!f || !f->is_string()) return std::nullopt;
    *field = f->as_string();
  }
  return o;
}

}  // namespace celeriac::worker
