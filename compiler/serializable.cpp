#include "serializable.h"

#include "clang/AST/DeclTemplate.h"
#include "clang/AST/QualTypeNames.h"

namespace canary::compiler {
namespace {

using clang::QualType;

bool in_namespace(const clang::Decl* d, llvm::StringRef name) {
  const auto* ns = llvm::dyn_cast<clang::NamespaceDecl>(d->getDeclContext()->getEnclosingNamespaceContext());
  while (ns && ns->isInline()) ns = llvm::dyn_cast<clang::NamespaceDecl>(ns->getParent());
  return ns && ns->getName() == name && ns->getParent()->isTranslationUnit();
}

// The standard templates <canary/serialize.h> handles, and how many of
// their template arguments hold data (the rest are allocators, comparators
// ...); -1: every argument of a pack.
int std_data_arguments(llvm::StringRef name) {
  static const std::map<std::string, int> templates = {
      {"vector", 1}, {"deque", 1}, {"set", 1},           {"unordered_set", 1}, {"optional", 1}, {"array", 1},
      {"pair", 2},   {"map", 2},   {"unordered_map", 2}, {"tuple", -1},        {"variant", -1}};
  auto it = templates.find(name.str());
  return it == templates.end() ? 0 : it->second;
}

const char* kNotStandard =
    "it is not one of the standard types Canary serializes (string, vector, deque, array, pair, tuple, "
    "optional, variant, monostate, map, set, unordered_map, unordered_set); specialise canary::Serializer "
    "for it";

}  // namespace

TypeJudge::TypeJudge(clang::ASTContext& context) : context_(context) {}

std::string TypeJudge::for_people(QualType type) const {
  return type.getAsString(context_.getPrintingPolicy());
}

std::string TypeJudge::for_code(QualType type) const {
  clang::PrintingPolicy policy(context_.getLangOpts());
  policy.SuppressUnwrittenScope = true;  // an anonymous namespace's names are seen where it is
  return clang::TypeName::getFullyQualifiedName(type, context_, policy, /*WithGlobalNsPrefix=*/true);
}

std::string TypeJudge::why_not_shown(QualType type) {
  showing_ = true;
  std::string why = why_not(type);
  showing_ = false;
  return why;
}

std::string TypeJudge::why_not(QualType type) {
  type = type.getCanonicalType().getUnqualifiedType();
  Verdict v = judge(type);
  if (v.ok()) return "";
  if (!v.message.empty()) return v.message;
  std::string name = for_people(type);
  if (v.culprit == name) return "'" + name + "' cannot cross workers: " + v.reason;
  return "'" + name + "' holds a '" + v.culprit + "', which cannot cross workers: " + v.reason;
}

std::vector<Aggregate> TypeJudge::aggregates() const {
  std::vector<Aggregate> out;
  for (const auto& entry : aggregates_) out.push_back(entry.second);
  return out;
}

TypeJudge::Verdict TypeJudge::judge(QualType type) {
  type = type.getCanonicalType().getUnqualifiedType();
  const clang::Type* key = type.getTypePtr();
  if (auto it = judged_.find({key, showing_}); it != judged_.end()) return it->second;
  if (!judging_.insert(key).second) return {};  // a recursive type: judged where it began
  Verdict v;
  std::string name = for_people(type);
  if (type->isArithmeticType() || type->isEnumeralType()) {
  } else if (type->isPointerType() || type->isMemberPointerType()) {
    v = {name, "a pointer means nothing on another worker", ""};
  } else if (type->isReferenceType()) {
    v = {name, "a reference means nothing on another worker", ""};
  } else if (const auto* array = context_.getAsConstantArrayType(type)) {
    v = judge(array->getElementType());
  } else if (const auto* record = type->getAsCXXRecordDecl(); record && record->hasDefinition()) {
    v = judge_record(record->getDefinition(), type);
  } else {
    v = {name, "it is not a value type", ""};
  }
  judging_.erase(key);
  return judged_[{key, showing_}] = v;
}

TypeJudge::Verdict TypeJudge::judge_std(const clang::ClassTemplateSpecializationDecl* spec) {
  std::string name = for_people(context_.getRecordType(spec));
  const clang::TemplateArgumentList& args = spec->getTemplateArgs();
  if (spec->getName() == "basic_string")
    return args[0].getAsType()->isCharType() ? Verdict{}
                                             : Verdict{name, "only std::string is serialized", ""};
  int data = std_data_arguments(spec->getName());
  if (data == 0) return {name, kNotStandard, ""};
  std::vector<QualType> held;
  if (data < 0) {
    for (const clang::TemplateArgument& a : args[0].pack_elements()) held.push_back(a.getAsType());
  } else {
    for (int i = 0; i < data; ++i) held.push_back(args[i].getAsType());
  }
  for (QualType t : held) {
    Verdict v = judge(t);
    if (!v.ok()) return v;
  }
  return {};
}

TypeJudge::Verdict TypeJudge::judge_record(const clang::CXXRecordDecl* record, QualType type) {
  std::string name = for_people(type);
  if (const auto* spec = llvm::dyn_cast<clang::ClassTemplateSpecializationDecl>(record);
      spec && in_namespace(spec, "std"))
    return judge_std(spec);
  if (in_namespace(record, "std"))
    return record->getName() == "monostate" ? Verdict{} : Verdict{name, kNotStandard, ""};
  if (has_specialization(type, "Serializer")) {
    if (!showing_ || has_specialization(type, "Fields")) return {};
    return {name,
            "it has a hand-written canary::Serializer but no canary::Fields, so its members have no names to "
            "show; write canary::Fields<" +
                name + "> too (see <canary/serialize.h>)",
            ""};
  }
  if (record->isLambda()) return {name, "a lambda's closure holds code, not data", ""};
  if (record->isUnion())
    return {name, "a union does not say which of its members holds the value; use std::variant", ""};
  if (record->getDeclContext()->isFunctionOrMethod())
    return {name,
            "it is declared inside a function, where the code canaryc generates cannot name it; declare it "
            "at namespace scope",
            ""};
  if (record->isPolymorphic()) return {name, "it has virtual functions: it is not plain data", ""};
  if (!record->hasDefaultConstructor())
    return {name, "it has no default constructor, and partitions start value-initialised", ""};
  if (has_specialization(type, "Fields")) return {};
  Aggregate aggregate{for_code(type), {}, packed(type)};
  Verdict v = judge_members(record, "", aggregate);
  if (!v.ok()) return v;
  aggregates_[aggregate.type] = std::move(aggregate);
  return {};
}

TypeJudge::Verdict TypeJudge::judge_members(const clang::CXXRecordDecl* record, const std::string& qualifier,
                                            Aggregate& out) {
  std::string name = for_people(context_.getRecordType(record));
  for (const clang::CXXBaseSpecifier& base : record->bases()) {
    if (base.isVirtual()) return {name, "it has a virtual base: it is not plain data", ""};
    if (base.getAccessSpecifier() != clang::AS_public)
      return {name, "its base '" + for_people(base.getType()) + "' is not public, so canaryc cannot reach it",
              ""};
    const clang::CXXRecordDecl* b = base.getType()->getAsCXXRecordDecl();
    if (!b || !b->hasDefinition()) return {name, "a base is not a complete class", ""};
    Verdict v = judge_members(b->getDefinition(), for_code(base.getType()).substr(2) + "::", out);
    if (!v.ok()) return v;
  }
  for (const clang::FieldDecl* field : record->fields()) {
    if (field->isUnnamedBitfield()) continue;
    std::string member = name + "::" + field->getNameAsString();
    if (field->isAnonymousStructOrUnion())
      return {name, "it has an anonymous struct or union member, which has no name to serialize it by", ""};
    if (field->getAccess() != clang::AS_public)
      return {name,
              "its member '" + field->getNameAsString() +
                  "' is not public, so canaryc cannot reach it: make it public, or specialise "
                  "canary::Serializer<" +
                  name + ">",
              ""};
    QualType type = field->getType();
    if (type.isConstQualified() && !type->isReferenceType())
      return {"", "", "'" + member + "' is const, so a partition cannot be read back into it"};
    Verdict v = judge(type);
    if (!v.ok()) {
      if (!v.message.empty()) return v;
      std::string own = for_people(type.getCanonicalType().getUnqualifiedType());
      std::string head = v.culprit == own ? "'" + member + "' is a '" + own + "'"
                                          : "'" + member + "' holds a '" + v.culprit + "'";
      return {"", "", head + ", which cannot cross workers: " + v.reason};
    }
    std::string access = "v." + qualifier + field->getNameAsString();
    std::string bits = field->isBitField() ? for_code(type.getCanonicalType().getUnqualifiedType()) : "";
    out.members.push_back({field->getNameAsString(), access, bits});
  }
  return {};
}

// Whether `type` is trivially copyable and every byte of it belongs to a
// member: then its bytes are its value (<canary/serialize.h>'s is_packed).
bool TypeJudge::packed(QualType type) const {
  type = type.getCanonicalType();
  if (type->isArithmeticType() || type->isEnumeralType()) return true;
  if (const auto* array = context_.getAsConstantArrayType(type)) return packed(array->getElementType());
  const auto* record = type->getAsCXXRecordDecl();
  if (!record || !record->hasDefinition() || !type.isTriviallyCopyableType(context_)) return false;
  record = record->getDefinition();
  std::int64_t bytes = 0;
  for (const clang::CXXBaseSpecifier& base : record->bases()) {
    if (!packed(base.getType())) return false;
    bytes += context_.getTypeSizeInChars(base.getType()).getQuantity();
  }
  for (const clang::FieldDecl* field : record->fields()) {
    if (field->isBitField() || !packed(field->getType())) return false;
    bytes += context_.getTypeSizeInChars(field->getType()).getQuantity();
  }
  return bytes == context_.getTypeSizeInChars(type).getQuantity();
}

// An explicit specialization canary::OF<type> in the driver.
bool TypeJudge::has_specialization(QualType type, llvm::StringRef of) {
  const clang::IdentifierInfo& id = context_.Idents.get(of);
  for (const clang::Decl* d : context_.getTranslationUnitDecl()->decls()) {
    const auto* ns = llvm::dyn_cast<clang::NamespaceDecl>(d);
    if (!ns || ns->getName() != "canary") continue;
    for (const clang::NamedDecl* n : ns->lookup(&id)) {
      const auto* t = llvm::dyn_cast<clang::ClassTemplateDecl>(n);
      if (!t) continue;
      for (const clang::ClassTemplateSpecializationDecl* spec : t->getCanonicalDecl()->specializations()) {
        if (spec->getSpecializationKind() != clang::TSK_ExplicitSpecialization) continue;
        if (spec->getTemplateArgs()[0].getAsType().getCanonicalType().getUnqualifiedType() == type)
          return true;
      }
    }
  }
  return false;
}

}  // namespace canary::compiler
