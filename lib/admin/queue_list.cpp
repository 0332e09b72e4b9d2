#include "admin/queue_list.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace celeriac::admin {

boost::system::result<std::vector<broker::queue_name>, queue_list_error> parse_queue_list(std::string_view text) {
  std::vector<broker::queue_name> out;
  const std::string_view all = text;
  if (text.find_first_not_of(" \t") == std::string_view::npos) return out;
  while (true) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    item = first == std::string_view::npos ? std::string_view{} : item.substr(first, last - first + 1);
    if (item.empty()) return queue_list_error{fmt::format("empty queue name in '{}'", all)};
    std::string why;
    auto name = broker::queue_name::make(item, &why);
    if (!name) return queue_list_error{fmt::format("bad queue name '{}': {}", item, why)};
    if (std::ranges::find(out, *name) == out.end()) out.push_back(std::move(*name));
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace celeriac::admin
