#include "scheduler/beat_keys.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace celeriac::scheduler {

namespace {

// RFC 4122 appendix C: the namespace for URLs (Python's uuid.NAMESPACE_URL).
constexpr std::string_view namespace_url = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

constexpr std::size_t max_beat_name_length = 100;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The 16 bytes of a canonical UUID text; throws std::invalid_argument
// for anything else (callers pass constants).
std::array<unsigned char, 16> uuid_bytes(std::string_view text) {
  std::array<unsigned char, 16> out{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    const int hi = hex_value(text[i]);
    const int lo = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    if (hi < 0 || lo < 0 || n == out.size()) throw std::invalid_argument(fmt::format("not a UUID: {}", text));
    out[n++] = static_cast<unsigned char>(hi * 16 + lo);
    ++i;
  }
  if (n != out.size()) throw std::invalid_argument(fmt::format("not a UUID: {}", text));
  return out;
}

}  // namespace

beat_keys make_beat_keys(std::string_view name) {
  const std::string prefix = fmt::format("celeriac.beat.{}", name);
  return {prefix + ":lease", prefix + ":last", prefix + ":fingerprint"};
}

std::optional<std::string> beat_name_problem(std::string_view name) {
  if (name.empty()) return std::string("must not be empty");
  if (name.size() > max_beat_name_length) return fmt::format("is longer than {} characters", max_beat_name_length);
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '-';
    if (!ok) return std::string("may hold only letters, digits and \"_.:-\"");
  }
  return std::nullopt;
}

std::string entry_fingerprint(const schedule_entry& entry) {
  if (const auto* i = entry.when.interval(); i != nullptr) return fmt::format("every {}s", i->period().count());
  return fmt::format("{} in {}", entry.when.describe(), entry.timezone_name);
}

std::string uuid5(std::string_view ns, std::string_view name) {
  const auto ns_bytes = uuid_bytes(ns);
  std::string input(reinterpret_cast<const char*>(ns_bytes.data()), ns_bytes.size());
  input.append(name);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha1(), nullptr) != 1 || length < 16)
    throw std::runtime_error("uuid5: OpenSSL's SHA-1 failed");
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += fmt::format("{:02x}", digest[i]);
  }
  return out;
}

std::string tick_task_id(std::string_view beat_name, std::string_view entry, std::chrono::sys_seconds tick) {
  return uuid5(namespace_url,
               fmt::format("celeriac-beat:{}/{}@{}", beat_name, entry, tick.time_since_epoch().count()));
}

}  // namespace celeriac::scheduler
