#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"
#include "core/common/error.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace astroclip::cli {

Runner addSelectCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand("select", "List the objects matching a filter, e.g. --where \"truth_z < 0.3 and sample = 'BGS'\"");
    struct Opts {
        std::string catalog, where, columns;
        long limit = 20;
        bool json = false, count = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--catalog", o->catalog, "Catalog file")->required();
    cmd->add_option("--where", o->where, "Filter: comparisons of columns with numbers or 'strings', and/or/not, parentheses");
    cmd->add_option("--columns", o->columns, "Comma-separated columns to show besides id, ra, dec");
    cmd->add_option("--limit", o->limit, "Rows to show (0 = all)")->capture_default_str();
    cmd->add_flag("--count", o->count, "Only count the matches");
    cmd->add_flag("--json", o->json, "Print as JSON");
    return [o]() {
        if (!std::filesystem::exists(o->catalog)) throw UsageError(o->catalog + ": no such catalog");
        auto catalog = Catalog::open(o->catalog, false);
        const auto ids = catalog.select(o->where);
        std::vector<std::string> cols{"ra", "dec"};
        std::stringstream ss(o->columns);
        for (std::string c; std::getline(ss, c, ',');)
            if (!c.empty()) cols.push_back(c);
        const size_t shown = o->count ? 0 : (o->limit > 0 ? std::min(ids.size(), size_t(o->limit)) : ids.size());
        if (o->json) {
            nlohmann::json rows = nlohmann::json::array();
            for (size_t i = 0; i < shown; ++i) {
                nlohmann::json r{{"id", ids[i]}};
                for (const auto& c : cols) r[c] = valueJson(catalog.value(ids[i], c));
                rows.push_back(r);
            }
            printJson({{"count", ids.size()}, {"rows", rows}});
            return 0;
        }
        std::printf("%zu objects match\n", ids.size());
        if (!shown) return 0;
        std::printf("%10s", "id");
        for (const auto& c : cols) std::printf("  %14s", c.c_str());
        std::printf("\n");
        for (size_t i = 0; i < shown; ++i) {
            std::printf("%10lld", (long long)ids[i]);
            for (const auto& c : cols) std::printf("  %14s", valueText(catalog.value(ids[i], c)).c_str());
            std::printf("\n");
        }
        return 0;
    };
}

} // namespace astroclip::cli
