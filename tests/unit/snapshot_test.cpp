// Snapshot files on disk: what is written reads back the same, and a file
// that was damaged, cut short or never completed is refused with a reason.
// Also the map a rollback or a join starts from.
#include "snapshot.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "controller.h"
#include "scheduler.h"

using namespace canary::rt;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() : path("/tmp/canary-unit-snapshots-" + std::to_string(getpid())) { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

const std::vector<std::string> kBytes = {std::string("\x01\x02\x00\x03", 4), "", std::string(5000, 'x')};

// Datasets 0 and 2 of a group; `unchanged`: dataset 2 is as in that snapshot.
PartitionWrite sample(int snapshot, int group, int partition, int unchanged = 0) {
  PartitionWrite f;
  f.cut = Cut{snapshot, 1234, {true, false, false, true, true, false, true, false, true}};
  f.group = group;
  f.partition = partition;
  f.datasets = {{0, 77, 0}, {2, 78, unchanged}};
  f.serialize = [](int d) { return kBytes[d]; };
  return f;
}

void flip_byte(const std::string& path, std::size_t at) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(at));
  char byte = 0;
  file.read(&byte, 1);
  file.seekp(static_cast<std::streamoff>(at));
  byte = static_cast<char>(byte ^ 1);
  file.write(&byte, 1);
}

}  // namespace

TEST_CASE("a snapshot file reads back what was written") {
  TempDir dir;
  SnapshotStore store(dir.path, "job");
  REQUIRE(store.write(sample(3, 1, 4)) == "");
  PartitionFile back;
  REQUIRE(store.read(3, 1, 4, back) == "");
  PartitionWrite want = sample(3, 1, 4);
  CHECK(back.cut.snapshot == 3);
  CHECK(back.cut.seq == 1234);
  CHECK(back.cut.signals == want.cut.signals);
  REQUIRE(back.datasets.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(back.datasets[i].dataset == want.datasets[i].dataset);
    CHECK(back.datasets[i].accesses == want.datasets[i].accesses);
    CHECK(back.datasets[i].bytes == kBytes[want.datasets[i].dataset]);
  }
  // Nothing is left under a temporary name.
  std::set<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir.path + "/snapshot-3"))
    files.insert(entry.path().filename().string());
  CHECK(files == std::set<std::string>{"g1-p4", "d0-p4", "d2-p4"});
}

TEST_CASE("a dataset unchanged since the last snapshot is that snapshot's file, linked, not written again") {
  TempDir dir;
  SnapshotStore store(dir.path, "job");
  REQUIRE(store.write(sample(1, 0, 3)) == "");
  int serialized = 0;
  PartitionWrite next = sample(2, 0, 3, 1);
  next.serialize = [&](int d) {
    ++serialized;
    return kBytes[d];
  };
  REQUIRE(store.write(next) == "");
  CHECK(serialized == 1);  // dataset 0 only
  CHECK(fs::equivalent(store.data_path_of(1, 2, 3), store.data_path_of(2, 2, 3)));
  PartitionFile back;
  REQUIRE(store.read(2, 0, 3, back) == "");
  CHECK(back.datasets[1].bytes == kBytes[2]);

  // Once the earlier file is gone, the bytes are written after all.
  store.prune({2});
  REQUIRE(store.write(sample(3, 0, 3, 1)) == "");
  REQUIRE(store.read(3, 0, 3, back) == "");
  CHECK(back.datasets[1].bytes == kBytes[2]);
}

