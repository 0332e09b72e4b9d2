#pragma once
// The labels every update of a job may carry (task name, queue, worker):
// immutable text shared between copies. Copying one copies a pointer, so
// the job store holds no string of its own per job for text that is the
// same for thousands of them, and the allocator is not left with one more
// long-lived small block per job.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace celeriac::pg {

class label {
public:
  label() = default;  // empty text
  label(std::string text) : text_(std::make_shared<const std::string>(std::move(text))) {}
  label(std::string_view text) : label(std::string(text)) {}
  label(const char* text) : label(std::string(text)) {}

  std::string_view view() const noexcept { return text_ ? std::string_view(*text_) : std::string_view(); }

  friend bool operator==(const label& a, const label& b) noexcept { return a.view() == b.view(); }
  friend bool operator==(const label& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator==(const label& a, const std::string& b) noexcept { return a.view() == b; }
  friend bool operator==(const label& a, const char* b) noexcept { return a.view() == b; }

private:
  std::shared_ptr<const std::string> text_;
};

// Hands out the same label for the same text as the previous call, which
// is what a stream of tasks mostly asks for (one task name, one queue).
// Thread-safe.
class label_cache {
public:
  label get(std::string_view text);

private:
  std::mutex mutex_;
  label last_;
};

}  // namespace celeriac::pg
