#include "extract.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "changes.h"
#include "clang/AST/ParentMapContext.h"
#include "clang/AST/RecursiveASTVisitor.h"
#include "clang/Lex/Lexer.h"
#include "llvm/Support/ConvertUTF.h"
#include "quote.h"
#include "serializable.h"

namespace canary::compiler {
namespace {

using namespace clang;

// The DSL entry points whose placement canaryc checks.
const std::set<std::string> kStatementCalls = {"dataset",   "transform",  "scatter", "gather",
                                               "broadcast", "reduce",     "read",    "write",
                                               "loop",      "loop_while", "if_"};

// Names and string defaults travel in the graph's JSON, which is UTF-8.
bool valid_utf8(llvm::StringRef text) {
  const auto* begin = reinterpret_cast<const llvm::UTF8*>(text.begin());
  return llvm::isLegalUTF8String(&begin, reinterpret_cast<const llvm::UTF8*>(text.end()));
}

// The canary::NAME function a call invokes, or "".
std::string dsl_name(const CallExpr* call) {
  const FunctionDecl* f = call ? call->getDirectCallee() : nullptr;
  // In a template, a call with dependent arguments is not resolved: its
  // candidates say which function it names.
  if (const auto* lookup =
          call && !f ? dyn_cast<UnresolvedLookupExpr>(call->getCallee()->IgnoreImplicit()) : nullptr)
    for (const NamedDecl* candidate : lookup->decls())
      if ((f = candidate->getUnderlyingDecl()->getAsFunction())) break;
  if (!f || !f->getIdentifier()) return "";
  const auto* ns = dyn_cast<NamespaceDecl>(f->getDeclContext());
  if (!ns || ns->getName() != "canary" || !ns->getParent()->isTranslationUnit()) return "";
  return f->getName().str();
}

// The DSL statement a call is, or "": canary::read and canary::write of two
// arguments are <canary/serialize.h>'s, which user serializers call.
std::string statement_name(const CallExpr* call) {
  std::string name = dsl_name(call);
  if (!kStatementCalls.count(name)) return "";
  if ((name == "read" || name == "write") && call->getNumArgs() != 4) return "";
  return name;
}

const Expr* strip(const Expr* e) { return e ? e->IgnoreUnlessSpelledInSource() : nullptr; }

// Whether `call` is t.output(key, value) on a canary::Task.
bool is_output(const CallExpr* call) {
  const auto* member = dyn_cast<CXXMemberCallExpr>(call);
  const CXXMethodDecl* method = member ? member->getMethodDecl() : nullptr;
  if (!method || method->getName() != "output" || method->getParent()->getName() != "Task") return false;
  const auto* ns = dyn_cast<NamespaceDecl>(method->getParent()->getDeclContext());
  return ns && ns->getName() == "canary";
}

// Every DSL statement call and t.output() outside system headers, and the
// job functions.
class Survey : public RecursiveASTVisitor<Survey> {
 public:
  explicit Survey(const SourceManager& sm) : sm_(sm) {}
  bool shouldVisitTemplateInstantiations() const { return false; }
  bool shouldVisitLambdaBodies() const { return true; }

  bool VisitCallExpr(CallExpr* call) {
    if (sm_.isInSystemHeader(sm_.getExpansionLoc(call->getBeginLoc()))) return true;
    if (!statement_name(call).empty()) calls.push_back(call);
    if (is_output(call)) outputs.push_back(call);
    if (call->getDirectCallee() && dsl_name(call) == "hash_partition") keys.push_back(call);
    return true;
  }
  bool VisitFunctionDecl(FunctionDecl* f) {
    if (!f->doesThisDeclarationHaveABody()) return true;
    for (const auto* attr : f->specific_attrs<AnnotateAttr>())
      if (attr->getAnnotation().startswith("canary.job:")) jobs.push_back(f);
    return true;
  }

  std::vector<const CallExpr*> calls;
  std::vector<const CallExpr*> outputs;  // t.output(key, value)
  std::vector<const CallExpr*> keys;     // canary::hash_partition(key, parts)
  std::vector<const FunctionDecl*> jobs;

 private:
  const SourceManager& sm_;
};

// The variables of static or thread storage a function's body uses that it
// could change: each worker process has its own, so what a task writes
// there, tasks elsewhere do not see.
class SharedVariables : public RecursiveASTVisitor<SharedVariables> {
 public:
  explicit SharedVariables(const SourceManager& sm) : sm_(sm) {}
  bool VisitDeclRefExpr(DeclRefExpr* ref) {
    const auto* var = dyn_cast<VarDecl>(ref->getDecl());
    if (!var || !var->hasGlobalStorage() || var->isConstexpr() || var->getType().isConstQualified() ||
        sm_.isInSystemHeader(sm_.getExpansionLoc(var->getLocation())))
      return true;
    if (seen_.insert(var).second) found.push_back(ref);
    return true;
  }
  std::vector<const DeclRefExpr*> found;

 private:
  const SourceManager& sm_;
  std::set<const VarDecl*> seen_;
};

class Extractor {
 public:
  Extractor(ASTContext& context, DiagnosticSink& sink)
      : context_(context), sm_(context.getSourceManager()), sink_(sink) {}

