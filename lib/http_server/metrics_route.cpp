#include "http_server/metrics_route.hpp"

#include <exception>

#include <fmt/format.h>

#include "metrics/text_format.hpp"
#include "util/log.hpp"

namespace celeriac::http_server {

handler metrics_handler(render_metrics render) {
  return [render = std::move(render)](std::string_view method,
                                      std::string_view target) -> boost::asio::awaitable<response> {
    const std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics") co_return response{404, "text/plain; charset=utf-8", "not found: try /metrics\n", {}};
    if (method != "GET") co_return response{405, "text/plain; charset=utf-8", "only GET\n", "GET"};
    std::string failure;
    try {
      std::string body = co_await render();
      co_return response{200, std::string(metrics::content_type), std::move(body), {}};
    } catch (const std::exception& e) {
      failure = e.what();
    }
    log::warning("metrics: a scrape failed: {}", failure);
    co_return response{500, "text/plain; charset=utf-8", fmt::format("metrics unavailable: {}\n", failure), {}};
  };
}

}  // namespace celeriac::http_server
