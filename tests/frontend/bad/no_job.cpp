#include <canary/dsl.h>  // expect-error: no CANARY_JOB in this driver
struct Params { int partitions = 4; };
