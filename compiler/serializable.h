// Decides whether a dataset's element type can cross workers: the rules of
// <canary/serialize.h>, applied to Clang's view of the type.
#pragma once

#include <string>

#include "clang/AST/ASTContext.h"

namespace canary::compiler {

// Returns an empty string when `type` is serializable, else why it is not.
std::string why_not_serializable(clang::QualType type, clang::ASTContext& context);

}  // namespace canary::compiler
