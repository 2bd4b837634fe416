#!/usr/bin/env python3
"""canaryc stays linear in the driver's size: a driver of loops nested 64
deep, and one of 2,000 stages, are checked, built and run to the answer a
plain Python loop gives.

  scale_test.py CANARYC WORKDIR
"""
import json
import os
import subprocess
import sys
import time

canaryc, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)

HEAD = """#include <canary/dsl.h>
struct Params { int partitions = 3; };
CANARY_JOB(%s, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task& t, long& x) { x = t.index(); });
"""
TAIL = """  canary::transform("report", canary::reads(a), [](canary::Task& t, const long& x) { t.output("a", x); });
}
"""


def nested(depth):
    """Loops nested `depth` deep; every 16th runs twice. Returns (driver, the serial answer)."""
    lines, counts = [HEAD % "nested"], []
    for level in range(depth):
        count = 2 if level % 16 == 0 else 1
        counts.append(count)
        lines.append("  " * (level + 1) + "canary::loop(%d, [&] {\n" % count)
        lines.append("  " * (level + 2) + 'canary::transform("s%d", canary::writes(a), '
                     "[](canary::Task&, long& x) { x = (3 * x + %d) %% 1000003; });\n" % (level, level))
    for level in reversed(range(depth)):
        lines.append("  " * (level + 1) + "});\n")
    lines.append(TAIL)

    def run(x, level):  # the loops as a plain recursion
        if level == depth:
            return x
        for _ in range(counts[level]):
            x = run((3 * x + level) % 1000003, level + 1)
        return x

    return "".join(lines), [run(i, 0) for i in range(3)]


def wide(stages):
    lines = [HEAD % "wide"]
    for s in range(stages):
        lines.append('  canary::transform("s%d", canary::writes(a), [](canary::Task&, long& x) { x += %d; });\n'
                     % (s, s))
    lines.append(TAIL)
    return "".join(lines), [i + stages * (stages - 1) // 2 for i in range(3)]


failed = False
for name, (driver, want) in [("nested", nested(64)), ("wide", wide(2000))]:
    path = os.path.join(work, name + ".cpp")
    with open(path, "w") as f:
        f.write(driver)
    start = time.monotonic()
    built = subprocess.run([canaryc, path, "-o", os.path.join(work, name)], capture_output=True, text=True)
    seconds = time.monotonic() - start
    print("%s: canaryc took %.1f s" % (name, seconds))
    if built.returncode != 0:
        print("%s: canaryc failed:\n%s" % (name, built.stderr))
        failed = True
        continue
    results = os.path.join(work, name + ".json")
    ran = subprocess.run([os.path.join(work, name), "--in-process", "--results", results],
                         capture_output=True, text=True, timeout=120)
    got = json.load(open(results))["outputs"]["a"] if ran.returncode == 0 else None
    if got != want:
        print("%s: the job gave %s (exit %d: %s), the serial loop %s" % (name, got, ran.returncode,
                                                                         ran.stderr.strip(), want))
        failed = True
sys.exit(1 if failed else 0)
