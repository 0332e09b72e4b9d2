#include "redis/client_list.hpp"

#include <charconv>
#include <optional>

namespace celeriac::redis {
namespace {

// The value of `field` in one CLIENT LIST line, if present.
std::optional<std::string_view> field_of(std::string_view line, std::string_view field) {
  while (!line.empty()) {
    const std::size_t end = line.find(' ');
    const std::string_view pair = line.substr(0, end);
    if (pair.size() > field.size() && pair.substr(0, field.size()) == field && pair[field.size()] == '=')
      return pair.substr(field.size() + 1);
    if (end == std::string_view::npos) break;
    line.remove_prefix(end + 1);
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::int64_t> client_ids_named(std::string_view client_list, std::string_view name) {
  std::vector<std::int64_t> ids;
  while (!client_list.empty()) {
    const std::size_t end = client_list.find('\n');
    std::string_view line = client_list.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (field_of(line, "name") == name) {
      if (const auto id = field_of(line, "id")) {
        std::int64_t n = 0;
        const auto [p, ec] = std::from_chars(id->data(), id->data() + id->size(), n);
        if (ec == std::errc{} && p == id->data() + id->size()) ids.push_back(n);
      }
    }
    if (end == std::string_view::npos) break;
    client_list.remove_prefix(end + 1);
  }
  return ids;
}

}  // namespace celeriac::redis
