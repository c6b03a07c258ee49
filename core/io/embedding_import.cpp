#include "core/io/embedding_import.h"

#include "core/checkpoint/sha256.h"
#include "core/common/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

namespace fs = std::filesystem;

namespace astroclip {

namespace {

std::string absolutePath(const std::string& path) {
    std::error_code ec;
    const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? path : p.string();
}

std::string someOf(const std::vector<std::string>& items) {
    std::string out;
    const size_t shown = std::min<size_t>(items.size(), 5);
    for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > shown) out += " and " + std::to_string(items.size() - shown) + " more";
    return out;
}

// The catalog object of each row (-1 for an unknown id or key).
std::vector<int64_t> matchRows(Catalog& catalog, const VectorTable& table) {
    std::vector<int64_t> objects(table.rows(), -1);
    if (!table.keys.empty()) {
        for (size_t r = 0; r < objects.size(); ++r)
            if (const auto id = catalog.findObjectByKey(table.keys[r])) objects[r] = *id;
        return objects;
    }
    const auto all = catalog.select("");
    const std::unordered_set<int64_t> known(all.begin(), all.end());
    for (size_t r = 0; r < objects.size(); ++r)
        if (known.count(table.ids[r])) objects[r] = table.ids[r];
    return objects;
}

} // namespace

std::string importSource(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw FileError(file, "cannot be read");
    Sha256 hash;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), std::streamsize(buffer.size()));
        const auto got = in.gcount();
        if (got > 0) hash.update({reinterpret_cast<const uint8_t*>(buffer.data()), size_t(got)});
    }
    if (in.bad()) throw FileError(file, "reading failed part way");
    return "import:" + absolutePath(file) + " sha256:" + hash.finishHex().substr(0, 16);
}

EmbeddingImportResult importEmbeddings(Catalog& catalog, const EmbeddingImportParams& p, const ProgressFn& progress) {
    if (p.modality != "image" && p.modality != "spectrum")
        throw UsageError("the modality of imported embeddings is image or spectrum (got '" + p.modality + "')");
    if (p.space != "backbone" && p.space != "aligned")
        throw UsageError("the space of imported embeddings is backbone or aligned (got '" + p.space + "')");
    if (p.model.empty()) throw UsageError("imported embeddings need a model name (--model)");

    EmbeddingImportResult r;
    report(progress, {"import: read", 0, 0, p.file});
    const VectorTable table = readVectorTable(p.file, p.table);
    const std::string source = importSource(p.file);
    r.format = table.format;
    r.vectorsFrom = table.vectorsFrom;
    r.rows = int64_t(table.rows());

    // Rows → catalog objects.
    report(progress, {"import: match", 0, r.rows, "matching rows to catalog objects"});
    const std::vector<int64_t> objects = matchRows(catalog, table);
    const bool byKey = !table.keys.empty();
    std::vector<int64_t> ids;
    std::vector<float> values;
    std::unordered_map<int64_t, size_t> rowOf;
    const size_t dim = size_t(table.dim);
    for (size_t row = 0; row < objects.size(); ++row) {
        if (objects[row] < 0) {
            r.unknown.push_back(byKey ? "'" + table.keys[row] + "'" : std::to_string(table.ids[row]));
            continue;
        }
        const auto [it, fresh] = rowOf.emplace(objects[row], row + 1);
        if (!fresh)  // two keys of one object
            throw FileError(p.file, "rows " + std::to_string(it->second) + " and " + std::to_string(row + 1) +
                                        " are both object " + std::to_string(objects[row]) + " of " + catalog.path() +
                                        "; one vector per object");
        ids.push_back(objects[row]);
        values.insert(values.end(), table.values.begin() + std::ptrdiff_t(row * dim),
                      table.values.begin() + std::ptrdiff_t((row + 1) * dim));
    }
    const std::string what = byKey ? "key" : "id";
    if (ids.empty())
        throw FileError(p.file, "none of its " + std::to_string(r.rows) + " rows is an object of " + catalog.path() +
                                    " (" + what + "s such as " + someOf(r.unknown) + "); nothing was imported");
    if (!r.unknown.empty() && !p.skipUnknown)
        throw FileError(p.file, std::to_string(r.unknown.size()) + " of its " + std::to_string(r.rows) + " rows name " +
                                    what + "s that are not objects of " + catalog.path() + ": " + someOf(r.unknown) +
                                    "; nothing was imported (--skip-unknown imports the other rows)");

    // The model record: an imported model of that name, or a new one.
    const std::string file = absolutePath(p.file);
    std::optional<ModelRecord> model = catalog.model(p.model);
    if (model && model->stage != "imported")
        throw UsageError(catalog.path() + ": model '" + p.model + "' was trained here (stage " + model->stage +
                         "); its embeddings come from astroclip embed. Import under another --model name");
    const EmbeddingKey probeKey{model ? model->id : 0, p.modality, p.space};
    if (model) {
        if (const auto set = catalog.embeddingSet(probeKey)) {
            if (set->dim != table.dim)
                throw FileError(p.file, "holds " + std::to_string(table.dim) + "-dimensional vectors but model '" +
                                            p.model + "' already has " + std::to_string(set->dim) + "-dimensional " +
                                            p.modality + " " + p.space +
                                            " embeddings; import them under another --model name");
            r.replacedSource = set->source == source ? "" : set->source;
            r.unchanged = set->source == source && set->count == int64_t(ids.size());
        }
    }

    report(progress, {"import: store", 0, int64_t(ids.size()), std::to_string(ids.size()) + " vectors"});
    Catalog::Transaction tx(catalog);
    if (!model) {
        ModelRecord m;
        m.name = p.model;
        m.stage = "imported";
        m.path = file;
        m.config = nlohmann::json{{"imported_from", file},
                                  {"format", table.format},
                                  {"vectors", table.vectorsFrom},
                                  {"dim", table.dim}}
                       .dump();
        m.id = catalog.registerModel(m);
        model = catalog.model(m.id);
        r.modelRegistered = true;
    } else if (model->path != file) {
        model->path = file;  // the file the model's vectors now come from
        catalog.updateModel(*model);
    }
    const EmbeddingKey key{model->id, p.modality, p.space};
    // The set is replaced whole: rows absent from this file must not keep vectors of another.
    catalog.deleteEmbeddings(key);
    catalog.storeEmbeddings(key, ids, values.data(), table.dim, source);
    tx.commit();

    r.model = *model;
    r.set = *catalog.embeddingSet(key);
    r.imported = int64_t(ids.size());
    return r;
}

} // namespace astroclip
