// Decides whether a type can cross workers, and what canaryc must generate
// for it: the rules of <canary/serialize.h> applied to Clang's view of the
// type. Every aggregate it meets on the way (a struct of public members
// without virtual functions, DESIGN.md section 4) that has no hand-written
// canary::Serializer or canary::Fields is collected, so that code
// generation writes its Fields<T>.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "clang/AST/ASTContext.h"
#include "job.h"

namespace canary::compiler {

class TypeJudge {
 public:
  explicit TypeJudge(clang::ASTContext& context);

  // "" when `type` can cross workers, else why not, naming the member or
  // element at fault.
  std::string why_not(clang::QualType type);
  // The same for an output, shown as JSON: it needs names for members too,
  // which a type with only a hand-written Serializer does not give.
  std::string why_not_shown(clang::QualType type);

  // The aggregates met so far whose Fields<T> canaryc generates.
  std::vector<Aggregate> aggregates() const;

 private:
  // Why a type cannot cross workers: the innermost culprit and its reason,
  // or, once the culprit was found in a struct's member, the whole message.
  struct Verdict {
    std::string culprit;
    std::string reason;
    std::string message;
    bool ok() const { return culprit.empty() && message.empty(); }
  };

  Verdict judge(clang::QualType type);
  Verdict judge_std(const clang::ClassTemplateSpecializationDecl* spec);
  Verdict judge_record(const clang::CXXRecordDecl* record, clang::QualType type);
  // The members of `record` (its bases' first) into `out`, reached from a
  // value through `qualifier` (empty, or a base's name and ::).
  Verdict judge_members(const clang::CXXRecordDecl* record, const std::string& qualifier, Aggregate& out);
  bool has_specialization(clang::QualType type, llvm::StringRef of);
  bool packed(clang::QualType type) const;
  std::string for_people(clang::QualType type) const;
  std::string for_code(clang::QualType type) const;

  clang::ASTContext& context_;
  bool showing_ = false;                                           // judging for why_not_shown()
  std::map<std::pair<const clang::Type*, bool>, Verdict> judged_;  // (canonical type, showing_) -> verdict
  std::set<const clang::Type*> judging_;                           // on the way down: recursive types pass
  std::map<std::string, Aggregate> aggregates_;                    // by spelling
};

}  // namespace canary::compiler