  std::optional<Job> run() {
    Survey survey(sm_);
    survey.TraverseDecl(context_.getTranslationUnitDecl());
    if (survey.jobs.empty()) {
      SourceLoc file_start = loc(sm_.getLocForStartOfFile(sm_.getMainFileID()));
      sink_.error(file_start,
                  "no CANARY_JOB in this driver; declare one with CANARY_JOB(name, Params params) { ... }");
      return std::nullopt;
    }
    for (std::size_t i = 1; i < survey.jobs.size(); ++i) {
      error(survey.jobs[i]->getLocation(), "a driver declares exactly one CANARY_JOB");
      sink_.note(loc(survey.jobs[0]->getLocation()), "the first CANARY_JOB is here");
    }
    job_fn_ = survey.jobs[0];
    extract_signature();
    changes_.emplace(*job_fn_->getBody(), context_);
    if (params_)
      if (const Stmt* change = changes_->first_change(*params_))
        error(change->getBeginLoc(),
              "the job body changes its parameters here, but stages and counts see them as the command line "
              "sets them: compute what you need into a local variable instead");
    // Walked even when the signature is refused: else each of its DSL calls
    // would be reported again as misplaced.
    walk(cast<CompoundStmt>(job_fn_->getBody()), kNone, Branch::None, job_.body);
    for (const CallExpr* call : survey.calls)
      if (!consumed_.count(call)) report_misplaced(call);
    for (const CallExpr* call : survey.outputs) output(call);
    for (const CallExpr* call : survey.keys) hash_key(call);
    if (!ok_) return std::nullopt;
    job_.aggregates = types_.aggregates();
    return std::move(job_);
  }

 private:
  SourceLoc loc(SourceLocation l) const { return to_source_loc(sm_, l); }
  void error(SourceLocation l, const std::string& message) {
    sink_.error(loc(l), message);
    ok_ = false;
  }

  // --- the job's signature and parameter struct -------------------------

  void extract_signature() {
    llvm::StringRef annotation;
    for (const auto* attr : job_fn_->specific_attrs<AnnotateAttr>()) annotation = attr->getAnnotation();
    job_.name = annotation.drop_front(strlen("canary.job:")).str();
    job_.source = loc(job_fn_->getLocation()).file;
    if (job_fn_->getNumParams() != 1) {
      error(job_fn_->getLocation(),
            "CANARY_JOB takes one parameter struct, as in CANARY_JOB(name, Params params)");
      return;
    }
    params_ = job_fn_->getParamDecl(0);
    job_.params_variable = params_->getNameAsString();
    QualType type = params_->getType();
    const CXXRecordDecl* record = type->getAsCXXRecordDecl();
    if (!record || type->isReferenceType() || type->isPointerType()) {
      error(params_->getLocation(),
            "the job's parameters must be a struct passed by value, as in 'Params params'");
      return;
    }
    job_.params_type = type.getUnqualifiedType().getAsString(context_.getPrintingPolicy());
    for (const FieldDecl* field : record->fields()) extract_param(field);
  }

  void extract_param(const FieldDecl* field) {
    Param p;
    p.name = field->getNameAsString();
    p.loc = loc(field->getLocation());
    if (field->getAccess() != AS_public) {
      error(field->getLocation(), "parameter '" + p.name +
                                      "' is not public; the job binary sets every field of the parameters "
                                      "from its flags, so they must all be public");
      return;
    }
    QualType t = field->getType().getCanonicalType().getUnqualifiedType();
    const Expr* init = field->getInClassInitializer();
    Expr::EvalResult value;
    bool evaluated = init && init->EvaluateAsRValue(value, context_) && !value.HasSideEffects;
    if (t->isSpecificBuiltinType(BuiltinType::Int) || t->isSpecificBuiltinType(BuiltinType::Long)) {
      p.type = t->isSpecificBuiltinType(BuiltinType::Int) ? ParamType::Int : ParamType::Long;
      p.default_value = evaluated && value.Val.isInt() ? toString(value.Val.getInt(), 10) : "0";
    } else if (t->isSpecificBuiltinType(BuiltinType::Double)) {
      p.type = ParamType::Double;
      if (evaluated && value.Val.isFloat()) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", value.Val.getFloat().convertToDouble());
        p.default_value = buf;
      } else if (evaluated && value.Val.isInt()) {
        p.default_value = toString(value.Val.getInt(), 10);
      } else {
        p.default_value = "0";
      }
    } else if (t->isBooleanType()) {
      p.type = ParamType::Bool;
      p.default_value = evaluated && value.Val.isInt() && value.Val.getInt() != 0 ? "true" : "false";
    } else if (is_std_string(t)) {
      p.type = ParamType::String;
      const auto* literal = init ? dyn_cast<StringLiteral>(strip(init)) : nullptr;
      if (init && !literal) {
        error(init->getBeginLoc(),
              "the default of string parameter '" + p.name + "' must be a string literal");
        return;
      }
      std::string text = literal ? literal->getString().str() : "";
      if (!valid_utf8(text)) {
        error(init->getBeginLoc(), "the default of string parameter '" + p.name + "' is not valid UTF-8");
        return;
      }
      p.default_value = nlohmann::json(text).dump();
    } else {
      error(field->getLocation(), "parameter '" + p.name + "' has type '" +
                                      field->getType().getAsString(context_.getPrintingPolicy()) +
                                      "'; job parameters are int, long, double, bool or std::string");
      return;
    }
    if (init && !evaluated && p.type != ParamType::String) {
      error(init->getBeginLoc(), "the default of parameter '" + p.name + "' must be a constant");
      return;
    }
    job_.params.push_back(std::move(p));
  }

  static bool is_std_string(QualType t) {
    const auto* spec = dyn_cast_or_null<ClassTemplateSpecializationDecl>(t->getAsCXXRecordDecl());
    return spec && spec->getName() == "basic_string" && spec->getTemplateArgs()[0].getAsType()->isCharType();
  }

