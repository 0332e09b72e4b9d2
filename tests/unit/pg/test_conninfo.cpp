#include <doctest/doctest.h>

#include "pg/conninfo.hpp"

using namespace celeriac::pg;

TEST_CASE("redact_conninfo hides URL passwords and keeps the rest") {
  CHECK(redact_conninfo("postgresql://app:s3cret@db.example:5432/jobs") == "postgresql://app:***@db.example:5432/jobs");
  CHECK(redact_conninfo("postgres://app:p@ss@db/jobs?sslmode=require") == "postgres://app:***@db/jobs?sslmode=require");
  CHECK(redact_conninfo("postgresql://app@db/jobs") == "postgresql://app@db/jobs");
  CHECK(redact_conninfo("postgresql://db") == "postgresql://db");
  CHECK(redact_conninfo("postgresql://u:pw@db") == "postgresql://u:***@db");
  CHECK(redact_conninfo("postgresql://db/jobs?user=a&password=hunter2&sslmode=disable") ==
        "postgresql://db/jobs?user=a&password=***&sslmode=disable");
}

TEST_CASE("redact_conninfo hides key=value passwords, quoted or not") {
  CHECK(redact_conninfo("host=db password=hunter2 dbname=jobs") == "host=db password=*** dbname=jobs");
  CHECK(redact_conninfo("host=db password = 'a b\\' c' user=x") == "host=db password = *** user=x");
  CHECK(redact_conninfo("host=db user=x") == "host=db user=x");
}

TEST_CASE("with_default_param adds a parameter only when absent") {
  CHECK(with_default_param("postgresql://u@db/jobs", "connect_timeout", "5") ==
        "postgresql://u@db/jobs?connect_timeout=5");
  CHECK(with_default_param("postgresql://u@db/jobs?sslmode=disable", "connect_timeout", "5") ==
        "postgresql://u@db/jobs?sslmode=disable&connect_timeout=5");
  CHECK(with_default_param("postgresql://u@db/jobs?connect_timeout=9", "connect_timeout", "5") ==
        "postgresql://u@db/jobs?connect_timeout=9");
  CHECK(with_default_param("host=db", "connect_timeout", "5") == "host=db connect_timeout=5");
  CHECK(with_default_param("host=db connect_timeout = 2", "connect_timeout", "5") == "host=db connect_timeout = 2");
  CHECK(with_default_param("", "connect_timeout", "5") == "connect_timeout=5");
}
