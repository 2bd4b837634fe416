// The fuzzers' seed corpora (tests/fuzz/seeds/): real frames of every kind
// a worker or the controller decodes, real partitions and chunks, and real
// snapshot files, made by the runtime's own encoders for the fuzz program.
// Random bytes seldom make a valid Cap'n Proto segment table; these start
// the fuzzers past it.
//   make_seeds DIR           writes DIR/wire, DIR/chunks, DIR/snapshot
//   make_seeds --check DIR   exits 1 if DIR holds other seeds than it would write
#include <capnp/message.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "fuzz_program.h"
#include "snapshot.h"
#include "wire.h"

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

std::string envelope(capnp::MessageBuilder& message) {
  return joined(to_frames(message, kControlPieceBytes));
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
  Message chunks(Message::Kind::Chunks, 12, 0, 1);
  chunks.iterations = {2};
  chunks.parts.push_back({0, 1, serialized(contributions)});
  chunks.parts.push_back({1, 2, ""});
  seeds["data-chunks"] = joined(encode_data(chunks, p.job, p, 0));
  Message reduce(Message::Kind::ReduceInput, 13, 2, 1);
  reduce.value = serialized(std::vector<double>{1, 2, 3});
  reduce.parts.push_back({0, 1, ""});
  seeds["data-reduce"] = joined(encode_data(reduce, p.job, p, 1));
  Message broadcast(Message::Kind::BroadcastValue, 14, 3, 0);
  broadcast.value = serialized(std::vector<double>{4, 5});
  broadcast.parts.push_back({0, 1, ""});
  broadcast.parts.push_back({1, 1, ""});
  seeds["data-broadcast"] = joined(encode_data(broadcast, p.job, p, 0));

  Handover h;
  h.group = 0;
  h.partition = 1;
  h.version = 3;
  h.datasets.push_back({0, 5, serialized(std::vector<double>{1, 2})});
  h.datasets.push_back({1, 5, serialized(contributions)});
  h.pending.push_back(chunks);
  seeds["handover"] = joined(encode_handover(h, p.job, p, 2));

  PartitionMap map;
  map.owner = {{0, 1}, {0}};
  map.version = {{1, 2}, {1}};
  {
    capnp::MallocMessageBuilder m;
    auto s = m.initRoot<wire::Envelope>().initStart();
    s.setWorker(1);
    auto params = s.initParams(1);
    params.set(0, "iterations=3");
    auto peers = s.initPeers(2);
    peers.set(0, "tcp://127.0.0.1:7001");
    peers.set(1, "tcp://127.0.0.1:7002");
    encode_map(map, s.initMap(map_entries(map)));
    s.setEpoch(1);
    s.setSnapshotDir("/tmp/snapshots");
    s.setSnapshotEvery(2);
    s.setStartAt(1);
    seeds["start"] = envelope(m);
  }
  {
    capnp::MallocMessageBuilder m;
    encode_map(map, m.initRoot<wire::Envelope>().initMapUpdate().initMap(map_entries(map)));
    seeds["map-update"] = envelope(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<wire::Envelope>().initRegister();
    r.setJob(p.job);
    r.setDataEndpoint("tcp://127.0.0.1:7003");
    r.setThreads(2);
    r.setPid(42);
    seeds["register"] = envelope(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<wire::Envelope>().initLoadReport();
    r.setWorker(1);
    r.setTasks(100);
    r.setBusySeconds(0.5);
    auto groups = r.initGroups(1);
    groups[0].setGroup(0);
    groups[0].setPartition(1);
    groups[0].setCpuSeconds(0.25);
    groups[0].setTasks(40);
    auto stages = r.initStages(1);
    stages[0].setStage(0);
    stages[0].setRun(13);
    stages[0].setDone(1);
    seeds["load-report"] = envelope(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto d = m.initRoot<wire::Envelope>().initDone();
    d.setWorker(0);
    d.setTasks(7);
    auto outputs = d.initOutputs(1);
    outputs[0].setKey("total");
    outputs[0].setStage(2);
    outputs[0].setJson("[1,2,3]");
    outputs[0].setSeq(13);
    seeds["done"] = envelope(m);
  }
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
  w.datasets = {{0, 3, 0}};
  w.serialize = [](int) { return serialized(std::vector<double>{1, 2, 3}); };
  Seeds seeds;
  if (store.write(w).empty()) {
    for (auto [name, path] : {std::pair{"partition-file", store.path_of(1, 0, 0)},
                              std::pair{"data-file", store.data_path_of(1, 0, 0)}}) {
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
