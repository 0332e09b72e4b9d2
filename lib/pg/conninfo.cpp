#include "pg/conninfo.hpp"

#include <cctype>

namespace celeriac::pg {
namespace {

bool is_url(std::string_view s) {
  return s.starts_with("postgresql://") || s.starts_with("postgres://");
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Redacts "password=..." values in a URL query string (libpq accepts the
// password there as well as in the userinfo part).
void redact_query(std::string& out, std::string_view query) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t amp = query.find('&', pos);
    std::string_view item = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    std::size_t eq = item.find('=');
    if (eq != std::string_view::npos && iequals(item.substr(0, eq), "password")) {
      out.append(item.substr(0, eq + 1)).append("***");
    } else {
      out.append(item);
    }
    if (amp == std::string_view::npos) break;
    out.push_back('&');
    pos = amp + 1;
  }
}

std::string redact_url(std::string_view url) {
  std::size_t scheme_end = url.find("://") + 3;
  std::size_t authority_end = url.find_first_of("/?", scheme_end);
  std::string_view authority = url.substr(scheme_end, authority_end == std::string_view::npos
                                                          ? std::string_view::npos
                                                          : authority_end - scheme_end);
  std::string out(url.substr(0, scheme_end));
  // The last '@' ends the userinfo: a password may itself contain '@' when
  // the user forgot to percent-encode it.
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    std::size_t colon = userinfo.find(':');
    if (colon != std::string_view::npos) {
      out.append(userinfo.substr(0, colon)).append(":***");
    } else {
      out.append(userinfo);
    }
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  if (authority_end == std::string_view::npos) return out;
  std::string_view rest = url.substr(authority_end);
  std::size_t q = rest.find('?');
  out.append(rest.substr(0, q));
  if (q != std::string_view::npos) {
    out.push_back('?');
    redact_query(out, rest.substr(q + 1));
  }
  return out;
}

// key=value form: values may be single-quoted with backslash escapes.
std::string redact_keyvalue(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      out.push_back(s[i++]);
      continue;
    }
    std::size_t key_start = i;
    while (i < s.size() && s[i] != '=' && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view key = s.substr(key_start, i - key_start);
    out.append(key);
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) out.push_back(s[i++]);
    if (i >= s.size() || s[i] != '=') continue;
    out.push_back(s[i++]);
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) out.push_back(s[i++]);
    std::size_t value_start = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      if (i < s.size()) ++i;
    } else {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    }
    if (iequals(key, "password")) {
      out.append("***");
    } else {
      out.append(s.substr(value_start, i - value_start));
    }
  }
  return out;
}

bool url_has_param(std::string_view url, std::string_view key) {
  std::size_t q = url.find('?');
  if (q == std::string_view::npos) return false;
  std::string_view query = url.substr(q + 1);
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t amp = query.find('&', pos);
    std::string_view item = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (iequals(item.substr(0, item.find('=')), key)) return true;
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return false;
}

bool keyvalue_has_param(std::string_view s, std::string_view key) {
  // Good enough for the keys we add (connect_timeout, application_name):
  // look for the key at a word start followed by optional spaces and '='.
  for (std::size_t pos = s.find(key); pos != std::string_view::npos; pos = s.find(key, pos + 1)) {
    if (pos > 0 && !std::isspace(static_cast<unsigned char>(s[pos - 1]))) continue;
    std::size_t i = pos + key.size();
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i < s.size() && s[i] == '=') return true;
  }
  return false;
}

}  // namespace

std::string redact_conninfo(std::string_view conninfo) {
  return is_url(conninfo) ? redact_url(conninfo) : redact_keyvalue(conninfo);
}

std::string with_default_param(std::string_view conninfo, std::string_view key, std::string_view value) {
  std::string out(conninfo);
  if (is_url(conninfo)) {
    if (url_has_param(conninfo, key)) return out;
    out.push_back(conninfo.find('?') == std::string_view::npos ? '?' : '&');
    out.append(key).push_back('=');
    out.append(value);  // callers pass URL-safe values
  } else {
    if (keyvalue_has_param(conninfo, key)) return out;
    if (!out.empty()) out.push_back(' ');
    out.append(key).push_back('=');
    out.append(value);
  }
  return out;
}

}  // namespace celeriac::pg
