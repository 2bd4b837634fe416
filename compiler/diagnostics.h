// Where canaryc's passes report problems. The command line tool prints them
// as clang diagnostics with the source line and a caret; tests collect them.
#pragma once

#include <string>
#include <vector>

#include "job.h"

namespace canary::compiler {

enum class Severity { Error, Warning, Note };

class DiagnosticSink {
 public:
  virtual ~DiagnosticSink() = default;
  virtual void report(Severity severity, const SourceLoc& loc, const std::string& message) = 0;

  void error(const SourceLoc& loc, const std::string& message) { report(Severity::Error, loc, message); }
  void warning(const SourceLoc& loc, const std::string& message) { report(Severity::Warning, loc, message); }
  void note(const SourceLoc& loc, const std::string& message) { report(Severity::Note, loc, message); }
};

// Keeps every diagnostic; for tests and for counting errors.
class CollectingSink : public DiagnosticSink {
 public:
  struct Entry {
    Severity severity;
    SourceLoc loc;
    std::string message;
  };
  void report(Severity severity, const SourceLoc& loc, const std::string& message) override {
    entries.push_back({severity, loc, message});
  }
  int errors() const {
    int n = 0;
    for (const Entry& e : entries) n += e.severity == Severity::Error;
    return n;
  }
  std::vector<Entry> entries;
};

}  // namespace canary::compiler
