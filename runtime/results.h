// The end of a run, the same in every mode: outputs on stdout, the results
// file, and one summary line on stderr.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "scheduler.h"

namespace canary::rt {

// Returns the exit code: 0, or 1 when the results file cannot be written.
int report_results(const Program& program, const Outputs& outputs, const nlohmann::ordered_json& stats,
                   const std::string& results_path, double elapsed_s, std::uint64_t tasks,
                   const std::string& where);

}  // namespace canary::rt
