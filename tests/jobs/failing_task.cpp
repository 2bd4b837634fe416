// A task that throws on one partition: the job must fail with one clear line.
#include <canary/dsl.h>

#include <stdexcept>

struct Params {
  int partitions = 4;
  int bad = 2;
};

CANARY_JOB(failing_task, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("work", canary::writes(a), [params](canary::Task& t, double& x) {
    if (t.index() == params.bad)
      throw std::runtime_error("partition " + std::to_string(t.index()) + " is bad");
    x = 1;
  });
  canary::transform("report", canary::reads(a), [](canary::Task& t, const double& x) { t.output("a", x); });
}
