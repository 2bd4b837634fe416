#include "serializable.h"

#include <set>

#include "clang/AST/DeclTemplate.h"

namespace canary::compiler {
namespace {

using clang::QualType;

bool in_namespace(const clang::Decl* d, llvm::StringRef name) {
  const auto* ns = llvm::dyn_cast<clang::NamespaceDecl>(d->getDeclContext()->getEnclosingNamespaceContext());
  while (ns && ns->isInline()) ns = llvm::dyn_cast<clang::NamespaceDecl>(ns->getParent());
  return ns && ns->getName() == name && ns->getParent()->isTranslationUnit();
}

class SerializableCheck {
 public:
  explicit SerializableCheck(clang::ASTContext& context) : context_(context) {}

  std::string check(QualType type) {
    type = type.getCanonicalType().getUnqualifiedType();
    std::string name = type.getAsString(context_.getPrintingPolicy());
    if (type->isArithmeticType() || type->isEnumeralType()) return "";
    if (type->isPointerType() || type->isReferenceType() || type->isMemberPointerType())
      return "'" + name + "' is a pointer or reference, which means nothing on another worker";
    if (const auto* array = context_.getAsConstantArrayType(type)) return check(array->getElementType());
    const auto* record = type->getAsCXXRecordDecl();
    if (!record) return "'" + name + "' is not a value type";
    if (!visiting_.insert(record).second) return "";  // recursive types: judged at the outer level
    if (has_user_serializer(type)) return "";
    if (const auto* spec = llvm::dyn_cast<clang::ClassTemplateSpecializationDecl>(record);
        spec && in_namespace(spec, "std"))
      return check_std(spec, name);
    if (!type.isTriviallyCopyableType(context_))
      return "'" + name +
             "' is not trivially copyable and has no canary::Serializer specialization "
             "(see <canary/serialize.h>)";
    for (const clang::FieldDecl* field : record->fields()) {
      std::string why = check(field->getType());
      if (!why.empty()) return "its field '" + field->getNameAsString() + "': " + why;
    }
    for (const clang::CXXBaseSpecifier& base : record->bases()) {
      std::string why = check(base.getType());
      if (!why.empty()) return why;
    }
    return "";
  }

 private:
  // The standard containers <canary/serialize.h> handles, and which of their
  // template arguments hold data (the rest are allocators, comparators ...).
  std::string check_std(const clang::ClassTemplateSpecializationDecl* spec, const std::string& name) {
    llvm::StringRef tmpl = spec->getName();
    const clang::TemplateArgumentList& args = spec->getTemplateArgs();
    unsigned data_args = 0;
    if (tmpl == "basic_string") {
      return args[0].getAsType()->isCharType() ? "" : "'" + name + "' is not std::string";
    } else if (tmpl == "vector" || tmpl == "set" || tmpl == "array") {
      data_args = 1;
    } else if (tmpl == "pair" || tmpl == "map" || tmpl == "unordered_map") {
      data_args = 2;
    } else if (tmpl == "tuple") {
      for (const clang::TemplateArgument& a : args[0].pack_elements()) {
        std::string why = check(a.getAsType());
        if (!why.empty()) return why;
      }
      return "";
    } else {
      return "'" + name +
             "' is not one of the standard types Canary serializes (string, vector, array, pair, "
             "tuple, map, set, unordered_map); specialise canary::Serializer for it";
    }
    for (unsigned i = 0; i < data_args; ++i) {
      std::string why = check(args[i].getAsType());
      if (!why.empty()) return why;
    }
    return "";
  }

  bool has_user_serializer(QualType type) {
    for (const clang::ClassTemplateDecl* serializer : serializer_templates()) {
      for (const clang::ClassTemplateSpecializationDecl* spec : serializer->specializations()) {
        if (spec->getSpecializationKind() != clang::TSK_ExplicitSpecialization) continue;
        QualType arg = spec->getTemplateArgs()[0].getAsType().getCanonicalType();
        if (arg.getUnqualifiedType() == type) return true;
      }
    }
    return false;
  }

  std::vector<const clang::ClassTemplateDecl*> serializer_templates() {
    std::vector<const clang::ClassTemplateDecl*> found;
    const clang::IdentifierInfo& id = context_.Idents.get("Serializer");
    for (const clang::Decl* d : context_.getTranslationUnitDecl()->decls()) {
      const auto* ns = llvm::dyn_cast<clang::NamespaceDecl>(d);
      if (!ns || ns->getName() != "canary") continue;
      for (const clang::NamedDecl* n : ns->lookup(&id))
        if (const auto* t = llvm::dyn_cast<clang::ClassTemplateDecl>(n))
          found.push_back(t->getCanonicalDecl());
    }
    return found;
  }

  clang::ASTContext& context_;
  std::set<const clang::CXXRecordDecl*> visiting_;
};

}  // namespace

std::string why_not_serializable(QualType type, clang::ASTContext& context) {
  return SerializableCheck(context).check(type);
}

}  // namespace canary::compiler
