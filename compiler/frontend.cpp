#include "frontend.h"

#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "clang/AST/ASTConsumer.h"
#include "clang/Frontend/CompilerInstance.h"
#include "clang/Frontend/FrontendAction.h"
#include "clang/Tooling/CompilationDatabase.h"
#include "clang/Tooling/Tooling.h"
#include "extract.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace canary::compiler {
namespace {

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Prints the passes' diagnostics through Clang, so they look like any
// compiler error and count as errors of the compilation.
class ClangSink : public DiagnosticSink {
 public:
  explicit ClangSink(clang::DiagnosticsEngine& diags) : diags_(diags) {}
  void report(Severity severity, const SourceLoc& loc, const std::string& message) override {
    clang::DiagnosticsEngine::Level level = severity == Severity::Error ? clang::DiagnosticsEngine::Error
                                            : severity == Severity::Warning
                                                ? clang::DiagnosticsEngine::Warning
                                                : clang::DiagnosticsEngine::Note;
    unsigned id = diags_.getCustomDiagID(level, "%0");
    diags_.Report(clang::SourceLocation::getFromRawEncoding(static_cast<unsigned>(loc.opaque)), id)
        << message;
  }

 private:
  clang::DiagnosticsEngine& diags_;
};

// What one analysis gives back: the graph, and the files it read.
struct Analysis {
  std::optional<Graph> graph;
  std::vector<std::string> inputs;
};

class AnalysisConsumer : public clang::ASTConsumer {
 public:
  AnalysisConsumer(clang::CompilerInstance& ci, Analysis& out) : ci_(ci), out_(out) {}
  void HandleTranslationUnit(clang::ASTContext& context) override {
    const clang::SourceManager& sm = context.getSourceManager();
    for (auto file = sm.fileinfo_begin(); file != sm.fileinfo_end(); ++file) {
      llvm::SmallString<256> path(file->first->getName());
      llvm::sys::fs::make_absolute(path);
      llvm::sys::path::remove_dots(path, true);
      out_.inputs.emplace_back(path.str());
    }
    clang::DiagnosticsEngine& diags = ci_.getDiagnostics();
    if (diags.hasErrorOccurred()) return;  // the driver is not valid C++: clang said why
    ClangSink sink(diags);
    std::optional<Job> job = extract_job(context, sink);
    if (!job || !check_job(*job, sink)) return;
    out_.graph = build_graph(std::move(*job));
  }

 private:
  clang::CompilerInstance& ci_;
  Analysis& out_;
};

class AnalysisAction : public clang::ASTFrontendAction {
 public:
  explicit AnalysisAction(Analysis& out) : out_(out) {}
  std::unique_ptr<clang::ASTConsumer> CreateASTConsumer(clang::CompilerInstance& ci,
                                                        llvm::StringRef) override {
    return std::make_unique<AnalysisConsumer>(ci, out_);
  }

 private:
  Analysis& out_;
};

class AnalysisFactory : public clang::tooling::FrontendActionFactory {
 public:
  explicit AnalysisFactory(Analysis& out) : out_(out) {}
  std::unique_ptr<clang::FrontendAction> create() override { return std::make_unique<AnalysisAction>(out_); }

 private:
  Analysis& out_;
};

bool has_std_flag(const std::vector<std::string>& args) {
  for (const std::string& a : args)
    if (a.rfind("-std=", 0) == 0) return true;
  return false;
}

// The flags of `command` that change what the driver means.
void keep_driver_flags(const std::vector<std::string>& command, const std::string& directory,
                       std::vector<std::string>& out) {
  auto absolute = [&](std::string path) {
    if (!path.empty() && path[0] != '/' && !directory.empty()) path = directory + "/" + path;
    return path;
  };
  for (std::size_t i = 0; i < command.size(); ++i) {
    const std::string& a = command[i];
    bool separate =
        a == "-I" || a == "-D" || a == "-U" || a == "-isystem" || a == "-iquote" || a == "-include";
    if (separate && i + 1 < command.size()) {
      bool path = a != "-D" && a != "-U";
      out.push_back(a);
      out.push_back(path ? absolute(command[++i]) : command[++i]);
    } else if (a.rfind("-I", 0) == 0) {
      out.push_back("-I" + absolute(a.substr(2)));
    } else if (a.rfind("-D", 0) == 0 || a.rfind("-U", 0) == 0 || a.rfind("-std=", 0) == 0) {
      out.push_back(a);
    }
  }
}

}  // namespace

std::string dsl_include_dir() {
  std::string exe = llvm::sys::fs::getMainExecutable(nullptr, nullptr);
  std::string installed = llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)).str() + "/include";
  if (exists(installed + "/canary/dsl.h")) return installed;
  return CANARY_SOURCE_DSL_DIR;
}

std::optional<Graph> analyze_driver(const FrontendOptions& options, std::vector<std::string>* driver_flags,
                                    std::vector<std::string>* inputs) {
  std::unique_ptr<clang::tooling::CompilationDatabase> db;
  if (!options.build_dir.empty()) {
    // Files the database does not list get the flags of their nearest
    // neighbour in it, as clangd does.
    std::string error;
    db = clang::tooling::CompilationDatabase::loadFromDirectory(options.build_dir, error);
    if (!db) {
      std::cerr << "canaryc: error: -p " << options.build_dir << ": " << error << "\n";
      return std::nullopt;
    }
  } else {
    db = std::make_unique<clang::tooling::FixedCompilationDatabase>(".", std::vector<std::string>{});
  }
  if (driver_flags) {
    for (const clang::tooling::CompileCommand& c : db->getCompileCommands(options.driver))
      keep_driver_flags(c.CommandLine, c.Directory, *driver_flags);
    keep_driver_flags(options.clang_args, "", *driver_flags);
  }

  // What every analysis needs whatever the database says: C++17 unless told
  // otherwise, the DSL headers, Clang's own headers (a tool outside the LLVM
  // tree cannot find them by itself), and the user's flags last.
  std::vector<std::string> extra = {"-resource-dir=" CANARY_CLANG_RESOURCE_DIR, "-isystem", dsl_include_dir(),
                                    "-DCANARY_ANALYSIS=1"};
  extra.insert(extra.end(), options.clang_args.begin(), options.clang_args.end());

  clang::tooling::ClangTool tool(*db, {options.driver});
  tool.appendArgumentsAdjuster(clang::tooling::getClangSyntaxOnlyAdjuster());
  tool.appendArgumentsAdjuster(clang::tooling::getClangStripOutputAdjuster());
  tool.appendArgumentsAdjuster(
      clang::tooling::getInsertArgumentAdjuster(extra, clang::tooling::ArgumentInsertPosition::END));
  tool.appendArgumentsAdjuster([](const clang::tooling::CommandLineArguments& args, llvm::StringRef) {
    if (has_std_flag(args)) return args;
    clang::tooling::CommandLineArguments with_std = args;
    with_std.push_back("-std=c++17");
    return with_std;
  });

  tool.setPrintErrorMessage(false);  // clang has already said what went wrong

  Analysis analysis;
  AnalysisFactory factory(analysis);
  if (tool.run(&factory) != 0) return std::nullopt;
  if (inputs) {
    *inputs = std::move(analysis.inputs);
    std::sort(inputs->begin(), inputs->end());  // the source manager's order is a hash map's
  }
  return std::move(analysis.graph);
}

}  // namespace canary::compiler
