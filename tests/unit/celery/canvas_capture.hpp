#pragma once
// Reading canvas_worker_<shape>.json (what a Celery 5.2.6 worker consumed,
// published and stored for one canvas; see canvas_worker.gen.py) and
// comparing messages with fresh ids.

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "celery/message_codec.hpp"
#include "celery/result_meta.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"
#include "util/uuid.hpp"

namespace celeriac::test {

// The parts of a message that say what runs, with what, and where it
// belongs (everything but the per-publish noise: delivery tag, origin,
// reply_to, eta).
inline json::value summary(const celery::task_message& m) {
  auto opt = [](const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); };
  return json::object{{"queue", m.properties.delivery_info.routing_key},
                      {"task", m.headers.task},
                      {"id", m.headers.id},
                      {"group", opt(m.headers.group)},
                      {"group_index", m.headers.group_index ? json::value(*m.headers.group_index) : nullptr},
                      {"parent_id", opt(m.headers.parent_id)},
                      {"root_id", opt(m.headers.root_id)},
                      {"argsrepr", m.headers.argsrepr},
                      {"args", m.args},
                      {"kwargs", m.kwargs},
                      {"callbacks", m.embed.callbacks},
                      {"errbacks", m.embed.errbacks},
                      {"chain", m.embed.chain},
                      {"chord", m.embed.chord}};
}

namespace detail {

inline void normalize(json::value& v, std::map<std::string, std::string>& ids) {
  if (v.is_string()) {
    const std::string& s = v.as_string();
    if (util::is_uuid(s)) {
      auto [it, added] = ids.try_emplace(s, fmt::format("U{}", ids.size() + 1));
      v = it->second;
    } else if (s.starts_with("celery-taskset-meta-") && s.size() >= 56 && util::is_uuid(s.substr(20, 36))) {
      auto [it, added] = ids.try_emplace(s.substr(20, 36), fmt::format("U{}", ids.size() + 1));
      v = "celery-taskset-meta-" + it->second + s.substr(56);
    }
  } else if (v.is_array()) {
    for (auto& item : v.as_array()) normalize(item, ids);
  } else if (v.is_object()) {
    for (auto& [k, item] : v.as_object()) {
      if (k == "reply_to")
        item = "R";
      else
        normalize(item, ids);
    }
  }
}

}  // namespace detail

// v with every uuid renamed U1, U2... in order of first appearance (so two
// documents built alike compare equal whatever fresh ids they hold) and
// every reply_to (the publishing process's id) as "R".
inline json::value comparable(json::value v) {
  std::map<std::string, std::string> ids;
  detail::normalize(v, ids);
  return v;
}

struct canvas_capture {
  std::vector<celery::task_message> consumed;
  json::array published;       // summaries, in publish order
  json::array taskset_writes;  // [key, value]
  std::map<std::string, std::string> metas;

  static canvas_capture load(std::string_view shape) {
    auto data = json::parse(wire_fixture(fmt::format("canvas_worker_{}.json", shape)));
    REQUIRE(data);
    canvas_capture c;
    for (const auto& e : data->find("consumed")->as_array()) {
      auto m = celery::decode_message(e.as_string());
      REQUIRE_MESSAGE(m.has_value(), m.error());
      c.consumed.push_back(std::move(*m));
    }
    for (const auto& p : data->find("published")->as_array()) {
      auto m = celery::decode_message(p.as_array()[1].as_string());
      REQUIRE_MESSAGE(m.has_value(), m.error());
      c.published.push_back(summary(*m));
    }
    for (const auto& w : data->find("taskset_writes")->as_array())
      c.taskset_writes.push_back(json::array{w.as_array()[1], w.as_array()[2]});
    for (const auto& [id, text] : data->find("metas")->as_object()) c.metas[id] = text.as_string();
    return c;
  }

  celery::result_meta meta_of(const std::string& id) const {
    auto it = metas.find(id);
    REQUIRE_MESSAGE(it != metas.end(), "no stored result for " << id);
    auto m = celery::decode_result_meta(it->second);
    REQUIRE(m);
    return *m;
  }
  json::value result_of(const std::string& id) const { return meta_of(id).result; }
};

}  // namespace celeriac::test
