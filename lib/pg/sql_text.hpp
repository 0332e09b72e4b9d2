#pragma once
// Text that goes into SQL: array literals for multi-row parameters, rows
// for COPY, validated identifiers, and strings made acceptable to a UTF-8
// database.
//
// Values always travel as statement parameters; these helpers only shape
// them. An array literal built here is passed as ONE parameter ($1::text[])
// and unpacked by the server with unnest(), which is how a batch of rows
// stays a single parameterised statement.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace celeriac::pg {

// Builds a PostgreSQL array literal, e.g. {"a","b\"c",NULL,7}. Every
// non-NULL element is double-quoted with `\` and `"` escaped, which is valid
// for every element type the server casts from text (text, bigint, jsonb,
// timestamptz, ...).
class array_literal {
public:
  array_literal() { text_.push_back('{'); }

  void add_null();
  void add(std::string_view element);
  void add(std::int64_t element);
  // NULL when empty.
  template <class T>
  void add(const std::optional<T>& element) {
    element ? add(*element) : add_null();
  }

  // The literal with its closing brace; the builder is left empty.
  std::string finish();

private:
  void separator_();
  std::string text_;
  bool empty_ = true;
};

// Builds rows in COPY's text format (COPY ... FROM STDIN): fields separated
// by tabs, rows ended by newlines, \N for NULL, and backslash, tab, newline
// and carriage return escaped with a backslash. Text must be valid in the
// server's encoding (sanitize_utf8) and hold no NUL byte.
class copy_text {
public:
  void add_null();
  void add(std::string_view field);
  void add(std::int64_t field);
  // NULL when empty.
  template <class T>
  void add(const std::optional<T>& field) {
    field ? add(*field) : add_null();
  }
  void end_row();

  // The rows so far, each ended by a newline; the builder is left empty.
  std::string finish();
  // The rows so far, for a caller that sends them in chunks and clears the
  // text afterwards (keeping its capacity).
  std::string& text() noexcept { return text_; }

private:
  void separator_();
  std::string text_;
  bool row_started_ = false;
};

// True for names safe to quote into DDL: 1 to 63 bytes (PostgreSQL's
// NAMEDATALEN limit) of ASCII letters, digits and '_', not starting with a
// digit.
bool valid_identifier(std::string_view name) noexcept;

// "name" in double quotes. Throws std::invalid_argument naming the value and
// the rule when !valid_identifier(name).
std::string quote_identifier(std::string_view name);

// Replaces every byte sequence that is not valid UTF-8, and every NUL byte
// (which PostgreSQL text cannot hold), with U+FFFD. Leaves valid text as is.
void sanitize_utf8(std::string& text);

// True when sanitize_utf8 would leave `text` as it is.
bool is_clean_utf8(std::string_view text) noexcept;

// Cuts text to at most max_bytes without splitting a UTF-8 sequence.
void truncate_utf8(std::string& text, std::size_t max_bytes);

}  // namespace celeriac::pg
