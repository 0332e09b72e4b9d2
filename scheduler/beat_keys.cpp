#include "scheduler/beat_keys.hpp"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/string_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <string>

#include <fmt/format.h>

namespace celeriac::scheduler {

namespace {

// RFC 4122 appendix C: the namespace for URLs (Python's uuid.NAMESPACE_URL).
constexpr std::string_view namespace_url = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

constexpr std::size_t max_beat_name_length = 100;

}  // namespace

beat_keys make_beat_keys(std::string_view name) {
  const std::string prefix = fmt::format("celeriac.beat.{}", name);
  return {prefix + ":lease", prefix + ":last", prefix + ":fingerprint"};
}

std::optional<std::string> beat_name_problem(std::string_view name) {
  if (name.empty()) return std::string("must not be empty");
  if (name.size() > max_beat_name_length) return fmt::format("is longer than {} characters", max_beat_name_length);
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '-';
    if (!ok) return std::string("may hold only letters, digits and \"_.:-\"");
  }
  return std::nullopt;
}

std::string entry_fingerprint(const schedule_entry& entry) {
  if (const auto* i = entry.when.interval(); i != nullptr) return fmt::format("every {}s", i->period().count());
  return fmt::format("{} in {}", entry.when.describe(), entry.timezone_name);
}

std::string uuid5(std::string_view ns, std::string_view name) {
  const boost::uuids::uuid ns_uuid = boost::uuids::string_generator{}(ns.begin(), ns.end());
  return boost::uuids::to_string(boost::uuids::name_generator_sha1{ns_uuid}(name.data(), name.size()));
}

std::string tick_task_id(std::string_view beat_name, std::string_view entry, std::chrono::sys_seconds tick) {
  return uuid5(namespace_url,
               fmt::format("celeriac-beat:{}/{}@{}", beat_name, entry, tick.time_since_epoch().count()));
}

}  // namespace celeriac::scheduler
