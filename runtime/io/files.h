// Read and write stages' files (DESIGN.md section 4.1): resolving a path to
// its input files, cutting them into splits at line or record boundaries,
// writing part files under DIR/_temporary/, and the commit that renames them
// into place once the job has succeeded.
//
// Commit protocol (docs/runtime.md, "Files in and out"):
//   1. Before any task runs, the process that has the parameters checks every
//      input and makes every output directory, with an empty _temporary/
//      (with --resume, _temporary/ is kept: it holds the part files of write
//      stages before the snapshot's cut, which will not run again).
//   2. A write task writes part-NNNNN.s<instance> under _temporary/ through a
//      temporary name and renames it: a task run again (after a rollback or
//      a migration) replaces its file whole, never adds a second one.
//   3. When the job has succeeded, the controller takes each partition's file
//      of the stage's last instance, removes the earlier run's part files,
//      renames the new ones into DIR, writes _SUCCESS and removes _temporary/.
//      A job that fails never gets here: DIR keeps the earlier run's output,
//      and _temporary/ is removed unless --resume can take the job on.
#pragma once

#include <canary/program.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace canary::rt {

struct InputFile {
  std::string path;
  std::uint64_t bytes;  // on disk (compressed, for .gz)
  bool gzip;
};

// A file, a directory's regular files (names starting with '.' or '_'
// skipped) or a glob's matches, in name order, with their sizes; refused
// with the reason when no file is there.
Result<std::vector<InputFile>> resolve_input(const std::string& path);

// Commit protocol, step 1: one line naming the stage and the path when an
// input is missing, empty, unreadable or not whole records, or an output
// directory cannot be made.
enum class RunStart { Fresh, Resumed };
Status prepare_files(const Program& program, const void* params, RunStart start);

// Commit protocol, step 3.
Status commit_files(const Program& program, const void* params);
// A job that failed for good: its part files go.
void abandon_files(const Program& program, const void* params);

}  // namespace canary::rt
