// astroclip label: label sets (a class or a number per object) for few-shot discovery — create,
// list, set, remove, show, export/import CSV, delete — and, in cmd_label_discovery.cpp, the
// head that ranks the unlabelled objects, suggests what to label next and is evaluated
// against a truth column.
#include "app/cli/cmd_label.h"

#include "core/common/error.h"
#include "core/io/text_table.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <unordered_set>

namespace astroclip::cli {

namespace label {

Catalog openCatalog(const std::string& path) {
    if (!std::filesystem::exists(path)) throw UsageError(path + ": no such catalog");
    return Catalog::open(path, /*create=*/false);
}

LabelSetRecord requireSet(Catalog& catalog, const std::string& name) {
    if (auto set = catalog.labelSet(name)) return *set;
    std::string names;
    for (const auto& s : catalog.labelSets()) names += (names.empty() ? "" : ", ") + s.name;
    throw UsageError(catalog.path() + ": no label set called '" + name + "' (sets: " +
                     (names.empty() ? std::string("none yet") : names) + "); create it with astroclip label create");
}

} // namespace label

namespace {

using namespace label;

std::optional<int64_t> asInteger(const std::string& text) {
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

// A label value as the set's kind wants it: the text itself for a class, a number (integer
// when written as one) for a value. `where` prefixes the error.
Value parseValue(const LabelSetRecord& set, const std::string& text, const std::string& where) {
    if (set.kind == "class") return text;
    if (const auto i = asInteger(text)) return *i;
    double d = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty())
        throw UsageError(where + "label set '" + set.name + "' holds numbers; '" + text + "' is not one");
    return d;
}

// Objects named by catalog id or by link key (e.g. desi:targetid:39627...).
int64_t resolveObject(Catalog& catalog, const std::string& given, const std::string& where) {
    if (const auto id = asInteger(given)) return *id;
    if (const auto id = catalog.findObjectByKey(given)) return *id;
    throw UsageError(where + "no object with id or key '" + given + "'");
}

// --object ... or --where: the objects a command acts on. UsageError for neither, both or an
// empty selection.
std::vector<int64_t> chosenObjects(Catalog& catalog, const std::vector<std::string>& objects, CLI::Option* whereOpt,
                                   const std::string& where) {
    if (objects.empty() == (whereOpt->count() == 0))
        throw UsageError("name the objects with --object ID... or choose them with --where EXPR (one of the two)");
    std::vector<int64_t> ids;
    if (!objects.empty()) {
        for (const auto& o : objects) ids.push_back(resolveObject(catalog, o, catalog.path() + ": "));
        return ids;
    }
    ids = catalog.select(where);
    if (ids.empty()) throw UsageError(catalog.path() + ": no object matches --where \"" + where + "\"");
    return ids;
}

std::string utcTime(int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

nlohmann::json setJson(const LabelSetRecord& s) {
    return {{"id", s.id}, {"name", s.name}, {"kind", s.kind}, {"description", s.description},
            {"created", utcTime(s.created)}, {"count", s.count}};
}

// A label value written so it reads back the same: numbers with every digit.
std::string exactText(const Value& v) {
    if (const auto* d = std::get_if<double>(&v)) {
        char b[32];
        std::snprintf(b, sizeof b, "%.17g", *d);
        return b;
    }
    return valueText(v);
}

// Reads FILE's rows (object_id, value[, source]) into labels for `set`. Every problem is a
// FileError naming the file and line; nothing is stored by this function.
std::vector<LabelRecord> readLabelFile(Catalog& catalog, const LabelSetRecord& set, const std::string& path) {
    const TextTable table = readTextTable(path);
    const int idCol = table.columnIndex("object_id"), valueCol = table.columnIndex("value"),
              sourceCol = table.columnIndex("source");
    if (idCol < 0 || valueCol < 0)
        throw FileError(path, "needs the columns object_id and value (and optionally source); it has none called " +
                                  std::string(idCol < 0 ? "object_id" : "value"));
    const auto all = catalog.select("");
    const std::unordered_set<int64_t> known(all.begin(), all.end());
    const std::string defaultSource = "import:" + std::filesystem::path(path).filename().string();
    std::unordered_set<int64_t> seen;
    std::vector<LabelRecord> labels;
    for (size_t r = 0; r < table.rows.size(); ++r) {
        const auto& row = table.rows[r];
        const std::string line = "line " + std::to_string(table.rowLines[r]) + ": ";
        int64_t id = 0;
        try {
            id = resolveObject(catalog, row[size_t(idCol)], "");
            if (!known.count(id)) throw UsageError("no object with id " + std::to_string(id) + " in " + catalog.path());
            if (!seen.insert(id).second) throw UsageError("object " + std::to_string(id) + " is labelled twice");
            const std::string& text = row[size_t(valueCol)];
            if (set.kind == "class" && text.find_first_not_of(" \t") == std::string::npos)
                throw UsageError("the class is empty");
            LabelRecord l{id, parseValue(set, text, ""), defaultSource};
            if (sourceCol >= 0 && !row[size_t(sourceCol)].empty()) l.source = row[size_t(sourceCol)];
            labels.push_back(std::move(l));
        } catch (const UsageError& e) {
            throw FileError(path, line + e.what() + "; nothing was imported");
        }
    }
    return labels;
}

void printSet(Catalog& catalog, const LabelSetRecord& set, long limit) {
    std::printf("label set   %s (%s)\n", set.name.c_str(), set.kind.c_str());
    if (!set.description.empty()) std::printf("description %s\n", set.description.c_str());
    std::printf("created     %s\nlabelled    %lld objects\n", utcTime(set.created).c_str(), (long long)set.count);
    const auto labels = catalog.labels(set.id);
    if (set.kind == "class") {
        std::map<std::string, int64_t> perClass;
        for (const auto& l : labels) ++perClass[valueText(l.value)];
        for (const auto& [name, n] : perClass) std::printf("  %-20s %lld\n", name.c_str(), (long long)n);
    }
    const size_t shown = limit > 0 ? std::min(labels.size(), size_t(limit)) : labels.size();
    if (!shown) return;
    std::printf("%10s  %-20s  %s\n", "object", "value", "source");
    for (size_t i = 0; i < shown; ++i)
        std::printf("%10lld  %-20s  %s\n", (long long)labels[i].objectId, valueText(labels[i].value).c_str(),
                    labels[i].source.c_str());
    if (shown < labels.size()) std::printf("... %zu more (--limit 0 shows all)\n", labels.size() - shown);
}

struct Options {
    std::string catalog, name, kind = "class", description, value, where, out, file;
    std::vector<std::string> objects;
    long limit = 50;
    bool json = false;
};

} // namespace

Runner addLabelCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand("label", kLabelDescription);
    cmd->require_subcommand(1);
    auto o = std::make_shared<Options>();
    auto runners = std::make_shared<Runners>();
    const auto sub = [&](const char* name, const char* what, bool named) {
        auto* s = cmd->add_subcommand(name, what);
        s->add_option("--catalog", o->catalog, "Catalog file")->required();
        if (named) s->add_option("name", o->name, "The label set")->required();
        return s;
    };
    const auto objectOptions = [&](CLI::App* s) {
        s->add_option("--object", o->objects, "Objects by catalog id or link key (several allowed)");
        return s->add_option("--where", o->where, "Objects matching this filter, e.g. \"truth_z < 0.3\"");
    };