  // --- walking the body ---------------------------------------------------

  void walk(const CompoundStmt* body, BlockId block, Branch branch, std::vector<Node>& out) {
    for (const Stmt* s : body->body()) {
      if (const auto* decl = dyn_cast<DeclStmt>(s)) {
        for (const Decl* d : decl->decls())
          if (const auto* var = dyn_cast<VarDecl>(d)) declare(var);
        continue;
      }
      const auto* e = dyn_cast<Expr>(s);
      const auto* call = dyn_cast_or_null<CallExpr>(strip(e));
      std::string name = statement_name(call);
      if (name.empty()) continue;  // plain C++; DSL calls inside it are reported later
      consumed_.insert(call);
      if (name == "dataset") {
        error(call->getBeginLoc(),
              "a dataset must be held in a variable: auto d = canary::dataset<T>(\"d\", n);");
      } else if (name == "loop" || name == "loop_while" || name == "if_") {
        control(name, call, block, out);
      } else {
        StageId id = stage(name, call, block, branch);
        if (id != kNone) out.push_back({Node::Kind::Stage, id});
      }
    }
  }

  void declare(const VarDecl* var) {
    const auto* call = dyn_cast_or_null<CallExpr>(strip(var->getInit()));
    std::string name = statement_name(call);
    if (name.empty()) return;
    consumed_.insert(call);
    if (name != "dataset") {
      error(call->getBeginLoc(), "canary::" + name + " returns nothing to hold in a variable");
      return;
    }
    // Its uses would each report it again as no dataset at all.
    if (!declare_dataset(var, call)) refused_datasets_.insert(var);
  }

  bool declare_dataset(const VarDecl* var, const CallExpr* call) {
    Dataset d;
    d.id = static_cast<DatasetId>(job_.datasets.size());
    d.loc = loc(call->getBeginLoc());
    d.name = literal_name(call, "a dataset's");
    if (d.name.empty()) return false;
    QualType element = call->getDirectCallee()->getTemplateSpecializationArgs()->get(0).getAsType();
    d.type = spelled_template_argument(call).value_or(element.getAsString(context_.getPrintingPolicy()));
    std::string why = types_.why_not(element);
    if (!why.empty()) {
      error(call->getBeginLoc(), "dataset '" + d.name + "' has a type Canary cannot serialize: " + why);
      return false;
    }
    std::optional<Count> partitions =
        is_automatic(call->getArg(1)) ? Count::automatic() : count(call->getArg(1), "partition count");
    if (!partitions) return false;
    if (partitions->constant && *partitions->constant < 1) {
      error(call->getArg(1)->getBeginLoc(), "dataset '" + d.name + "' needs at least one partition");
      return false;
    }
    d.partitions = *partitions;
    datasets_[var] = d.id;
    element_types_.push_back(element.getCanonicalType());
    job_.datasets.push_back(std::move(d));
    return true;
  }

  // The element type as the driver wrote it (`Vec`, not `std::array<double, 20>`).
  std::optional<std::string> spelled_template_argument(const CallExpr* call) const {
    const auto* callee = dyn_cast<DeclRefExpr>(call->getCallee()->IgnoreImplicit());
    if (!callee || callee->getNumTemplateArgs() != 1) return std::nullopt;
    const TypeSourceInfo* info = callee->getTemplateArgs()[0].getTypeSourceInfo();
    if (!info) return std::nullopt;
    return info->getType().getAsString(context_.getPrintingPolicy());
  }

  // --- stages -------------------------------------------------------------

  StageId stage(const std::string& kind, const CallExpr* call, BlockId block, Branch branch) {
    Stage s;
    s.name = stage_name(call);
    s.loc = loc(call->getBeginLoc());
    s.block = block;
    s.branch = branch;
    unsigned n = call->getNumArgs();
    bool ok = true;
    if (kind == "transform") {
      s.kind = StageKind::Transform;
      for (unsigned i = 1; i + 1 < n; ++i) ok &= dataset_list(call->getArg(i), s);
      ok &= function(call->getArg(n - 1), s);
      if (ok) s.partitions = first_partitions(s.reads.empty() ? s.writes : s.reads);
    } else if (kind == "scatter") {
      s.kind = StageKind::Scatter;
      ok &= dataset_list(call->getArg(1), s);
      ok &= dataset_list(call->getArg(2), s);
      ok &= function(call->getArg(3), s);
      if (ok && n == 5) ok &= combine(call->getArg(4), s);
      if (ok) s.partitions = first_partitions(s.reads);
    } else if (kind == "read") {  // read(name, files(...), writes(...), fn)
      s.kind = StageKind::Read;
      ok &= files_arg(call->getArg(1), s);
      ok &= dataset_list(call->getArg(2), s) && list_is(call->getArg(2), "writes", s);
      ok &= function(call->getArg(3), s);
      if (ok) s.partitions = first_partitions(s.writes);
    } else if (kind == "write") {  // write(name, reads(...), files(...), fn)
      s.kind = StageKind::Write;
      ok &= dataset_list(call->getArg(1), s) && list_is(call->getArg(1), "reads", s);
      ok &= files_arg(call->getArg(2), s);
      ok &= function(call->getArg(3), s);
      if (ok) s.partitions = first_partitions(s.reads);
    } else if (kind == "gather") {
      s.kind = StageKind::Gather;
      DatasetId d = dataset_ref(call->getArg(1));
      ok &= d != kNone && function(call->getArg(2), s);
      if (ok) {
        s.writes = {d};
        s.partitions = job_.datasets[d].partitions;
      }
    } else {  // broadcast(name, single, many) and reduce(name, many, single, fn)
      s.kind = kind == "broadcast" ? StageKind::Broadcast : StageKind::Reduce;
      DatasetId from = dataset_ref(call->getArg(1));
      DatasetId to = dataset_ref(call->getArg(2));
      ok &= from != kNone && to != kNone;
      if (s.kind == StageKind::Reduce) ok &= function(call->getArg(3), s);
      if (ok) {
        s.reads = {from};
        s.writes = {to};
        s.partitions = job_.datasets[s.kind == StageKind::Reduce ? from : to].partitions;
      }
    }
    const Expr* fn =
        call->getArg(s.kind == StageKind::Scatter ? 3 : call->getNumArgs() - 1);  // not combine()
    if (!ok || s.name.empty() || !signature(fn, s)) return kNone;
    return add_stage(std::move(s));
  }

