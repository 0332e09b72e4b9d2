#pragma once
// When a destructive command may go on (pure: the caller says whether
// stdin is a terminal and reads the answer).

#include <string_view>

namespace celeriac::admin {

enum class confirmation {
  proceed,  // --force
  ask,      // a person is at the terminal: ask them to type yes
  refuse,   // no terminal and no --force: nobody can confirm
};

confirmation confirmation_needed(bool force, bool stdin_is_terminal) noexcept;

// True only for "yes" (any case, surrounding blanks ignored): "y" is too
// easy to type by reflex before deleting messages for good.
bool confirmed(std::string_view answer) noexcept;

}  // namespace celeriac::admin
