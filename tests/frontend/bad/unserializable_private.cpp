#include <canary/dsl.h>
#include <string>
struct Params { int partitions = 4; };
class Account {
 public:
  void deposit(long amount) { balance_ += amount; }
 private:
  std::string owner_;
  long balance_ = 0;
};
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<Account>("a", params.partitions);  // expect-error: 'Account' cannot cross workers: its member 'owner_' is not public, so canaryc cannot reach it: make it public, or specialise canary::Serializer<Account>
  canary::transform("open", canary::writes(a), [](canary::Task& t, Account& acc) { acc.deposit(t.index()); });
  canary::transform("use", canary::reads(a), [](canary::Task&, const Account&) {});
}