  StageId add_stage(Stage s) {
    s.id = static_cast<StageId>(job_.stages.size());
    job_.stages.push_back(std::move(s));
    return job_.stages.back().id;
  }

  Count first_partitions(const std::vector<DatasetId>& ids) const {
    return ids.empty() ? Count::of(1) : job_.datasets[ids.front()].partitions;
  }

  std::string stage_name(const CallExpr* call) { return literal_name(call, "a stage's"); }

  // The name a call's first argument gives: a non-empty UTF-8 string
  // literal, or "" once the error is said. `whose` is "a stage's", say.
  std::string literal_name(const CallExpr* call, const std::string& whose) {
    const auto* literal = dyn_cast<StringLiteral>(strip(call->getArg(0)));
    const char* problem = !literal                            ? "must be a string literal"
                          : literal->getString().empty()      ? "must not be empty"
                          : !valid_utf8(literal->getString()) ? "must be valid UTF-8"
                                                              : nullptr;
    if (problem) {
      error(call->getArg(0)->getBeginLoc(), whose + " name " + problem);
      return "";
    }
    return literal->getString().str();
  }

  // reads(...), writes(...) or to(...): appends the datasets to the stage.
  bool dataset_list(const Expr* arg, Stage& s) {
    const auto* call = dyn_cast_or_null<CallExpr>(resolve(arg));
    std::string list = dsl_name(call);
    std::vector<DatasetId>* into = list == "reads" ? &s.reads : list == "writes" ? &s.writes : nullptr;
    if (!into && list != "to") {
      error(arg->getBeginLoc(), "expected canary::reads(...), canary::writes(...) or canary::to(...)");
      return false;
    }
    bool ok = true;
    for (const Expr* a : call->arguments()) {
      DatasetId d = dataset_ref(a);
      if (d == kNone) {
        ok = false;
      } else if (into) {
        into->push_back(d);
      } else {
        s.scatter_to = d;
      }
    }
    return ok;
  }

  bool list_is(const Expr* arg, const char* want, const Stage& s) {
    if (dsl_name(dyn_cast_or_null<CallExpr>(resolve(arg))) == want) return true;
    error(arg->getBeginLoc(),
          std::string(to_string(s.kind)) + " '" + s.name + "' takes canary::" + want + "(...) here");
    return false;
  }

  bool is_string_param(const MemberExpr* member) const {
    const auto* base = dyn_cast<DeclRefExpr>(member->getBase()->IgnoreParenImpCasts());
    const CXXRecordDecl* type = member->getType().getCanonicalType()->getAsCXXRecordDecl();
    return base && params_ && base->getDecl() == params_ && type && type->getName() == "basic_string" &&
           type->isInStdNamespace();
  }

  // canary::files(path) or canary::files(path, canary::records(n)): the path
  // is a std::string job parameter or a string literal, n a positive constant.
  bool files_arg(const Expr* arg, Stage& s) {
    const auto* call = dyn_cast_or_null<CallExpr>(resolve(arg));
    if (dsl_name(call) != "files") {
      error(arg->getBeginLoc(),
            std::string(to_string(s.kind)) + " '" + s.name +
                "' takes canary::files(path) or canary::files(path, canary::records(n)) here");
      return false;
    }
    const Expr* path = strip(call->getArg(0));
    if (const auto* literal = dyn_cast<StringLiteral>(path)) {
      s.files.literal = literal->getString().str();
      s.files.cpp = compiler::quoted(s.files.literal);
    } else if (const auto* member = dyn_cast<MemberExpr>(path); member && is_string_param(member)) {
      s.files.param = member->getMemberDecl()->getNameAsString();
      s.files.cpp = params_->getNameAsString() + "." + s.files.param;
    } else {
      error(call->getArg(0)->getBeginLoc(),
            "the path of '" + s.name + "' must be a std::string job parameter or a string literal");
      return false;
    }
    if (s.files.literal.empty() && s.files.param.empty()) {
      error(call->getArg(0)->getBeginLoc(), "the path of '" + s.name + "' must not be empty");
      return false;
    }
    if (call->getNumArgs() < 2) return true;
    const auto* records = dyn_cast_or_null<CallExpr>(resolve(call->getArg(1)));
    Expr::EvalResult n;
    if (s.kind == StageKind::Write) {
      error(call->getArg(1)->getBeginLoc(), "write '" + s.name +
                                                "' writes bytes as the Sink is given them: "
                                                "canary::records(n) is for reading");
      return false;
    }
    if (dsl_name(records) != "records" || !records->getArg(0)->EvaluateAsInt(n, context_) ||
        n.Val.getInt().getExtValue() < 1) {
      error(call->getArg(1)->getBeginLoc(),
            "the records of '" + s.name + "' must be canary::records(n) with n a positive constant");
      return false;
    }
    s.files.record_bytes = static_cast<std::size_t>(n.Val.getInt().getExtValue());
    return true;
  }

