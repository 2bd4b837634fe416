// The front end's first pass: finds the CANARY_JOB in a parsed driver and
// turns its body into the job model, reporting every misuse of the DSL that
// can only be seen in the C++ syntax tree (DSL calls outside the job body or
// under ordinary control flow, captures, parameter and dataset types).
#pragma once

#include <optional>

#include "clang/AST/ASTContext.h"
#include "diagnostics.h"
#include "job.h"

namespace canary::compiler {

// Returns the job when the driver declares exactly one and no error was
// reported; the job's locations carry clang::SourceLocation encodings.
std::optional<Job> extract_job(clang::ASTContext& context, DiagnosticSink& sink);

// The location of `loc` (after macro expansion) in the job model's terms.
SourceLoc to_source_loc(const clang::SourceManager& sm, clang::SourceLocation loc);

}  // namespace canary::compiler
