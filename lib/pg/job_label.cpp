#include "pg/job_label.hpp"

namespace celeriac::pg {

label label_cache::get(std::string_view text) {
  std::lock_guard lock(mutex_);
  if (!(last_ == text)) last_ = label(text);
  return last_;
}

}  // namespace celeriac::pg