  DatasetId dataset_ref(const Expr* arg) {
    const auto* ref = dyn_cast_or_null<DeclRefExpr>(strip(arg));
    if (ref) {
      if (auto it = datasets_.find(ref->getDecl()); it != datasets_.end()) return it->second;
      if (refused_datasets_.count(ref->getDecl())) return kNone;  // its declaration was reported
    }
    error(arg->getBeginLoc(), "expected a dataset variable declared in the job body with canary::dataset");
    return kNone;
  }

  // Follows a reference to a local variable to the expression it holds.
  const Expr* resolve(const Expr* e) const {
    e = strip(e);
    for (int depth = 0; depth < 8; ++depth) {
      const auto* ref = dyn_cast_or_null<DeclRefExpr>(e);
      const auto* var = ref ? dyn_cast<VarDecl>(ref->getDecl()) : nullptr;
      if (!var || !var->isLocalVarDecl() || !var->getInit()) break;
      e = strip(var->getInit());
    }
    return e;
  }

  // canary::combine(fn): fn merges two chunks, (T& acc, const T& x).
  bool combine(const Expr* arg, Stage& s) {
    const auto* call = dyn_cast_or_null<CallExpr>(resolve(arg));
    if (dsl_name(call) != "combine") {
      error(arg->getBeginLoc(), "scatter '" + s.name + "' takes canary::combine(fn) here");
      return false;
    }
    if (!function_into(call->getArg(0), s, "combine", s.combine_loc, s.combine_text)) return false;
    const std::string& t = job_.datasets[s.scatter_to].type;
    return matches(call->getArg(0),
                   {{Expected::Pass::Out, element_types_[s.scatter_to], t + "&"},
                    {Expected::Pass::In, element_types_[s.scatter_to], "const " + t + "&"}},
                   "scatter '" + s.name + "': its combine function", false);
  }

  // A task, signal or reduce function: a lambda that captures at most the
  // job parameters, by value; or a plain function.
  bool function(const Expr* arg, Stage& s) {
    const char* role = s.kind == StageKind::Signal   ? "signal"
                       : s.kind == StageKind::Reduce ? "reduce"
                                                     : "task";
    return function_into(arg, s, role, s.function_loc, s.function_text);
  }

  bool function_into(const Expr* arg, const Stage& s, const char* role, SourceLoc& where, std::string& text) {
    const Expr* e = resolve(arg);
    if (const auto* ref = dyn_cast_or_null<DeclRefExpr>(e); ref && isa<FunctionDecl>(ref->getDecl())) {
      where = loc(ref->getBeginLoc());
      text = source_text(ref);
      warn_shared_variables(cast<FunctionDecl>(ref->getDecl())->getBody(), s, role);
      return true;
    }
    const auto* lambda = dyn_cast_or_null<LambdaExpr>(e);
    if (!lambda) {
      error(arg->getBeginLoc(), "expected a lambda or a function for stage '" + s.name + "'");
      return false;
    }
    where = loc(lambda->getBeginLoc());
    text = source_text(lambda);
    if (text.empty()) {
      error(arg->getBeginLoc(),
            "the function of '" + s.name + "' comes from a macro expansion; write it out");
      return false;
    }
    task_functions_.insert(lambda->getLambdaClass());
    bool ok = true;
    for (const LambdaCapture& c : lambda->captures()) {
      bool params_by_value =
          c.capturesVariable() && c.getCapturedVar() == params_ && c.getCaptureKind() == LCK_ByCopy;
      if (params_by_value) continue;
      std::string what = c.capturesThis()       ? "'this'"
                         : c.capturesVariable() ? "'" + c.getCapturedVar()->getNameAsString() + "'" +
                                                      (c.getCaptureKind() == LCK_ByRef ? " by reference" : "")
                                                : "a variable";
      std::string allowed =
          params_ ? "only the job parameters '" + params_->getNameAsString() + "', by value" : "nothing";
      error(c.getLocation(), std::string("the ") + role + " function of '" + s.name + "' captures " + what +
                                 ": it runs on every worker, which share no variables, so it may capture " +
                                 allowed);
      ok = false;
    }
    warn_shared_variables(lambda->getBody(), s, role);
    return ok;
  }

  void warn_shared_variables(Stmt* body, const Stage& s, const char* role) {
    if (!body) return;
    SharedVariables shared(sm_);
    shared.TraverseStmt(body);
    for (const DeclRefExpr* ref : shared.found)
      sink_.warning(loc(ref->getLocation()),
                    std::string("the ") + role + " function of '" + s.name + "' uses '" +
                        ref->getDecl()->getNameAsString() +
                        "', a variable of static storage: every worker process has its own, so what one task "
                        "writes there, tasks on other workers do not see; keep state in datasets");
  }

  // How a stage calls its function: canary::Task& first for tasks, then each
  // read as const T& (or by value), each written dataset as T&.
  struct Expected {
    enum class Pass { Handle, In, Out, Of } pass;
    QualType type;  // null for Handle; Of: the template's argument
    std::string spelled;
    const char* handle = nullptr;  // Handle, Of: the canary class (template) passed by reference
  };

