// Where a job body changes a variable after declaring it. canaryc takes a
// count from a local variable's declaration and the job's parameters as the
// command line sets them, and builds the task functions from those
// parameters: a change the driver makes later would be lost without a word,
// so extract.cpp refuses it where it is made.
#pragma once

#include "clang/AST/ASTContext.h"

namespace canary::compiler {

// The first statement of `body` that changes `var`: assigns or increments
// it, binds it to a non-const reference, takes its address, calls a
// non-const member, ...; nullptr when none does. A lambda's own copy of
// `var` (a capture by value) is not `var`.
const clang::Stmt* first_change(const clang::ValueDecl& var, const clang::Stmt& body,
                                clang::ASTContext& context);

}  // namespace canary::compiler