    auto* create = sub("create", "Create an empty label set", true);
    create->add_option("--kind", o->kind, "class (a class name per object) or value (a number per object)")
        ->check(CLI::IsMember({"class", "value"}))
        ->capture_default_str();
    create->add_option("--description", o->description, "What the labels mean");
    (*runners)[create] = [o] {
        auto catalog = openCatalog(o->catalog);
        const int64_t id = catalog.createLabelSet(o->name, o->kind, o->description);
        if (o->json) printJson(setJson(*catalog.labelSet(id)));
        else std::printf("created %s label set '%s'\n", o->kind.c_str(), o->name.c_str());
        return 0;
    };

    auto* list = sub("list", "List the label sets with their sizes", false);
    (*runners)[list] = [o] {
        auto catalog = openCatalog(o->catalog);
        const auto sets = catalog.labelSets();
        if (o->json) {
            nlohmann::json out = nlohmann::json::array();
            for (const auto& s : sets) out.push_back(setJson(s));
            printJson(out);
            return 0;
        }
        std::printf("%zu label sets\n", sets.size());
        for (const auto& s : sets)
            std::printf("  %-20s %-6s %8lld labelled  %s\n", s.name.c_str(), s.kind.c_str(), (long long)s.count,
                        s.description.c_str());
        return 0;
    };

