// Worker ids from plain numbers, for the partition maps tests write out.
#pragma once

#include <initializer_list>
#include <vector>

#include "core/ids.h"

namespace canary::testing {

inline std::vector<rt::WorkerId> worker_ids(std::initializer_list<int> ids) {
  std::vector<rt::WorkerId> out;
  for (int w : ids) out.emplace_back(w);
  return out;
}

}  // namespace canary::testing
