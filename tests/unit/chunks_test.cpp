// What a gather receives (rt::read_chunks): chunks in the order sent, the
// vectors a task on the same worker moved out used where they are, and
// everything else read from its bytes.
#include <canary/program.h>
#include <doctest/doctest.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace {

using Block = std::vector<double>;

Block block(std::size_t n, double first) {
  Block b(n);
  std::iota(b.begin(), b.end(), first);
  return b;
}

// The bytes a scatter task's sends become, as RowSink::take() joins them:
// serialized values in strings, and each moved run as its own piece, after
// its length.
struct Sent {
  std::vector<canary::rt::Bytes> parts;
  std::string pending;

  void serialized(const Block& b) {
    canary::Writer w(pending);
    canary::write(w, b);
  }
  void moved(std::shared_ptr<const Block> run) {
    canary::Writer w(pending);
    canary::detail::write_length(w, *run);
    parts.emplace_back(std::exchange(pending, {}));
    const char* data = reinterpret_cast<const char*>(run->data());
    parts.emplace_back(std::move(run), std::string_view(data, run->size() * sizeof(double)));
  }
  canary::rt::Bytes bytes() {
    if (!pending.empty()) parts.emplace_back(std::exchange(pending, {}));
    return canary::rt::Bytes::joined(parts);
  }
};

std::shared_ptr<const Block> moved_out(Block b) {
  return std::shared_ptr<const Block>(new Block(std::move(b)), canary::detail::MovedValue<Block>());
}

}  // namespace

TEST_CASE("a gather uses a vector moved out on the same worker where it is and reads the rest") {
  auto big = moved_out(block(20000, 1));
  Sent first, second;
  first.serialized(block(3, 100));
  first.moved(big);
  first.serialized(block(2, 200));
  second.serialized(block(4, 300));
  canary::rt::Bytes a = first.bytes(), b = second.bytes();

  canary::Chunks<Block> chunks = canary::rt::read_chunks<Block>({a.pieces(), b.pieces()});
  REQUIRE(chunks.size() == 4);
  CHECK(chunks[0] == block(3, 100));
  CHECK(chunks[1] == block(20000, 1));
  CHECK(&chunks[1] == big.get());  // not a copy
  CHECK(chunks[2] == block(2, 200));
  CHECK(chunks[3] == block(4, 300));
  std::vector<double> sizes;
  for (const Block& c : chunks) sizes.push_back(static_cast<double>(c.size()));
  CHECK(sizes == std::vector<double>{3, 20000, 2, 4});
  CHECK(chunks.end() - chunks.begin() == 4);
  CHECK(std::vector<Block>(chunks.begin(), chunks.end())[1] == *big);

  canary::Chunks<Block> copy = chunks;  // holds its own copies
  REQUIRE(copy.size() == 4);
  CHECK(copy[1] == *big);
  CHECK(&copy[1] != big.get());
  CHECK(copy[3] == chunks[3]);
}

TEST_CASE("a run kept by anything else (a frame that arrived) is copied out of its bytes") {
  auto arrived = std::make_shared<const Block>(block(20000, 7));
  Sent sent;
  sent.moved(arrived);
  canary::rt::Bytes bytes = sent.bytes();
  canary::Chunks<Block> chunks = canary::rt::read_chunks<Block>({bytes.pieces()});
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0] == *arrived);
  CHECK(&chunks[0] != arrived.get());
}

TEST_CASE("a length that does not match the moved run is read as bytes: malformed ones throw") {
  auto run = moved_out(block(10000, 0));
  std::string_view view(reinterpret_cast<const char*>(run->data()), run->size() * sizeof(double));
  for (std::uint64_t length : {9000u, 10001u}) {
    CAPTURE(length);
    std::string prefix;
    canary::Writer w(prefix);
    w.bytes(&length, sizeof length);
    canary::rt::Bytes bytes =
        canary::rt::Bytes::joined({canary::rt::Bytes(prefix), canary::rt::Bytes(run, view)});
    // 9000: the 1000 doubles left do not start with a length that fits; 10001: too few bytes.
    CHECK_THROWS_AS(canary::rt::read_chunks<Block>({bytes.pieces()}), std::out_of_range);
  }
}
