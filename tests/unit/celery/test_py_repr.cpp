#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "celery/py_repr.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"

using namespace celeriac;
using namespace celeriac::celery;

namespace {

json::value parse(std::string_view text) {
  auto v = json::parse(text);
  REQUIRE_MESSAGE(v.has_value(), text);
  return std::move(*v);
}

}  // namespace

// Expected strings printed by /usr/bin/python3 (CPython 3.11, Celery 5.2.6):
// repr(v), saferepr(v, 1024) and, for lists, saferepr(tuple(v), 1024).
TEST_CASE("py_repr and saferepr match Python on hand-picked values") {
  struct expectation {
    const char* json;
    const char* repr;
    const char* saferepr;
    const char* saferepr_tuple;
  };
  const expectation cases[] = {
      {"null", "None", "None", nullptr},
      {"true", "True", "True", nullptr},
      {"false", "False", "False", nullptr},
      {"0", "0", "0", nullptr},
      {"-7", "-7", "-7", nullptr},
      {"12345678901234", "12345678901234", "12345678901234", nullptr},
      {"1.5", "1.5", "1.5", nullptr},
      {"0.1", "0.1", "0.1", nullptr},
      {"1e+16", "1e+16", "1e+16", nullptr},
      {"1e-05", "1e-05", "1e-05", nullptr},
      {"-0.0", "-0.0", "-0.0", nullptr},
      {"100.0", "100.0", "100.0", nullptr},
      {"\"\"", "''", "''", nullptr},
      {"\"plain\"", "'plain'", "'plain'", nullptr},
      {"\"it's\"", "\"it's\"", "'it\\'s'", nullptr},
      {"\"say \\\"hi\\\"\"", "'say \"hi\"'", "'say \"hi\"'", nullptr},
      {"\"both ' and \\\"\"", "'both \\' and \"'", "'both \\' and \"'", nullptr},
      {"\"back\\\\slash\"", "'back\\\\slash'", "'back\\slash'", nullptr},
      {"\"tab\\tnl\\nret\\r\"", "'tab\\tnl\\nret\\r'", "'tab\011nl\012ret\015'", nullptr},
      {"\"bell\\u0007 del\\u007f\"", "'bell\\x07 del\\x7f'", "'bell\007 del\177'", nullptr},
      {"\"caf\\u00e9\"", "'caf\303\251'", "'caf\303\251'", nullptr},
      {"\"nbsp\\u00a0 shy\\u00ad\"", "'nbsp\\xa0 shy\\xad'", "'nbsp\302\240 shy\302\255'", nullptr},
      {"\"\\u0085 c1\"", "'\\x85 c1'", "'\302\205 c1'", nullptr},
      {"\"emoji \\ud83d\\ude00\"", "'emoji \360\237\230\200'", "'emoji \360\237\230\200'", nullptr},
      {"\"zwsp\\u200b ls\\u2028\"", "'zwsp\\u200b ls\\u2028'", "'zwsp\342\200\213 ls\342\200\250'", nullptr},
      {"\"bom\\ufeff\"", "'bom\\ufeff'", "'bom\357\273\277'", nullptr},
      {"\"pua\\ue000\"", "'pua\\ue000'", "'pua\356\200\200'", nullptr},
      {"\"cjk \\u4e2d\\u6587\"", "'cjk \344\270\255\346\226\207'", "'cjk \344\270\255\346\226\207'", nullptr},
      {"\"ideo\\u3000space\"", "'ideo\\u3000space'", "'ideo\343\200\200space'", nullptr},
      {"[]", "[]", "[]", "()"},
      {"{}", "{}", "{}", nullptr},
      {"[1, 2]", "[1, 2]", "[1, 2]", "(1, 2)"},
      {"[4]", "[4]", "[4]", "(4,)"},
      {"[[2, 4]]", "[[2, 4]]", "[[2, 4]]", "([2, 4],)"},
      {"{\"k\": 1}", "{'k': 1}", "{'k': 1}", nullptr},
      {"{\"x\": 2, \"y\": 3}", "{'x': 2, 'y': 3}", "{'x': 2, 'y': 3}", nullptr},
      {"{\"a\": \"b\"}", "{'a': 'b'}", "{'a': 'b'}", nullptr},
      {"[null, true, false, 1.5, \"s\"]", "[None, True, False, 1.5, 's']", "[None, True, False, 1.5, 's']",
       "(None, True, False, 1.5, 's')"},
      {"{\"nested\": {\"list\": [1, {\"deep\": [1, 2]}]}}", "{'nested': {'list': [1, {'deep': [1, 2]}]}}",
       "{'nested': {'list': [1, {...}]}}", nullptr},
      {"[[[[1]]]]", "[[[[1]]]]", "[[[[...]]]]", "([[[...]]],)"},
      {"[[[[]]]]", "[[[[]]]]", "[[[[...]]]]", "([[[...]]],)"},
      {"[[[{}]]]", "[[[{}]]]", "[[[{...}]]]", "([[{...}]],)"},
      {"{\"a\": {\"b\": {\"c\": {\"d\": 1}}}}", "{'a': {'b': {'c': {'d': 1}}}}", "{'a': {'b': {'c': {...}}}}",
       nullptr},
      {"[\"it's\", \"a\\nb\"]", "[\"it's\", 'a\\nb']", "['it\\'s', 'a\012b']", "('it\\'s', 'a\012b')"},
      {"{\"it's\": \"x\"}", "{\"it's\": 'x'}", "{'it\\'s': 'x'}", nullptr},
      {"[1, [2, [3, [4, [5]]]]]", "[1, [2, [3, [4, [5]]]]]", "[1, [2, [3, [...]]]]", "(1, [2, [3, [...]]])"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    json::value v = parse(c.json);
    CHECK(py_repr(v) == c.repr);
    CHECK(saferepr(v) == c.saferepr);
    if (c.saferepr_tuple) CHECK(saferepr(v, repr_maxsize, sequence_style::tuple) == c.saferepr_tuple);
  }
}

TEST_CASE("py_repr of non-finite floats") {
  CHECK(py_repr(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(py_repr(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(py_repr(std::nan("")) == "nan");
  CHECK(saferepr(json::array{std::nan("")}) == "[nan]");
}

TEST_CASE("py_repr escapes astral non-printables with \\U") {
  CHECK(py_repr("\xF3\xA0\x80\x81") == "'\\U000e0001'");  // U+E0001 LANGUAGE TAG (Cf)
}

TEST_CASE("py_repr never emits invalid UTF-8 for invalid input") {
  CHECK(py_repr("a\xFF" "b") == "'a\xEF\xBF\xBD" "b'");  // U+FFFD, printable
}

// saferepr_cases.json: 418 values (hand-picked truncation edge cases plus
// random nested values with random maxlen) run through Celery 5.2.6's
// saferepr and CPython's repr by saferepr_cases.gen.py.
TEST_CASE("saferepr and py_repr match Celery on the generated golden cases") {
  json::value cases = parse(test::wire_fixture("saferepr_cases.json"));
  REQUIRE(cases.is_array());
  REQUIRE(cases.as_array().size() > 400);
  for (const auto& c : cases.as_array()) {
    const json::value& v = *c.find("value");
    auto maxlen = static_cast<std::size_t>(c.find("maxlen")->as_integer());
    CAPTURE(v);
    CAPTURE(maxlen);
    CHECK(saferepr(v, maxlen) == c.find("saferepr")->as_string());
    CHECK(py_repr(v) == c.find("repr")->as_string());
    if (const json::value* t = c.find("saferepr_tuple"))
      CHECK(saferepr(v, maxlen, sequence_style::tuple) == t->as_string());
  }
}
