#include "changes.h"

#include "clang/AST/ParentMapContext.h"
#include "clang/ASTMatchers/ASTMatchFinder.h"
#include "clang/ASTMatchers/ASTMatchers.h"
#include "clang/Analysis/Analyses/ExprMutationAnalyzer.h"

namespace canary::compiler {
namespace {

using namespace clang;
using namespace clang::ast_matchers;

// Whether `ref` is what a lambda's capture is made from (a capture by
// reference would otherwise count as a change), or names a lambda's own copy.
bool capture_or_copy(const DeclRefExpr& ref, const ValueDecl& var, ASTContext& context) {
  DynTypedNode node = DynTypedNode::create(ref);
  for (int depth = 0; depth < 4096; ++depth) {
    DynTypedNodeList parents = context.getParents(node);
    if (parents.empty()) return false;
    node = parents[0];
    const auto* lambda = node.get<LambdaExpr>();
    if (!lambda) continue;
    for (const Expr* init : lambda->capture_inits())
      if (init && init->IgnoreImplicit() == &ref) return true;
    for (const LambdaCapture& capture : lambda->captures())
      if (capture.capturesVariable() && capture.getCapturedVar() == &var &&
          capture.getCaptureKind() == LCK_ByCopy)
        return true;
  }
  return false;
}

}  // namespace

const Stmt* first_change(const ValueDecl& var, const Stmt& body, ASTContext& context) {
  ExprMutationAnalyzer analyzer(body, context);
  for (const BoundNodes& found :
       match(findAll(declRefExpr(to(equalsNode(&var))).bind("ref")), body, context)) {
    const auto* ref = found.getNodeAs<DeclRefExpr>("ref");
    if (capture_or_copy(*ref, var, context)) continue;
    if (const Stmt* change = analyzer.findMutation(ref)) return change;
  }
  return nullptr;
}

}  // namespace canary::compiler