    auto* set = sub("set", "Label objects (replacing labels they had in the set)", true);
    set->add_option("--value", o->value, "The class name (class set) or the number (value set)")->required();
    auto* setWhere = objectOptions(set);
    (*runners)[set] = [o, setWhere] {
        auto catalog = openCatalog(o->catalog);
        const auto ls = requireSet(catalog, o->name);
        const Value value = parseValue(ls, o->value, catalog.path() + ": ");
        std::vector<LabelRecord> labels;
        for (const int64_t id : chosenObjects(catalog, o->objects, setWhere, o->where)) labels.push_back({id, value, "user"});
        catalog.setLabels(ls.id, labels);
        if (o->json) printJson({{"label_set", ls.name}, {"labelled", labels.size()}, {"count", catalog.labelSet(ls.id)->count}});
        else std::printf("labelled %zu objects '%s' in '%s'\n", labels.size(), o->value.c_str(), ls.name.c_str());
        return 0;
    };

    auto* remove = sub("remove", "Remove objects' labels from a set", true);
    auto* removeWhere = objectOptions(remove);
    (*runners)[remove] = [o, removeWhere] {
        auto catalog = openCatalog(o->catalog);
        const auto ls = requireSet(catalog, o->name);
        const int64_t removed = catalog.removeLabels(ls.id, chosenObjects(catalog, o->objects, removeWhere, o->where));
        if (o->json) printJson({{"label_set", ls.name}, {"removed", removed}, {"count", catalog.labelSet(ls.id)->count}});
        else std::printf("removed %lld labels from '%s'\n", (long long)removed, ls.name.c_str());
        return 0;
    };

    auto* show = sub("show", "Show a label set and its labels", true);
    show->add_option("--limit", o->limit, "Labels to print (0 = all; --json prints all)")->capture_default_str();
    (*runners)[show] = [o] {
        auto catalog = openCatalog(o->catalog);
        const auto ls = requireSet(catalog, o->name);
        if (!o->json) {
            printSet(catalog, ls, o->limit);
            return 0;
        }
        nlohmann::json labels = nlohmann::json::array();
        for (const auto& l : catalog.labels(ls.id))
            labels.push_back({{"object_id", l.objectId}, {"value", valueJson(l.value)}, {"source", l.source}});
        auto j = setJson(ls);
        j["labels"] = labels;
        printJson(j);
        return 0;
    };

    auto* exportCmd = sub("export", "Write a label set as CSV (object_id,value,source)", true);
    exportCmd->add_option("--out", o->out, "CSV file to write")->required();
    (*runners)[exportCmd] = [o] {
        auto catalog = openCatalog(o->catalog);
        const auto ls = requireSet(catalog, o->name);
        TextTable t;
        t.columns = {{"object_id", "int64", ""}, {"value", ls.kind == "class" ? "string" : "float64", ""},
                     {"source", "string", ""}};
        for (const auto& l : catalog.labels(ls.id)) t.rows.push_back({std::to_string(l.objectId), exactText(l.value), l.source});
        writeTextTable(o->out, t);
        if (!o->json) std::printf("wrote %zu labels of '%s' to %s\n", t.rows.size(), ls.name.c_str(), o->out.c_str());
        else printJson({{"label_set", ls.name}, {"written", t.rows.size()}, {"out", o->out}});
        return 0;
    };

    auto* import = sub("import", "Label objects from a CSV file (object_id,value[,source]); all rows or none", true);
    import->add_option("file", o->file, "CSV file")->required();
    (*runners)[import] = [o] {
        auto catalog = openCatalog(o->catalog);
        const auto ls = requireSet(catalog, o->name);
        const auto labels = readLabelFile(catalog, ls, o->file);
        catalog.setLabels(ls.id, labels);
        if (o->json) printJson({{"label_set", ls.name}, {"imported", labels.size()}, {"count", catalog.labelSet(ls.id)->count}});
        else std::printf("imported %zu labels into '%s'\n", labels.size(), ls.name.c_str());
        return 0;
    };

    auto* deleteCmd = sub("delete", "Delete a label set with its labels", true);
    (*runners)[deleteCmd] = [o] {
        auto catalog = openCatalog(o->catalog);
        const auto ls = requireSet(catalog, o->name);
        catalog.deleteLabelSet(ls.id);
        if (o->json) printJson({{"deleted", ls.name}, {"labels", ls.count}});
        else std::printf("deleted label set '%s' (%lld labels)\n", ls.name.c_str(), (long long)ls.count);
        return 0;
    };

    for (auto* s : {create, list, set, remove, show, exportCmd, import, deleteCmd})
        s->add_flag("--json", o->json, "Print the result as JSON");
    addDiscoveryCommands(*cmd, *runners);

    return [cmd, runners] {
        for (auto* s : cmd->get_subcommands())
            if (const auto it = runners->find(s); it != runners->end()) return it->second();
        return kExitError;
    };
}

} // namespace astroclip::cli
