// oneTBB's task_group on the scheduling micro-benchmark's shape: 10
// partitions, stages of one near-empty task per partition, each stage
// waiting for the one before. Prints the CPU nanoseconds per task.
#include <tbb/global_control.h>
#include <tbb/task_group.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const int stages = argc > 1 ? std::atoi(argv[1]) : 20000, partitions = 10;
  tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
  std::array<long, partitions> a{};
  tbb::task_group group;
  double start = cpu_seconds();
  for (int s = 0; s < stages; ++s) {
    for (int i = 0; i < partitions; ++i) group.run([&a, i, s] { a[i] = (a[i] + s) ^ 3; });
    group.wait();
  }
  double ns = (cpu_seconds() - start) * 1e9 / (double(stages) * partitions);
  std::printf("%.1f\n", ns + 0 * a[0]);
  return 0;
}
