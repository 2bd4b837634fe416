// Fifo: a first-in, first-out queue in a ring of a power-of-two size.
// Pushing, taking and indexing cost a mask, where std::deque's cost a
// division and block bookkeeping: more, for a near-empty task, than the rest
// of its queueing.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace canary::rt {

template <class T>
class Fifo {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  T& front() { return ring_[front_]; }
  const T& operator[](std::size_t i) const { return ring_[(front_ + i) & mask()]; }

  void push_back(T item) {
    if (size_ == ring_.size()) grow();
    ring_[(front_ + size_++) & mask()] = std::move(item);
  }
  void pop_front() {
    ring_[front_] = T();  // what it owns goes now, not when the slot is next used
    front_ = (front_ + 1) & mask();
    --size_;
  }
  void clear() {
    while (!empty()) pop_front();
  }
  // Keeps, in order, the items for which keep(item) is true.
  template <class Keep>
  void keep_if(Keep&& keep) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      T& item = ring_[(front_ + i) & mask()];
      if (keep(item)) std::swap(ring_[(front_ + kept++) & mask()], item);
    }
    while (size_ > kept) ring_[(front_ + --size_) & mask()] = T();
  }
  template <class Use>
  void for_each(Use&& use) const {
    for (std::size_t i = 0; i < size_; ++i) use((*this)[i]);
  }

 private:
  std::size_t mask() const { return ring_.size() - 1; }
  void grow() {
    std::vector<T> bigger(ring_.empty() ? 16 : ring_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(ring_[(front_ + i) & mask()]);
    ring_ = std::move(bigger);
    front_ = 0;
  }

  std::vector<T> ring_;  // empty, or a power of two long
  std::size_t front_ = 0, size_ = 0;
};

}  // namespace canary::rt
