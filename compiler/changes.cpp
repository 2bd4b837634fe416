#include "changes.h"

#include "clang/AST/ParentMapContext.h"
#include "clang/AST/RecursiveASTVisitor.h"
#include "clang/Analysis/Analyses/ExprMutationAnalyzer.h"

namespace canary::compiler {
namespace {

using namespace clang;

class Uses : public RecursiveASTVisitor<Uses> {
 public:
  explicit Uses(std::map<const ValueDecl*, std::vector<const DeclRefExpr*>>& uses) : uses_(uses) {}
  bool shouldVisitImplicitCode() const { return true; }  // implicit captures' uses too
  bool VisitDeclRefExpr(DeclRefExpr* ref) {
    uses_[ref->getDecl()].push_back(ref);
    return true;
  }

 private:
  std::map<const ValueDecl*, std::vector<const DeclRefExpr*>>& uses_;
};

// Whether `parent` holds `child` as an lvalue still naming (part of) the
// same object: a member or element of it, or it in parentheses or cast to
// a base.
bool same_object(const DynTypedNode& parent, const Stmt* child) {
  if (const auto* member = parent.get<MemberExpr>()) return member->getBase() == child && !member->isArrow();
  if (const auto* element = parent.get<ArraySubscriptExpr>()) return element->getBase() == child;
  if (parent.get<ParenExpr>()) return true;
  if (const auto* cast = parent.get<ImplicitCastExpr>())
    return cast->getCastKind() == CK_NoOp || cast->getCastKind() == CK_DerivedToBase ||
           cast->getCastKind() == CK_UncheckedDerivedToBase;
  return false;
}

}  // namespace

ChangeFinder::ChangeFinder(const Stmt& body, ASTContext& context) : context_(context) {
  Uses(uses_).TraverseStmt(const_cast<Stmt*>(&body));
}

const Stmt* ChangeFinder::first_change(const ValueDecl& var) {
  auto [known, fresh] = changes_.try_emplace(&var, nullptr);
  if (!fresh) return known->second;
  for (const DeclRefExpr* ref : uses_[&var]) {
    if (capture_or_copy(*ref, var)) continue;
    if (const Stmt* change = bound_to_mutable_reference(*ref)) return known->second = change;
    ExprMutationAnalyzer analyzer(*statement_of(*ref), context_);
    if (const Stmt* change = analyzer.findMutation(ref)) return known->second = change;
  }
  return nullptr;
}

// The first of a node's parents (a node has several only in template
// instantiations, which a job body is not), or nothing at the top.
std::optional<DynTypedNode> ChangeFinder::parent_of(const DynTypedNode& node) const {
  DynTypedNodeList parents = context_.getParents(node);
  if (parents.empty()) return std::nullopt;
  return parents[0];
}

// Whether `ref` is what a lambda's capture is made from (a capture by
// reference would otherwise count as a change), or names a lambda's own copy.
bool ChangeFinder::capture_or_copy(const DeclRefExpr& ref, const ValueDecl& var) const {
  for (auto node = parent_of(DynTypedNode::create(ref)); node; node = parent_of(*node)) {
    const auto* lambda = node->get<LambdaExpr>();
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

// The statement of a block that holds `ref`: a change of what `ref` names
// is made there, by an operator or call it is an operand of.
const Stmt* ChangeFinder::statement_of(const DeclRefExpr& ref) const {
  const Stmt* statement = &ref;
  for (auto node = parent_of(DynTypedNode::create(ref)); node && !node->get<CompoundStmt>();
       node = parent_of(*node))
    if (const auto* s = node->get<Stmt>()) statement = s;
  return statement;
}

// `int& r = n;` changes nothing yet, but r may change n in any later
// statement: the binding counts as the change.
const Stmt* ChangeFinder::bound_to_mutable_reference(const DeclRefExpr& ref) const {
  const Stmt* object = &ref;
  for (auto node = parent_of(DynTypedNode::create(ref)); node; node = parent_of(*node)) {
    if (const auto* var = node->get<VarDecl>()) {
      QualType type = var->getType();
      bool mutable_reference = type->isReferenceType() && !type.getNonReferenceType().isConstQualified();
      return mutable_reference ? object : nullptr;
    }
    if (!same_object(*node, object)) return nullptr;
    object = node->get<Stmt>();
  }
  return nullptr;
}

}  // namespace canary::compiler
