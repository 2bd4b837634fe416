// The all-to-all exchange of bench/run exchange: each partition holds
// `doubles` doubles, sends one slice to every partition (itself included),
// the gather concatenates what arrives in sender order, and a transform
// copies it back. With 2 partitions on 2 workers, half of every partition
// crosses workers in each iteration: bytes per second are those crossing
// bytes over the time per iteration.
#include <canary/dsl.h>

#include <vector>

struct Params {
  int partitions = 2;
  int iterations = 20;
  long doubles = 4000000;  // per partition
};

using Block = std::vector<double>;

CANARY_JOB(exchange, Params params) {
  auto blocks = canary::dataset<Block>("blocks", params.partitions);
  auto arrived = canary::dataset<Block>("arrived", params.partitions);

  canary::transform("fill", canary::writes(blocks), [params](canary::Task& t, Block& b) {
    b.resize(params.doubles);
    for (long i = 0; i < params.doubles; ++i) b[i] = static_cast<double>(t.index() * params.doubles + i);
  });
  canary::loop(params.iterations, [&] {
    canary::scatter("send", canary::reads(blocks), canary::to(arrived),
                    [](canary::Task& t, const Block& b, canary::Emit<Block>& out) {
                      std::size_t n = b.size(), parts = t.partitions();
                      for (std::size_t p = 0; p < parts; ++p)
                        out.send(static_cast<int>(p),
                                 Block(b.begin() + n * p / parts, b.begin() + n * (p + 1) / parts));
                    });
    canary::gather("concatenate", arrived, [](canary::Task&, canary::Chunks<Block>& in, Block& mine) {
      mine.clear();
      for (const Block& chunk : in) mine.insert(mine.end(), chunk.begin(), chunk.end());
    });
    canary::transform("copy_back", canary::reads(arrived), canary::writes(blocks),
                      [](canary::Task&, const Block& a, Block& b) { b = a; });
  });
  canary::transform("check", canary::reads(blocks), [](canary::Task& t, const Block& b) {
    double sum = 0;
    for (double x : b) sum += x;
    t.output("sum", sum);
  });
}
