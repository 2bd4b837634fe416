#include "job.h"

namespace canary::compiler {

const char* to_string(StageKind kind) {
  switch (kind) {
    case StageKind::Transform:
      return "transform";
    case StageKind::Scatter:
      return "scatter";
    case StageKind::Gather:
      return "gather";
    case StageKind::Broadcast:
      return "broadcast";
    case StageKind::Reduce:
      return "reduce";
    case StageKind::Signal:
      return "signal";
    case StageKind::Read:
      return "read";
    case StageKind::Write:
      return "write";
  }
  return "?";
}

const char* to_string(BlockKind kind) {
  switch (kind) {
    case BlockKind::Loop:
      return "loop";
    case BlockKind::While:
      return "while";
    case BlockKind::If:
      return "if";
  }
  return "?";
}

const char* to_string(ParamType type) {
  switch (type) {
    case ParamType::Int:
      return "int";
    case ParamType::Long:
      return "long";
    case ParamType::Double:
      return "double";
    case ParamType::Bool:
      return "bool";
    case ParamType::String:
      return "string";
  }
  return "?";
}

}  // namespace canary::compiler
