// The fuzzers' seed corpora (tests/fuzz/seeds/): real frames of every kind
// a worker or the controller decodes, real partitions and chunks, and real
// snapshot files, made by the runtime's own encoders for the fuzz program.
// Random bytes seldom make a valid Cap'n Proto segment table; these start
// the fuzzers past it.
//   make_seeds DIR           writes DIR/wire, DIR/chunks, DIR/snapshot
//   make_seeds --check DIR   exits 1 if DIR holds other seeds than it would write
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "fuzz_program.h"
#include "store/snapshot.h"
#include "wire/codec.h"

namespace {

using namespace canary;
using namespace canary::rt;
namespace fs = std::filesystem;

using Seeds = std::map<std::string, std::string>;  // file name -> contents

std::string joined(const Frames& frames) {
  std::string out;
  for (const zmq::message_t& f : frames) out.append(static_cast<const char*>(f.data()), f.size());
  return out;
}

template <class T>
std::string serialized(const T& value) {
  std::string out;
  rt::type_ops<T>()->write(&value, out);
  return out;
}

Seeds wire_seeds() {
  const Program& p = fuzz::program();
  Seeds seeds;
  fuzz::Contributions contributions = {{0, 0.25}, {3, 1.5}, {7, -2.0}};
  Message chunks(Message::Kind::Chunks, Seq(12), StageId(0), PartitionIndex(1));
  chunks.iterations = {2};
  chunks.parts.push_back({PartitionIndex(0), Version(1), serialized(contributions)});
  chunks.parts.push_back({PartitionIndex(1), Version(2), ""});
  seeds["data-chunks"] = joined(encode_data(Epoch(0), chunks, p));
  Message reduce(Message::Kind::ReduceInput, Seq(13), StageId(2), PartitionIndex(1));
  reduce.value = serialized(std::vector<double>{1, 2, 3});
  reduce.parts.push_back({PartitionIndex(0), Version(1), ""});
  seeds["data-reduce"] = joined(encode_data(Epoch(1), reduce, p));
  Message broadcast(Message::Kind::BroadcastValue, Seq(14), StageId(3), PartitionIndex(0));
  broadcast.value = serialized(std::vector<double>{4, 5});
  broadcast.parts.push_back({PartitionIndex(0), Version(1), ""});
  broadcast.parts.push_back({PartitionIndex(1), Version(1), ""});
  seeds["data-broadcast"] = joined(encode_data(Epoch(0), broadcast, p));

  Handover h;
  h.which = {GroupId(0), PartitionIndex(1)};
  h.version = Version(3);
  h.datasets.push_back({DatasetId(0), 5, serialized(std::vector<double>{1, 2})});
  h.datasets.push_back({DatasetId(1), 5, serialized(contributions)});
  h.pending.push_back(chunks);
  seeds["handover"] = joined(encode_handover(Epoch(2), h, p));

  PartitionMap map;
  map.owner = {{WorkerId(0), WorkerId(1)}, {WorkerId(0)}};
  map.version = {{Version(1), Version(2)}, {Version(1)}};
  seeds["start"] = joined(encode(msg::Start{WorkerId(1),
                                            {"iterations=3"},
                                            {"tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002"},
                                            map,
                                            Epoch(1),
                                            "/tmp/snapshots",
                                            2,
                                            1,
                                            false}));
  seeds["map-update"] = joined(encode(msg::MapUpdate{map}));
  seeds["register"] = joined(encode(msg::Register{p.job, "tcp://127.0.0.1:7003", 2, 1, 42, {0, 1}, 0}));
  seeds["load-report"] = joined(encode(msg::LoadReport{WorkerId(1),
                                                       Epoch(0),
                                                       100,
                                                       0.5,
                                                       0.25,
                                                       {{{GroupId(0), PartitionIndex(1)}, 40, 0.25}},
                                                       {{StageId(0), 13, -1, 1}}}));
  seeds["done"] = joined(encode(msg::Done{
      WorkerId(0), Epoch(0), 7, 0.1, 0.2, 0.3, 0, 0, {{"total", StageId(2), 0, Seq(13), "[1,2,3]"}}}));
  seeds["snapshot-written"] = joined(encode(
      msg::SnapshotWritten{WorkerId(1), Epoch(0), 1, {{GroupId(0), PartitionIndex(1)}}, {}, "", true}));
  seeds["task-report"] = joined(encode(msg::TaskReport{WorkerId(0), 1, {{Seq(3), 0}}, {{Seq(4), 1}}}));
  return seeds;
}

Seeds chunk_seeds() {
  return {{"doubles", serialized(std::vector<double>{0.5, 1.5, -3})},
          {"contributions", serialized(fuzz::Contributions{{1, 0.5}, {2, 0.25}})},
          {"empty", serialized(std::vector<double>{})}};
}

// What a snapshot file's header takes (snapshot.cpp): magic, size, CRC-32, padding.
constexpr std::size_t kHeaderBytes = 24;

Seeds snapshot_seeds() {
  std::string dir = fs::temp_directory_path() / ("canary-seeds-" + std::to_string(getpid()));
  fs::create_directories(dir + "/snapshot-1");
  SnapshotStore store(dir, "fuzz");
  PartitionWrite w;
  w.cut = Cut{1, 10, {true, false}};
  w.datasets = {{DatasetId(0), 3, 0}};
  w.serialize = [](DatasetId) { return serialized(std::vector<double>{1, 2, 3}); };
  Seeds seeds;
  if (store.write(w).ok()) {
    for (auto [name, path] :
         {std::pair{"partition-file", store.path_of(1, {GroupId(0), PartitionIndex(0)})},
          std::pair{"data-file", store.data_path_of(1, DatasetId(0), PartitionIndex(0))}}) {
      std::ifstream in(path, std::ios::binary);
      seeds[name].assign(std::istreambuf_iterator<char>(in), {});
      seeds[std::string(name) + "-contents"] = seeds[name].substr(kHeaderBytes);  // the fuzzer adds a header
    }
  }
  fs::remove_all(dir);
  return seeds;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  bool check = argc == 3 && std::string(argv[1]) == "--check";
  if (argc != 2 && !check) {
    std::cerr << "usage: make_seeds [--check] DIR\n";
    return 2;
  }
  fs::path root = argv[argc - 1];
  std::map<std::string, Seeds> corpora = {
      {"wire", wire_seeds()}, {"chunks", chunk_seeds()}, {"snapshot", snapshot_seeds()}};
  int stale = 0;
  for (const auto& [fuzzer, seeds] : corpora) {
    if (!check) fs::create_directories(root / fuzzer);
    for (const auto& [name, bytes] : seeds) {
      fs::path path = root / fuzzer / name;
      if (!check) {
        std::ofstream(path, std::ios::binary) << bytes;
      } else if (slurp(path) != bytes) {
        std::cerr << "make_seeds: " << path.string() << " is not what the encoders write now\n";
        ++stale;
      }
    }
  }
  if (stale > 0)
    std::cerr << "make_seeds: refresh them with `build/bin/make_seeds " << root.string() << "`\n";
  return stale > 0 ? 1 : 0;
}
