#pragma once
// The cache key of a merchant name: what "STARBUCKS #1234 SEATTLE WA" and
// "Starbucks Store 0042" have in common. The rules, with examples, are in
// docs/llm-normalization.md; keep the two in step.

#include <string>
#include <string_view>

namespace celeriac::tasks::llm {

// Lower-cased, trimmed, whitespace collapsed, card-processor prefixes,
// store numbers, reference codes, phone numbers and a trailing "CITY ST"
// stripped. Never empty for a name with a visible character; idempotent.
std::string normalize_merchant(std::string_view raw);

}  // namespace celeriac::tasks::llm
