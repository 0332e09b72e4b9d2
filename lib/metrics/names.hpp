#pragma once
// What Prometheus accepts as metric and label names (data model, text
// format 0.0.4). The registry checks names when a family is declared, so
// a bad name is a programming error caught by the first scrape in tests,
// never a broken exposition in production.

#include <string_view>

namespace celeriac::metrics {

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name) noexcept;
// [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved).
bool valid_label_name(std::string_view name) noexcept;

}  // namespace celeriac::metrics
