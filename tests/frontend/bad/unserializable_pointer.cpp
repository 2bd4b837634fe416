#include <canary/dsl.h>
struct Params { int partitions = 4; };
struct Node { double value; Node* next; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<Node>("a", params.partitions);  // expect-error: 'Node::next' is a 'Node *', which cannot cross workers: a pointer means nothing on another worker
  canary::transform("init", canary::writes(a), [](canary::Task&, Node& n) { n.value = 1; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const Node&) {});
}
