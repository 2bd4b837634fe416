// Snapshot files on disk: what is written reads back the same, and a file
// that was damaged, cut short or never completed is refused with a reason.
// Also the map a rollback or a join starts from.
#include "store/snapshot.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/partition_map.h"
#include "worker/flusher.h"
#include "worker_ids.h"

using namespace canary::rt;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() : path("/tmp/canary-unit-snapshots-" + std::to_string(getpid())) { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

const std::vector<std::string> kBytes = {std::string("\x01\x02\x00\x03", 4), "", std::string(5000, 'x')};

GroupPartition gp(int group, int partition) { return {GroupId(group), PartitionIndex(partition)}; }
std::string data_path(const SnapshotStore& store, int snapshot, int dataset, int partition) {
  return store.data_path_of(snapshot, DatasetId(dataset), PartitionIndex(partition));
}

// Datasets 0 and 2 of a group; `unchanged`: dataset 2 is as in that snapshot.
PartitionWrite sample(int snapshot, int group, int partition, int unchanged = 0) {
  PartitionWrite f;
  f.cut = Cut{snapshot, 1234, {true, false, false, true, true, false, true, false, true}};
  f.which = gp(group, partition);
  f.datasets = {{DatasetId(0), 77, 0}, {DatasetId(2), 78, unchanged}};
  f.serialize = [](DatasetId d) { return kBytes[d.value()]; };
  return f;
}

// Why reading a partition's file is refused ("" when it is not).
std::string refusal_of(const SnapshotStore& store, int snapshot, int group, int partition) {
  return store.read(snapshot, gp(group, partition)).status().why();
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
  REQUIRE(store.write(sample(3, 1, 4)).ok());
  Result<PartitionFile> read = store.read(3, gp(1, 4));
  REQUIRE(read.ok());
  const PartitionFile& back = read.value();
  PartitionWrite want = sample(3, 1, 4);
  CHECK(back.cut.snapshot == 3);
  CHECK(back.cut.seq == 1234);
  CHECK(back.cut.signals == want.cut.signals);
  REQUIRE(back.datasets.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(back.datasets[i].dataset == want.datasets[i].dataset);
    CHECK(back.datasets[i].accesses == want.datasets[i].accesses);
    CHECK(back.datasets[i].bytes == kBytes[want.datasets[i].dataset.value()]);
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
  REQUIRE(store.write(sample(1, 0, 3)).ok());
  int serialized = 0;
  PartitionWrite next = sample(2, 0, 3, 1);
  next.serialize = [&](DatasetId d) {
    ++serialized;
    return kBytes[d.value()];
  };
  REQUIRE(store.write(next).ok());
  CHECK(serialized == 1);  // dataset 0 only
  CHECK(fs::equivalent(data_path(store, 1, 2, 3), data_path(store, 2, 2, 3)));
  Result<PartitionFile> back = store.read(2, gp(0, 3));
  REQUIRE(back.ok());
  CHECK(back.value().datasets[1].bytes == kBytes[2]);

  // Once the earlier file is gone, the bytes are written after all.
  store.prune({2});
  REQUIRE(store.write(sample(3, 0, 3, 1)).ok());
  back = store.read(3, gp(0, 3));
  REQUIRE(back.ok());
  CHECK(back.value().datasets[1].bytes == kBytes[2]);
}

TEST_CASE("the flusher hands back each batch once its snapshot is synced or with why it could not be") {
  TempDir dir;
  SnapshotStore store(dir.path, "job");
  REQUIRE(store.write(sample(1, 0, 0)).ok());
  std::mutex mutex;
  std::condition_variable flushed;
  std::vector<SnapshotFlusher::Batch> back;
  SnapshotFlusher flusher([&] {
    std::lock_guard<std::mutex> lock(mutex);  // not between the test's look and its wait
    flushed.notify_one();
  });
  auto wait_for = [&](std::size_t batches) {
    std::unique_lock<std::mutex> lock(mutex);
    flushed.wait_for(lock, std::chrono::seconds(10), [&] {
      for (SnapshotFlusher::Batch& b : flusher.take()) back.push_back(std::move(b));
      return back.size() >= batches;
    });
  };
  flusher.flush({store, Epoch(3), 1, {gp(0, 0)}, ""});
  wait_for(1);
  REQUIRE(back.size() == 1);
  CHECK(back[0].epoch == Epoch(3));
  CHECK(back[0].snapshot == 1);
  CHECK(back[0].partitions == std::vector<GroupPartition>{gp(0, 0)});
  CHECK(back[0].error.empty());

  flusher.flush({store, Epoch(3), 7, {gp(0, 1)}, ""});  // never written: no directory to sync
  wait_for(2);
  REQUIRE(back.size() == 2);
  CHECK(back[1].error.find("cannot open") != std::string::npos);
}

TEST_CASE("a damaged, truncated, foreign or missing snapshot file is refused") {
  TempDir dir;
  SnapshotStore store(dir.path, "job");
  REQUIRE(store.write(sample(1, 0, 0)).ok());
  std::string path = store.path_of(1, gp(0, 0));
  auto refusal = [&] { return refusal_of(store, 1, 0, 0); };

  SUBCASE("a flipped bit anywhere in the contents, of the partition's file or a dataset's") {
    for (const std::string& file : {path, data_path(store, 1, 2, 0)})
      for (std::size_t at : {std::size_t{30}, fs::file_size(file) / 2, fs::file_size(file) - 1}) {
        REQUIRE(store.write(sample(1, 0, 0)).ok());
        flip_byte(file, at);
        CHECK(refusal() ==
              "snapshot file " + file + " is refused: its checksum does not match: it is corrupt");
      }
  }
  SUBCASE("a dataset's file that is not the one the partition's file names") {
    REQUIRE(store.write(sample(1, 0, 1)).ok());
    fs::copy_file(data_path(store, 1, 0, 1), data_path(store, 1, 2, 0), fs::copy_options::overwrite_existing);
    CHECK(refusal() == "snapshot file " + data_path(store, 1, 2, 0) +
                           " is refused: it holds other bytes than " + path + " says");
  }
  SUBCASE("cut short") {
    fs::resize_file(path, fs::file_size(path) - 8);
    CHECK(refusal() == "snapshot file " + path + " is refused: it is truncated or has trailing bytes");
    fs::resize_file(path, 10);
    CHECK(refusal() == "snapshot file " + path + " is refused: it is not a Canary snapshot file of its kind");
  }
  SUBCASE("another job's, or another partition's under this one's name") {
    CHECK(refusal_of(SnapshotStore(dir.path, "other"), 1, 0, 0).find("it belongs to job 'job'") !=
          std::string::npos);
    fs::copy_file(path, store.path_of(1, gp(0, 1)));
    CHECK(refusal_of(store, 1, 0, 1).find("it holds another snapshot or partition than its name says") !=
          std::string::npos);
  }
  SUBCASE("missing") {
    CHECK(refusal_of(store, 1, 5, 5) ==
          "snapshot file " + store.path_of(1, gp(5, 5)) + " is refused: it is missing");
  }
}

TEST_CASE("only a snapshot with its manifest and every file intact verifies") {
  TempDir dir;
  SnapshotStore store(dir.path, "job");
  std::vector<GroupPartition> all = {gp(0, 0), gp(0, 1), gp(1, 0)};
  for (GroupPartition p : all) REQUIRE(store.write(sample(2, p.group.value(), p.partition.value())).ok());
  CHECK(store.verify(2, all).why() == "snapshot 2 is incomplete");
  std::vector<Outputs::Entry> outputs = {{"loss", StageId(3), 1, Seq(17), "0.25"},
                                         {"w", StageId(4), 0, Seq(9), "[1,2]"}};
  REQUIRE(store.mark_complete(2, all.size(), outputs).ok());
  CHECK(store.verify(2, all).ok());
  CHECK(store.marked_complete() == std::vector<int>{2});
  Result<std::vector<Outputs::Entry>> back = store.outputs_of(2);
  REQUIRE(back.ok());
  REQUIRE(back.value().size() == 2);
  CHECK(back.value()[0].key == "loss");
  CHECK(back.value()[0].stage == StageId(3));
  CHECK(back.value()[0].index == 1);
  CHECK(back.value()[0].seq == Seq(17));
  CHECK(back.value()[1].json == "[1,2]");
  CHECK(store.verify(2, {gp(0, 0)}).why().find("does not describe this snapshot") != std::string::npos);
  flip_byte(store.path_of(2, gp(1, 0)), 40);
  CHECK(store.verify(2, all).why().find("g1-p0 is refused: its checksum does not match") !=
        std::string::npos);

  SUBCASE("pruning keeps the snapshots named and those being written, and removing all leaves nothing") {
    REQUIRE(store.write(sample(1, 0, 0)).ok());
    REQUIRE(store.write(sample(3, 0, 0)).ok());
    REQUIRE(store.write(sample(4, 0, 0)).ok());
    store.prune({2, 3});
    CHECK(!fs::exists(dir.path + "/snapshot-1"));
    CHECK(fs::exists(dir.path + "/snapshot-2"));
    CHECK(fs::exists(dir.path + "/snapshot-3"));
    CHECK(fs::exists(dir.path + "/snapshot-4"));  // newer than every complete one: being written
    store.remove_all();
    CHECK(!fs::exists(dir.path));
  }
}

TEST_CASE("a run's record says what --resume needs, and a missing or malformed one is refused") {
  TempDir dir;
  fs::create_directories(dir.path);
  SnapshotStore store(dir.path, "job");
  CHECK(SnapshotStore::read_run(dir.path).why().find(dir.path + " holds no run to resume") == 0);
  REQUIRE(store.write_run({"job", 0xfeedfacecafebeefULL, {"iterations=7", "partitions-for-automatic=4"}, 3})
              .ok());
  Result<RunRecord> run = SnapshotStore::read_run(dir.path);
  REQUIRE(run.ok());
  CHECK(run.value().job == "job");
  CHECK(run.value().graph == 0xfeedfacecafebeefULL);
  CHECK(run.value().params == std::vector<std::string>{"iterations=7", "partitions-for-automatic=4"});
  CHECK(run.value().snapshot_every == 3);
  std::ofstream(dir.path + "/RUN") << "{\"job\": \"job\", \"graph\": \"x\"}";
  CHECK(SnapshotStore::read_run(dir.path).why() == dir.path + "/RUN is malformed: it cannot be resumed");
}

TEST_CASE("a rollback's map gives a lost worker's partitions to the others, and a joiner its share") {
  PartitionMap map;
  map.owner = {canary::testing::worker_ids({0, 1, 2, 0, 1, 2}), canary::testing::worker_ids({1})};
  map.version = {std::vector<Version>(6, Version(1)), {Version(4)}};

  SUBCASE("worker 1 is lost") {
    PartitionMap after = rebalanced(map, {1, 0, 1});
    std::vector<int> load(3, 0);
    for (std::size_t g = 0; g < after.owner.size(); ++g)
      for (std::size_t i = 0; i < after.owner[g].size(); ++i) {
        ++load[after.owner[g][i].value()];
        bool moved = after.owner[g][i] != map.owner[g][i];
        CHECK(after.version[g][i].value() == map.version[g][i].value() + (moved ? 1 : 0));
        if (map.owner[g][i] != WorkerId(1)) CHECK(!moved);  // the survivors keep what they had
      }
    CHECK(load == std::vector<int>{4, 0, 3});
  }
  SUBCASE("worker 3 joins, with twice the threads") {
    PartitionMap after = rebalanced(map, {1, 1, 1, 2});
    std::vector<int> load(4, 0);
    for (const auto& g : after.owner)
      for (WorkerId w : g) ++load[w.value()];
    CHECK(load == std::vector<int>{1, 1, 2, 3});  // at most 2 per thread, as even as it gets
  }
  SUBCASE("nobody is left: the map stays") { CHECK(rebalanced(map, {0, 0, 0}).owner == map.owner); }
}
