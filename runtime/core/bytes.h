// Bytes: an immutable run of bytes, in one piece or several, shared by
// every copy and kept alive by whatever holds each piece (a string this
// process serialized, a value a task moved out, a frame that arrived).
// Chunks, values and handed-over partitions travel as Bytes, so passing
// them to another shard, into ZeroMQ messages or out of them copies
// nothing; readers read the pieces in order as one (canary::Reader).
#pragma once

#include <canary/program.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace canary::rt {

class Bytes {
 public:
  Bytes() = default;
  // NOLINTNEXTLINE(google-explicit-constructor): a serialized string is the common case
  Bytes(std::string bytes) {
    if (bytes.empty()) return;
    auto owned = std::make_shared<const std::string>(std::move(bytes));
    view_ = *owned;
    keeper_ = std::move(owned);
  }
  // NOLINTNEXTLINE(google-explicit-constructor)
  Bytes(const char* bytes) : Bytes(std::string(bytes)) {}
  // `view` stays valid for as long as `keeper` lives.
  Bytes(std::shared_ptr<const void> keeper, std::string_view view)
      : keeper_(std::move(keeper)), view_(view) {}

  // `parts`, one after another.
  static Bytes joined(const std::vector<Bytes>& parts) {
    auto rope = std::make_shared<Rope>();
    for (const Bytes& part : parts)
      part.each([&](const std::shared_ptr<const void>& keeper, std::string_view view) {
        rope->keepers.push_back(keeper);
        rope->views.push_back(view);
      });
    if (rope->views.size() == 1) return Bytes(rope->keepers[0], rope->views[0]);
    Bytes out;
    for (std::string_view v : rope->views) out.size_ += v.size();
    out.rope_ = std::move(rope);
    return out;
  }

  std::size_t size() const { return rope_ ? size_ : view_.size(); }
  bool empty() const { return size() == 0; }
  Pieces pieces() const {
    if (rope_) return {rope_->views.data(), rope_->views.size(), rope_->keepers.data()};
    return {&view_, view_.empty() ? 0u : 1u, &keeper_};
  }
  // Calls use(keeper, view) for every non-empty piece, in order.
  template <class Use>
  void each(Use&& use) const {
    if (!rope_) {
      if (!view_.empty()) use(keeper_, view_);
      return;
    }
    for (std::size_t i = 0; i < rope_->views.size(); ++i)
      if (!rope_->views[i].empty()) use(rope_->keepers[i], rope_->views[i]);
  }
  // A copy in one piece.
  std::string flat() const {
    std::string out;
    out.reserve(size());
    each([&](const std::shared_ptr<const void>&, std::string_view view) { out.append(view); });
    return out;
  }

  friend bool operator==(const Bytes& a, std::string_view b) {
    return a.rope_ ? a.flat() == b : a.view_ == b;
  }

 private:
  struct Rope {
    std::vector<std::shared_ptr<const void>> keepers;
    std::vector<std::string_view> views;
  };

  std::shared_ptr<const void> keeper_;
  std::string_view view_;
  std::shared_ptr<const Rope> rope_;  // several pieces: then keeper_ and view_ are unused
  std::size_t size_ = 0;              // of the rope's pieces
};

}  // namespace canary::rt
