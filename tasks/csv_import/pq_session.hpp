#pragma once
// A dedicated libpq connection for bulk loading: plain statements, text
// parameters, and COPY ... FROM STDIN fed with PQputCopyData (libpqxx 6.4
// only streams text COPY, and its connection hides the PGconn).
//
// Blocking, single-threaded: one import on one executor thread owns it.
// Every failure throws pq_error, which says whether the connection was
// lost (reconnect and resume from the checkpoint) or the server refused
// the statement (with its SQLSTATE, e.g. class 22/23 for bad data).

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace celeriac::tasks {

class pq_error : public std::runtime_error {
public:
  pq_error(const std::string& message, std::string sqlstate, std::string column, bool connection_lost,
           std::string primary = {})
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        column_(std::move(column)),
        primary_(std::move(primary)),
        connection_lost_(connection_lost) {}

  // Five characters, or empty when the failure is not the server's answer.
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  // The column the server blamed (PG_DIAG_COLUMN_NAME), if it named one.
  const std::string& column() const noexcept { return column_; }
  // The server's one-line message (PG_DIAG_MESSAGE_PRIMARY), or what().
  std::string primary() const { return primary_.empty() ? std::string(what()) : primary_; }
  // The connection is gone (or unusable): nothing uncommitted survived.
  bool connection_lost() const noexcept { return connection_lost_; }
  // The server refused the data (SQLSTATE class 22 data exception or 23
  // integrity constraint violation): another row might go through.
  bool data_error() const noexcept {
    return sqlstate_.size() == 5 && (sqlstate_.compare(0, 2, "22") == 0 || sqlstate_.compare(0, 2, "23") == 0);
  }
  // The server rolled the transaction back for a reason that may not
  // recur (serialization failure 40001, deadlock 40P01): run it again.
  bool transient() const noexcept { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

private:
  std::string sqlstate_;
  std::string column_;
  std::string primary_;
  bool connection_lost_;
};

// A statement's result rows (text format).
class pq_result {
public:
  explicit pq_result(PGresult* r) noexcept : r_(r) {}
  pq_result(pq_result&&) noexcept = default;
  pq_result& operator=(pq_result&&) noexcept = default;
  ~pq_result();

  int rows() const noexcept;
  bool is_null(int row, int column) const noexcept;
  std::string_view get(int row, int column) const noexcept;
  // get() as a number; throws pq_error when it is not one.
  std::int64_t get_int(int row, int column) const;
  // Rows a command touched (PQcmdTuples), 0 when it does not say.
  std::int64_t affected() const noexcept;
  // The command tag, e.g. "COMMIT", or "ROLLBACK" for a COMMIT of a failed
  // transaction.
  std::string_view command_status() const noexcept;

private:
  struct deleter {
    void operator()(PGresult* r) const noexcept;
  };
  std::unique_ptr<PGresult, deleter> r_;
};

class pq_session {
public:
  // Connects. Throws pq_error (connection_lost) naming the redacted URL
  // when the server cannot be reached.
  explicit pq_session(const std::string& conninfo);
  ~pq_session();
  pq_session(const pq_session&) = delete;
  pq_session& operator=(const pq_session&) = delete;

  // Runs one or more statements without parameters; returns the last
  // result.
  pq_result exec(const std::string& sql);
  // Runs one statement with text parameters ($1...); nullopt is NULL.
  pq_result exec_params(const std::string& sql, std::initializer_list<std::optional<std::string_view>> params);

  // COPY: copy_begin runs a "COPY ... FROM STDIN" statement, copy_send
  // streams bytes (blocking while the socket is full), copy_end finishes
  // and throws pq_error when the server refused the data. After a
  // pq_error from copy_send the COPY is over: do not call copy_end.
  void copy_begin(const std::string& sql);
  void copy_send(std::string_view bytes);
  void copy_end();

  // False once the connection is known to be broken.
  bool usable() const noexcept;

private:
  [[noreturn]] void fail(PGresult* r, std::string_view what);
  pq_result check(PGresult* r, std::string_view what, int expected_status);

  PGconn* conn_ = nullptr;
  std::string redacted_;
};

}  // namespace celeriac::tasks
