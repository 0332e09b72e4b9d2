#pragma once
// Reading the Celery wire captures copied into tests/fixtures/celery-wire.

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace celeriac::test {

// The exact bytes of tests/fixtures/celery-wire/<name>; throws when missing
// so a typo fails loudly instead of comparing against "".
inline std::string wire_fixture(std::string_view name) {
  std::string path = std::string(CELERIAC_FIXTURES_DIR) + "/celery-wire/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Every task-message sample captured from Celery 5.2.6 / kombu 5.2.4.
inline constexpr std::string_view task_message_samples[] = {
    "apply_async_plain.json",
    "apply_async_kwargs.json",
    "countdown.json",
    "eta.json",
    "expires.json",
    "priority2.json",
    "priority5.json",
    "priority9.json",
    "queue_csv.json",
    "retries_header.json",
    "options_full.json",
    "send_task.json",
    "send_task_unknown.json",
    "chain.json",
    "chain3.json",
    "group_0.json",
    "group_1.json",
    "chord_0.json",
    "chord_1.json",
    "beat_message.json",
    "beat_message_1.json",
    "retry_message.json",
    "chain_next_message.json",
    "chord_callback_message.json",
    "requeued_by_reject_message.json",
    "restored_unacked_message.json",
    "restored_unacked_message_extra.json",
    "restored_unacked_original.json",
    "requeued_by_reject_original.json",
    "retry_original.json",
    "chain_first_message.json",
    "chord_header_completing_message.json",
};

}  // namespace celeriac::test