  std::vector<Expected> expected_parameters(const Stage& s) {
    std::vector<Expected> out;
    auto in = [&](DatasetId d) {
      out.push_back({Expected::Pass::In, element_types_[d], "const " + job_.datasets[d].type + "&"});
    };
    auto inout = [&](DatasetId d) {
      out.push_back({Expected::Pass::Out, element_types_[d], job_.datasets[d].type + "&"});
    };
    auto handle = [&](const char* name) {
      out.push_back({Expected::Pass::Handle, {}, std::string("canary::") + name + "&", name});
    };
    auto task = [&] { handle("Task"); };
    switch (s.kind) {
      case StageKind::Transform:
        task();
        for (DatasetId d : s.reads) in(d);
        for (DatasetId d : s.writes) inout(d);
        break;
      case StageKind::Scatter:
        task();
        for (DatasetId d : s.reads) in(d);
        out.push_back({Expected::Pass::Of, element_types_[s.scatter_to],
                       "canary::Emit<" + job_.datasets[s.scatter_to].type + ">&", "Emit"});
        break;
      case StageKind::Gather:
        task();
        out.push_back({Expected::Pass::Of, element_types_[s.writes[0]],
                       "canary::Chunks<" + job_.datasets[s.writes[0]].type + ">&", "Chunks"});
        inout(s.writes[0]);
        break;
      case StageKind::Reduce:
        inout(s.writes[0]);
        in(s.reads[0]);
        break;
      case StageKind::Signal:
        in(s.reads[0]);
        break;
      case StageKind::Read:
        task();
        handle("Split");
        for (DatasetId d : s.writes) inout(d);
        break;
      case StageKind::Write:
        task();
        for (DatasetId d : s.reads) in(d);
        handle("Sink");
        break;
      case StageKind::Broadcast:
        break;
    }
    return out;
  }

  bool accepts(const Expected& want, QualType param) {
    QualType bare = param.getNonReferenceType();
    QualType canonical = bare.getCanonicalType();
    switch (want.pass) {
      case Expected::Pass::Handle: {
        const auto* record = canonical->getAsCXXRecordDecl();
        return param->isLValueReferenceType() && record && record->getName() == want.handle;
      }
      case Expected::Pass::In:
        if (canonical.getUnqualifiedType() != want.type) return false;
        return !param->isReferenceType() || canonical.isConstQualified();
      case Expected::Pass::Out:
        return param->isLValueReferenceType() && !canonical.isConstQualified() && canonical == want.type;
      case Expected::Pass::Of: {
        const auto* of = dyn_cast_or_null<ClassTemplateSpecializationDecl>(canonical->getAsCXXRecordDecl());
        return param->isLValueReferenceType() && of && of->getName() == want.handle &&
               of->getTemplateArgs().size() == 1 &&
               of->getTemplateArgs()[0].getAsType().getCanonicalType() == want.type;
      }
    }
    return false;
  }

  // Checks the function against the stage's datasets, so a mismatch is an
  // error at the driver's line rather than deep inside a template. Generic
  // lambdas are checked when the job is compiled.
  bool signature(const Expr* arg, const Stage& s) {
    return matches(arg, expected_parameters(s),
                   std::string(to_string(s.kind)) + " '" + s.name + "': its function",
                   s.kind == StageKind::Signal);
  }

  bool matches(const Expr* arg, const std::vector<Expected>& want, const std::string& what,
               bool returns_bool) {
    const Expr* e = resolve(arg);
    const FunctionDecl* f = nullptr;
    if (const auto* lambda = dyn_cast_or_null<LambdaExpr>(e)) {
      if (lambda->isGenericLambda()) return true;
      f = lambda->getCallOperator();
    } else if (const auto* ref = dyn_cast_or_null<DeclRefExpr>(e)) {
      f = dyn_cast<FunctionDecl>(ref->getDecl());
    }
    if (!f) return true;
    std::string spelled;
    for (const Expected& w : want) spelled += (spelled.empty() ? "" : ", ") + w.spelled;
    std::string problem;
    if (f->getNumParams() != want.size()) {
      problem = "it takes " + std::to_string(f->getNumParams()) + " parameters";
    } else {
      for (unsigned i = 0; i < want.size() && problem.empty(); ++i)
        if (!accepts(want[i], f->getParamDecl(i)->getType()))
          problem = "parameter " + std::to_string(i + 1) + " is '" +
                    f->getParamDecl(i)->getType().getAsString(context_.getPrintingPolicy()) + "'";
    }
    if (problem.empty() && returns_bool && !f->getReturnType()->isBooleanType())
      problem = "it returns '" + f->getReturnType().getAsString(context_.getPrintingPolicy()) + "', not bool";
    if (problem.empty()) return true;
    error(arg->getBeginLoc(), what + " cannot be called as (" + spelled + "): " + problem);
    return false;
  }

  // The text of `e` as written, for code generation to lift out of the driver.
  std::string source_text(const Expr* e) const {
    if (e->getBeginLoc().isMacroID() || e->getEndLoc().isMacroID()) return "";
    return Lexer::getSourceText(CharSourceRange::getTokenRange(e->getSourceRange()), sm_,
                                context_.getLangOpts())
        .str();
  }

  // --- outputs ------------------------------------------------------------

