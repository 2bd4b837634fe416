// Writes the apps benchmark's data (bench/data.h), partition by partition,
// as raw little-endian arrays numpy reads with fromfile, so that the Dask
// jobs (bench/peers/dask_apps.py) work on the very numbers Canary does.
//   dump_data DIR PARTITIONS  -> DIR/lr-P.x (n x 20 doubles), DIR/lr-P.y (n doubles),
//                                DIR/kmeans-P.x (n x 4 doubles), DIR/pagerank-P.t (n x 8 int64)
#include <canary/program.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "../data.h"

namespace {

template <class T>
bool dump(const std::string& path, const T* data, std::size_t count) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  bool ok = f && std::fwrite(data, sizeof(T), count, f) == count;
  return (f && std::fclose(f) == 0) && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: dump_data DIR PARTITIONS\n");
    return 2;
  }
  std::string dir = argv[1];
  int partitions = std::atoi(argv[2]);
  const long lr_samples = 1000000, points = 1000000, vertices = 1000000;
  const int clusters = 5, degree = 8;
  bool ok = true;
  for (int p = 0; p < partitions; ++p) {
    std::uint64_t seed = canary::rt::task_seed("generate", p, {});
    std::string suffix = "-" + std::to_string(p);
    auto count = [&](long n) {
      return bench::first_of(n, p + 1, partitions) - bench::first_of(n, p, partitions);
    };
    std::vector<bench::Sample> lr = bench::lr_partition(seed, count(lr_samples));
    std::vector<double> x, y;
    for (const bench::Sample& s : lr) {
      x.insert(x.end(), s.x.begin(), s.x.end());
      y.push_back(s.label);
    }
    ok &= dump(dir + "/lr" + suffix + ".x", x.data(), x.size()) &&
          dump(dir + "/lr" + suffix + ".y", y.data(), y.size());
    std::vector<bench::Point> km =
        bench::kmeans_partition(seed, bench::first_of(points, p, partitions), count(points), clusters);
    ok &= dump(dir + "/kmeans" + suffix + ".x", km.data()->data(), km.size() * bench::kKmeansDim);
    std::vector<long> t = bench::pagerank_partition(seed, count(vertices), vertices, degree);
    ok &= dump(dir + "/pagerank" + suffix + ".t", t.data(), t.size());
  }
  if (!ok) std::fprintf(stderr, "dump_data: cannot write under %s\n", dir.c_str());
  return ok ? 0 : 1;
}
