#include "pg/job_state.hpp"

#include <array>
#include <utility>

namespace celeriac::pg {
namespace {

constexpr std::array<std::pair<job_state, std::string_view>, 7> names{{
    {job_state::received, "RECEIVED"},
    {job_state::started, "STARTED"},
    {job_state::progress, "PROGRESS"},
    {job_state::retry, "RETRY"},
    {job_state::success, "SUCCESS"},
    {job_state::failure, "FAILURE"},
    {job_state::revoked, "REVOKED"},
}};

}  // namespace

std::string_view to_string(job_state s) noexcept {
  for (const auto& [state, name] : names)
    if (state == s) return name;
  return "UNKNOWN";
}

std::optional<job_state> parse_job_state(std::string_view text) noexcept {
  for (const auto& [state, name] : names)
    if (name == text) return state;
  return std::nullopt;
}

}  // namespace celeriac::pg