  // t.output(key, value): the value is shown as JSON in the results, so its
  // type must be one canaryc can serialize and name the members of.
  void output(const CallExpr* call) {
    const auto* method = cast<CXXMemberCallExpr>(call)->getMethodDecl();
    const TemplateArgumentList* args = method->getTemplateSpecializationArgs();
    if (!args || args->size() != 1) return;
    std::string why = types_.why_not_shown(args->get(0).getAsType());
    if (!why.empty()) error(call->getBeginLoc(), "t.output takes a value Canary cannot show: " + why);
  }

  // canary::hash_partition(key, parts): a key that is no integer or string
  // is hashed by its serialized bytes.
  void hash_key(const CallExpr* call) {
    const TemplateArgumentList* args = call->getDirectCallee()->getTemplateSpecializationArgs();
    if (!args || args->size() < 1) return;
    QualType key = args->get(0).getAsType().getCanonicalType();
    if (key->isIntegralOrEnumerationType()) return;
    std::string why = types_.why_not(key);
    if (!why.empty())
      error(call->getBeginLoc(), "canary::hash_partition takes a key Canary cannot serialize: " + why);
  }

  // --- control flow -------------------------------------------------------

  void control(const std::string& kind, const CallExpr* call, BlockId parent, std::vector<Node>& out) {
    Block b;
    b.id = static_cast<BlockId>(job_.blocks.size());
    b.parent = parent;
    b.loc = loc(call->getBeginLoc());
    b.kind = kind == "loop" ? BlockKind::Loop : kind == "loop_while" ? BlockKind::While : BlockKind::If;
    job_.blocks.push_back(b);
    out.push_back({Node::Kind::Block, b.id});
    std::vector<Node> body, else_body;
    unsigned first_body = 1;
    if (b.kind == BlockKind::Loop) {
      std::optional<Count> n = count(call->getArg(0), "loop count");
      if (n) b.count = *n;
    } else {
      first_body = 3;
      Stage signal;
      signal.kind = StageKind::Signal;
      signal.name = stage_name(call);
      signal.loc = b.loc;
      signal.block = b.id;
      signal.partitions = Count::of(1);
      // Both are checked, so both can report their errors.
      bool datasets_ok = dataset_list(call->getArg(1), signal);
      bool function_ok = function(call->getArg(2), signal);
      bool ok = datasets_ok && function_ok;
      if (ok && signal.reads.size() != 1) {
        error(call->getArg(1)->getBeginLoc(), "a signal reads exactly one dataset");
        ok = false;
      }
      if (ok && !signal.name.empty() && signature(call->getArg(2), signal))
        b.signal = add_stage(std::move(signal));
    }
    body_lambda(call, first_body, b.id, b.kind == BlockKind::If ? Branch::Then : Branch::None, body);
    if (b.kind == BlockKind::If && call->getNumArgs() > 4)
      body_lambda(call, 4, b.id, Branch::Else, else_body);
    job_.blocks[b.id].count = b.count;
    job_.blocks[b.id].signal = b.signal;
    job_.blocks[b.id].body = std::move(body);
    job_.blocks[b.id].else_body = std::move(else_body);
  }

  void body_lambda(const CallExpr* call, unsigned arg, BlockId block, Branch branch, std::vector<Node>& out) {
    const auto* lambda = dyn_cast_or_null<LambdaExpr>(resolve(call->getArg(arg)));
    if (!lambda) {
      error(call->getArg(arg)->getBeginLoc(),
            "expected a lambda, as in [&] { ... }, holding the stages of the body");
      return;
    }
    body_lambdas_.insert(lambda->getLambdaClass());
    walk(cast<CompoundStmt>(lambda->getBody()), block, branch, out);
  }

  // --- counts -------------------------------------------------------------

  // canary::automatic, or a copy of it.
  static bool is_automatic(const Expr* e) {
    const auto* record = e->IgnoreParenImpCasts()->getType()->getAsCXXRecordDecl();
    return record && record->getQualifiedNameAsString() == "canary::Automatic";
  }

  std::optional<Count> count(const Expr* e, const char* what) {
    Count c;
    count_refused_ = false;
    if (!count_expr(e, c.expression, c.cpp, 0, false)) {
      if (!count_refused_)
        error(e->getBeginLoc(), std::string("a ") + what +
                                    " must be a constant or an integer expression of the job parameters");
      return std::nullopt;
    }
    Expr::EvalResult value;
    if (e->EvaluateAsInt(value, context_)) c = Count::of(value.Val.getInt().getExtValue());
    return c;
  }

