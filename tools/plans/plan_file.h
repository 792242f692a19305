// A recovery plan file (DESIGN.md §3):
//
//   {"steps": [{"groups": ["db"], "pre": ["CMD"], "post": ["CMD"],
//               "manual": "TEXT", "timeout": "10m"},
//              {"groups": ["web", "app"]}]}
//
// Every key but "groups" is optional. The file is checked whole before
// anything is stored: JSON syntax (line and column), unknown keys, types,
// unknown groups, a group named twice. Each error is one line naming the
// file and, where it applies, the line and column or the step.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "catalog/plan_rows.h"
#include "journal/status.h"

namespace rpfs::tools {

// Parses `text`, the contents of the file `path` (named in errors), into
// steps whose groups are all in `known_groups`.
Status ParsePlanFile(const std::string& path, const std::string& text,
                     const std::set<std::string>& known_groups,
                     std::vector<catalog::PlanStep>* steps);

// Plan names follow branch names: letters, digits, '.', '_', '-'.
Status CheckPlanName(const std::string& name);

}  // namespace rpfs::tools
