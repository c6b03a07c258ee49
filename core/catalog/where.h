#pragma once
// Filters typed by a user (`--where`): comparisons of columns with numbers or strings,
// and/or/not, parentheses. Parsed into SQL whose values are all bound parameters; column
// names are resolved against the catalog's known columns, never pasted from user text.
// Also `is [not] null`, `[not] between a and b`, `[not] in (v, ...)`. A comparison with a
// missing value is false, so `not (z < 1)` is exactly what `z < 1` leaves out.
#include "core/data/records.h"

#include <functional>
#include <string>
#include <vector>

namespace astroclip {

struct SqlFilter {
    std::string sql;            // e.g. ("z" < ?) AND ("class" = ?)
    std::vector<Value> params;  // bound in order
};

// resolveColumn maps a user's identifier to a safe SQL column expression, or throws
// UsageError ("unknown column 'zz'; known: ..."). Parse errors throw UsageError naming the
// position and what was expected.
SqlFilter parseWhere(const std::string& expr, const std::function<std::string(const std::string&)>& resolveColumn);

} // namespace astroclip
