// Errors as values at the boundaries between the runtime's parts (decoding
// what arrives, routing it, reading files): a Status is fine or says what
// went wrong, for a person; a Result<T> is a T or that. Both are
// [[nodiscard]], so an error is never dropped by accident.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace canary::rt {

class [[nodiscard]] Status {
 public:
  static Status fine() { return Status(); }
  static Status error(std::string why) {
    Status s;
    s.why_ = std::move(why);
    s.failed_ = true;
    return s;
  }
  bool ok() const { return !failed_; }
  // What went wrong ("" when all is well).
  const std::string& why() const { return why_; }
  // The same error, said of something: "a handover with " + why.
  Status about(const std::string& what) const { return ok() ? *this : error(what + why_); }

 private:
  bool failed_ = false;
  std::string why_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor): returning a T is the point
  Result(Status error) : value_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<T>(value_); }
  const std::string& why() const { return std::get<Status>(value_).why(); }
  Status status() const { return ok() ? Status::fine() : std::get<Status>(value_); }
  T& value() & { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  const T& value() const& { return std::get<T>(value_); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace canary::rt
