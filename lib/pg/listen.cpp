#include "pg/listen.hpp"

#include <utility>

#include <pqxx/connection>
#include <pqxx/notification>

#include "pg/conninfo.hpp"

namespace celeriac::pg {

namespace {

class collector final : public pqxx::notification_receiver {
public:
  collector(pqxx::connection_base& c, const std::string& channel, std::vector<notification>& sink)
      : pqxx::notification_receiver(c, channel), sink_(sink) {}
  void operator()(const std::string& payload, int backend_pid) override {
    sink_.push_back({channel(), payload, backend_pid});
  }

private:
  std::vector<notification>& sink_;
};

}  // namespace

struct listener::impl {
  impl(const std::string& url, std::string channel_name)
      : channel(std::move(channel_name)),
        conn(with_default_param(with_default_param(url, "connect_timeout", "5"), "application_name",
                                "celeriac-listen")),
        receiver(conn, channel, received) {}

  std::string channel;
  std::vector<notification> received;
  pqxx::connection conn;
  collector receiver;
};

listener::listener(const std::string& url, std::string channel)
    : impl_(std::make_unique<impl>(url, std::move(channel))) {}

listener::~listener() = default;

const std::string& listener::channel() const noexcept { return impl_->channel; }

std::vector<notification> listener::wait(std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  impl_->conn.get_notifs();
  while (impl_->received.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock::now());
    if (left.count() <= 0) break;
    impl_->conn.await_notification(static_cast<long>(left.count() / 1'000'000),
                                   static_cast<long>(left.count() % 1'000'000));
  }
  return std::exchange(impl_->received, {});
}

}  // namespace celeriac::pg