  // Prints `e` over parameter names (`display`) and as C++ (`cpp`).
  // `nested` says whether `e` is an operand, and so needs parentheses.
  bool count_expr(const Expr* e, std::string& display, std::string& cpp, int depth, bool nested = false) {
    e = e->IgnoreParenImpCasts();
    if (depth > 16) return false;
    Expr::EvalResult value;
    if (e->EvaluateAsInt(value, context_)) {
      display = cpp = toString(value.Val.getInt(), 10);
      return true;
    }
    if (const auto* member = dyn_cast<MemberExpr>(e)) {
      const auto* base = dyn_cast<DeclRefExpr>(member->getBase()->IgnoreParenImpCasts());
      if (!base || base->getDecl() != params_ || !member->getType()->isIntegerType()) return false;
      display = member->getMemberDecl()->getNameAsString();
      cpp = "canary::rt::CountValue(" + params_->getNameAsString() + "." + display + ")";
      return true;
    }
    if (const auto* ref = dyn_cast<DeclRefExpr>(e)) {
      const auto* var = dyn_cast<VarDecl>(ref->getDecl());
      if (!var || !var->isLocalVarDecl() || !var->getInit()) return false;
      if (const Stmt* change = changes_->first_change(*var)) {
        count_refused_ = true;
        if (!changed_counts_.insert(var).second) return false;  // reported at its first use
        refuse_count(change->getBeginLoc(), "'" + var->getNameAsString() +
                                                "' is changed here after its declaration, but a count is "
                                                "taken from the declaration: compute the count there");
        sink_.note(loc(ref->getBeginLoc()), "'" + var->getNameAsString() + "' is used as a count here");
        return false;
      }
      return count_expr(var->getInit(), display, cpp, depth + 1, nested);
    }
    if (const auto* op = dyn_cast<BinaryOperator>(e)) {
      static const std::set<BinaryOperatorKind> arithmetic = {BO_Add, BO_Sub, BO_Mul, BO_Div, BO_Rem};
      std::string ld, lc, rd, rc;
      if (!arithmetic.count(op->getOpcode()) || !count_expr(op->getLHS(), ld, lc, depth + 1, true) ||
          !count_expr(op->getRHS(), rd, rc, depth + 1, true))
        return false;
      Expr::EvalResult divisor;
      if ((op->getOpcode() == BO_Div || op->getOpcode() == BO_Rem) &&
          op->getRHS()->EvaluateAsInt(divisor, context_) && divisor.Val.getInt() == 0) {
        refuse_count(op->getRHS()->getBeginLoc(), "a count divides by zero");
        return false;
      }
      std::string sym = " " + op->getOpcodeStr().str() + " ";
      display = (nested ? "(" : "") + ld + sym + rd + (nested ? ")" : "");
      cpp = "(" + lc + sym + rc + ")";
      return true;
    }
    return false;
  }

  // An error about a count more precise than count()'s own.
  void refuse_count(SourceLocation l, const std::string& message) {
    error(l, message);
    count_refused_ = true;
  }

  // --- DSL calls the walk did not reach -------------------------------------

  void report_misplaced(const CallExpr* call) {
    std::string what = "canary::" + dsl_name(call);
    DynTypedNode node = DynTypedNode::create(*call);
    for (int depth = 0; depth < 256; ++depth) {
      DynTypedNodeList parents = context_.getParents(node);
      if (parents.empty()) break;
      node = parents[0];
      if (const auto* s = node.get<Stmt>()) {
        if (const char* statement = control_statement(s)) {
          error(call->getBeginLoc(), what + " under an ordinary C++ '" + statement +
                                         "': every worker must take the same path through the stages, so "
                                         "control flow over stages uses canary::loop, canary::loop_while "
                                         "or canary::if_");
          return;
        }
        if (const auto* lambda = dyn_cast<LambdaExpr>(s)) {
          if (task_functions_.count(lambda->getLambdaClass())) {
            error(call->getBeginLoc(), what +
                                           " inside a task function: tasks run on workers and cannot "
                                           "declare stages or datasets");
            return;
          }
          if (!body_lambdas_.count(lambda->getLambdaClass())) {
            error(call->getBeginLoc(), what +
                                           " inside a lambda that is not the body of canary::loop, "
                                           "canary::loop_while or canary::if_");
            return;
          }
        }
      } else if (const auto* f = node.get<FunctionDecl>()) {
        if (const auto* method = dyn_cast<CXXMethodDecl>(f); method && method->getParent()->isLambda())
          continue;
        if (f != job_fn_) {
          error(call->getBeginLoc(), what + " outside the job body (in '" + f->getNameAsString() +
                                         "'): stages and datasets are declared in the CANARY_JOB body "
                                         "and in the bodies of its loops and branches");
          return;
        }
        break;
      }
    }
    error(call->getBeginLoc(), what + " must be a statement of its own in the job body");
  }

  static const char* control_statement(const Stmt* s) {
    if (isa<IfStmt>(s)) return "if";
    if (isa<ForStmt>(s) || isa<CXXForRangeStmt>(s)) return "for";
    if (isa<WhileStmt>(s)) return "while";
    if (isa<DoStmt>(s)) return "do";
    if (isa<SwitchStmt>(s)) return "switch";
    if (isa<ConditionalOperator>(s)) return "?:";
    return nullptr;
  }

  ASTContext& context_;
  const SourceManager& sm_;
  DiagnosticSink& sink_;
  bool ok_ = true;
  Job job_;
  const FunctionDecl* job_fn_ = nullptr;
  const ParmVarDecl* params_ = nullptr;
  bool count_refused_ = false;  // count_expr reported why it refused
  std::set<const VarDecl*> changed_counts_;
  std::optional<ChangeFinder> changes_;  // of the job body
  std::map<const Decl*, DatasetId> datasets_;
  std::set<const Decl*> refused_datasets_;  // declared with an error already reported
  std::vector<QualType> element_types_;     // per dataset, canonical
  std::set<const CallExpr*> consumed_;
  std::set<const CXXRecordDecl*> task_functions_;
  std::set<const CXXRecordDecl*> body_lambdas_;
  TypeJudge types_{context_};
};

}  // namespace

SourceLoc to_source_loc(const SourceManager& sm, SourceLocation l) {
  SourceLocation at = sm.getExpansionLoc(l);
  PresumedLoc p = sm.getPresumedLoc(at);
  SourceLoc out;
  out.opaque = at.getRawEncoding();
  if (p.isValid()) {
    out.file = p.getFilename();
    out.line = p.getLine();
    out.column = p.getColumn();
  }
  return out;
}

std::optional<Job> extract_job(ASTContext& context, DiagnosticSink& sink) {
  return Extractor(context, sink).run();
}

}  // namespace canary::compiler
