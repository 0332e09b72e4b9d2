#include "tasks/csv_import/pq_session.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "pg/conninfo.hpp"

namespace celeriac::tasks {

namespace {

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Server NOTICEs ("table does not exist, skipping") would go to stderr.
void ignore_notice(void*, const char*) {}

bool connection_class(std::string_view sqlstate) {
  // 08: connection exception; 57P: operator intervention (shutdown, ...).
  return sqlstate.substr(0, 2) == "08" || sqlstate.substr(0, 3) == "57P";
}

}  // namespace

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

void pq_result::deleter::operator()(PGresult* r) const noexcept { PQclear(r); }

pq_result::~pq_result() = default;

int pq_result::rows() const noexcept { return r_ ? PQntuples(r_.get()) : 0; }

bool pq_result::is_null(int row, int column) const noexcept { return PQgetisnull(r_.get(), row, column) != 0; }

std::string_view pq_result::get(int row, int column) const noexcept {
  return {PQgetvalue(r_.get(), row, column), static_cast<std::size_t>(PQgetlength(r_.get(), row, column))};
}

std::int64_t pq_result::get_int(int row, int column) const {
  const std::string_view text = get(row, column);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    throw pq_error(fmt::format("expected a number from the server, got '{}'", text), "", "", false);
  return v;
}

std::int64_t pq_result::affected() const noexcept {
  const char* n = r_ ? PQcmdTuples(r_.get()) : "";
  std::int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

std::string_view pq_result::command_status() const noexcept { return r_ ? PQcmdStatus(r_.get()) : ""; }

// ---------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------

pq_session::pq_session(const std::string& conninfo) : redacted_(pg::redact_conninfo(conninfo)) {
  conn_ = PQconnectdb(conninfo.c_str());
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw pq_error(fmt::format("cannot connect to PostgreSQL at {}: {}", redacted_, why), "", "", true);
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
}

pq_session::~pq_session() {
  if (conn_) PQfinish(conn_);
}

bool pq_session::usable() const noexcept { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

void pq_session::fail(PGresult* r, std::string_view what) {
  std::string sqlstate, column, message, primary;
  if (r) {
    const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* c = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
    const char* p = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    sqlstate = s ? s : "";
    column = c ? c : "";
    primary = p ? p : "";
    message = trimmed(PQresultErrorMessage(r));
    PQclear(r);
  }
  if (message.empty()) message = trimmed(PQerrorMessage(conn_));
  const bool lost = PQstatus(conn_) != CONNECTION_OK || connection_class(sqlstate) || (r == nullptr && sqlstate.empty());
  throw pq_error(fmt::format("{}: {}", what, message), std::move(sqlstate), std::move(column), lost,
                 std::move(primary));
}

pq_result pq_session::check(PGresult* r, std::string_view what, int expected_status) {
  if (!r || PQresultStatus(r) != expected_status) {
    if (r && PQresultStatus(r) == PGRES_COMMAND_OK && expected_status == PGRES_TUPLES_OK) return pq_result(r);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && expected_status == PGRES_COMMAND_OK) return pq_result(r);
    fail(r, what);
  }
  return pq_result(r);
}

pq_result pq_session::exec(const std::string& sql) {
  return check(PQexec(conn_, sql.c_str()), sql.substr(0, sql.find_first_of(" \n")), PGRES_COMMAND_OK);
}

pq_result pq_session::exec_params(const std::string& sql, std::initializer_list<std::optional<std::string_view>> params) {
  std::vector<std::string> owned;
  owned.reserve(params.size());
  std::vector<const char*> values;
  for (const auto& p : params) {
    if (p) {
      owned.emplace_back(*p);  // libpq wants NUL-terminated text
      values.push_back(owned.back().c_str());
    } else {
      values.push_back(nullptr);
    }
  }
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  return check(r, sql.substr(0, sql.find_first_of(" \n")), PGRES_COMMAND_OK);
}

void pq_session::copy_begin(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  if (!r || PQresultStatus(r) != PGRES_COPY_IN) fail(r, "COPY");
  PQclear(r);
}

void pq_session::copy_send(std::string_view bytes) {
  while (!bytes.empty()) {
    // PQputCopyData takes an int length.
    const std::size_t n = std::min<std::size_t>(bytes.size(), std::size_t{1} << 30);
    if (PQputCopyData(conn_, bytes.data(), static_cast<int>(n)) != 1) fail(nullptr, "COPY data");
    bytes.remove_prefix(n);
  }
}

void pq_session::copy_end() {
  if (PQputCopyEnd(conn_, nullptr) != 1) fail(nullptr, "COPY end");
  PGresult* r = PQgetResult(conn_);
  PGresult* first = r;
  // Drain: libpq returns the COPY's result, then nullptr.
  bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  if (ok) {
    PQclear(r);
    while ((r = PQgetResult(conn_)) != nullptr) PQclear(r);
    return;
  }
  while (PGresult* more = PQgetResult(conn_)) PQclear(more);
  fail(first, "COPY");
}

}  // namespace celeriac::tasks