TEST_CASE("a damaged, truncated, foreign or missing snapshot file is refused") {
  TempDir dir;
  SnapshotStore store(dir.path, "job");
  REQUIRE(store.write(sample(1, 0, 0)) == "");
  std::string path = store.path_of(1, 0, 0);
  PartitionFile back;
  auto refusal = [&] { return store.read(1, 0, 0, back); };

  SUBCASE("a flipped bit anywhere in the contents, of the partition's file or a dataset's") {
    for (const std::string& file : {path, store.data_path_of(1, 2, 0)})
      for (std::size_t at : {std::size_t{30}, fs::file_size(file) / 2, fs::file_size(file) - 1}) {
        REQUIRE(store.write(sample(1, 0, 0)) == "");
        flip_byte(file, at);
        CHECK(refusal() ==
              "snapshot file " + file + " is refused: its checksum does not match: it is corrupt");
      }
  }
  SUBCASE("a dataset's file that is not the one the partition's file names") {
    REQUIRE(store.write(sample(1, 0, 1)) == "");
    fs::copy_file(store.data_path_of(1, 0, 1), store.data_path_of(1, 2, 0),
                  fs::copy_options::overwrite_existing);
    CHECK(refusal() == "snapshot file " + store.data_path_of(1, 2, 0) +
                           " is refused: it holds other bytes than " + path + " says");
  }
  SUBCASE("cut short") {
    fs::resize_file(path, fs::file_size(path) - 8);
    CHECK(refusal() == "snapshot file " + path + " is refused: it is truncated or has trailing bytes");
    fs::resize_file(path, 10);
    CHECK(refusal() == "snapshot file " + path + " is refused: it is not a Canary snapshot file of its kind");
  }
  SUBCASE("another job's, or another partition's under this one's name") {
    CHECK(SnapshotStore(dir.path, "other").read(1, 0, 0, back).find("it belongs to job 'job'") !=
          std::string::npos);
    fs::copy_file(path, store.path_of(1, 0, 1));
    CHECK(store.read(1, 0, 1, back).find("it holds another snapshot or partition than its name says") !=
          std::string::npos);
  }
  SUBCASE("missing") {
    CHECK(store.read(1, 5, 5, back) ==
          "snapshot file " + store.path_of(1, 5, 5) + " is refused: it is missing");
  }
}

TEST_CASE("only a snapshot with its manifest and every file intact verifies") {
  TempDir dir;
  SnapshotStore store(dir.path, "job");
  std::vector<GroupPartition> all = {{0, 0}, {0, 1}, {1, 0}};
  for (const auto& [g, i] : all) REQUIRE(store.write(sample(2, g, i)) == "");
  CHECK(store.verify(2, all) == "snapshot 2 is incomplete");
  REQUIRE(store.mark_complete(2, all.size()) == "");
  CHECK(store.verify(2, all) == "");
  CHECK(store.verify(2, {{0, 0}}).find("does not describe this snapshot") != std::string::npos);
  flip_byte(store.path_of(2, 1, 0), 40);
  CHECK(store.verify(2, all).find("g1-p0 is refused: its checksum does not match") != std::string::npos);

  SUBCASE("pruning keeps the snapshots named, and removing all leaves nothing") {
    REQUIRE(store.write(sample(1, 0, 0)) == "");
    REQUIRE(store.write(sample(3, 0, 0)) == "");
    store.prune({2, 3});
    CHECK(!fs::exists(dir.path + "/snapshot-1"));
    CHECK(fs::exists(dir.path + "/snapshot-2"));
    CHECK(fs::exists(dir.path + "/snapshot-3"));
    store.remove_all();
    CHECK(!fs::exists(dir.path));
  }
}

TEST_CASE("a rollback's map gives a lost worker's partitions to the others, and a joiner its share") {
  PartitionMap map;
  map.owner = {{0, 1, 2, 0, 1, 2}, {1}};
  map.version = {{1, 1, 1, 1, 1, 1}, {4}};

  SUBCASE("worker 1 is lost") {
    PartitionMap after = rebalanced(map, {1, 0, 1});
    std::vector<int> load(3, 0);
    for (std::size_t g = 0; g < after.owner.size(); ++g)
      for (std::size_t i = 0; i < after.owner[g].size(); ++i) {
        ++load[after.owner[g][i]];
        bool moved = after.owner[g][i] != map.owner[g][i];
        CHECK(after.version[g][i] == map.version[g][i] + (moved ? 1 : 0));
        if (map.owner[g][i] != 1) CHECK(!moved);  // the survivors keep what they had
      }
    CHECK(load == std::vector<int>{4, 0, 3});
  }
  SUBCASE("worker 3 joins, with twice the threads") {
    PartitionMap after = rebalanced(map, {1, 1, 1, 2});
    std::vector<int> load(4, 0);
    for (const auto& g : after.owner)
      for (int w : g) ++load[w];
    CHECK(load == std::vector<int>{1, 1, 2, 3});  // at most 2 per thread, as even as it gets
  }
  SUBCASE("nobody is left: the map stays") { CHECK(rebalanced(map, {0, 0, 0}).owner == map.owner); }
}
