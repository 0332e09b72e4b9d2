#include "admin/confirm.hpp"

#include <cctype>

namespace celeriac::admin {

confirmation confirmation_needed(bool force, bool stdin_is_terminal) noexcept {
  if (force) return confirmation::proceed;
  return stdin_is_terminal ? confirmation::ask : confirmation::refuse;
}

bool confirmed(std::string_view answer) noexcept {
  const auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!answer.empty() && blank(answer.front())) answer.remove_prefix(1);
  while (!answer.empty() && blank(answer.back())) answer.remove_suffix(1);
  if (answer.size() != 3) return false;
  const char* yes = "yes";
  for (std::size_t i = 0; i < 3; ++i)
    if (std::tolower(static_cast<unsigned char>(answer[i])) != yes[i]) return false;
  return true;
}

}  // namespace celeriac::admin
