// Where a job body changes a variable after declaring it. canaryc takes a
// count from a local variable's declaration and the job's parameters as the
// command line sets them, and builds the task functions from those
// parameters: a change the driver makes later would be lost without a word,
// so extract.cpp refuses it where it is made.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "clang/AST/ASTContext.h"
#include "clang/AST/ASTTypeTraits.h"

namespace canary::compiler {

class ChangeFinder {
 public:
  // Walks `body` once, noting every use of every variable.
  ChangeFinder(const clang::Stmt& body, clang::ASTContext& context);

  // The first place in the body that changes `var`: assigns or increments
  // it, binds it to a non-const reference, takes its address, calls a
  // non-const member, ...; nullptr when none does. A lambda's own copy of
  // `var` (a capture by value) is not `var`. Each use is judged within its
  // own statement, so a body of thousands of stages stays linear.
  const clang::Stmt* first_change(const clang::ValueDecl& var);

 private:
  std::optional<clang::DynTypedNode> parent_of(const clang::DynTypedNode& node) const;
  bool capture_or_copy(const clang::DeclRefExpr& ref, const clang::ValueDecl& var) const;
  const clang::Stmt* statement_of(const clang::DeclRefExpr& ref) const;
  const clang::Stmt* bound_to_mutable_reference(const clang::DeclRefExpr& ref) const;

  clang::ASTContext& context_;
  std::map<const clang::ValueDecl*, std::vector<const clang::DeclRefExpr*>> uses_;
  std::map<const clang::ValueDecl*, const clang::Stmt*> changes_;
};

}  // namespace canary::compiler
