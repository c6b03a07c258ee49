// astroclip import-embeddings: vectors computed elsewhere (a FITS, CSV/ECSV or HDF5 table keyed
// by object id or key) become a model's embedding set in the catalog (core/io/embedding_import.h),
// ready for map, search and probe.
#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/io/embedding_import.h"

#include <cstdio>

namespace astroclip::cli {

Runner addImportEmbeddingsCommand(CLI::App& app) {
    struct Options {
        EmbeddingImportParams job;
        std::string catalog;
        bool json = false, quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("import-embeddings",
                                   "Import vectors computed elsewhere (FITS, CSV, ECSV or HDF5 table) as a model's embeddings");
    cmd->add_option("--catalog", o->catalog, "Catalog holding the objects")->required();
    cmd->add_option("--file", o->job.file, "The table: .fits, .csv, .ecsv, .h5 or .hdf5")->required();
    cmd->add_option("--model", o->job.model, "Name of the model the vectors belong to (registered when new)")->required();
    cmd->add_option("--modality", o->job.modality, "image or spectrum")->required()->check(CLI::IsMember({"image", "spectrum"}));
    cmd->add_option("--space", o->job.space, "backbone (an encoder's own vectors) or aligned (a shared image-spectrum space)")
        ->check(CLI::IsMember({"aligned", "backbone"}))
        ->capture_default_str();
    cmd->add_option("--id-column", o->job.table.idColumn, "Column (HDF5: dataset) of catalog object ids")->capture_default_str();
    cmd->add_option("--key-column", o->job.table.keyColumn,
                    "Match rows by catalog object key (e.g. desi:39627...) in this column instead of by id");
    auto* vector = cmd->add_option("--vector-column", o->job.table.vectorColumn,
                                   "Column (HDF5: dataset) holding each row's whole vector [default: embedding]");
    cmd->add_option("--columns", o->job.table.columnsPrefix, "One column per component: every column named PREFIX* (e.g. emb_*)")
        ->excludes(vector);
    cmd->add_option("--dataset", o->job.table.dataset, "HDF5: path of the [rows, dims] vectors dataset (e.g. /embeddings)");
    cmd->add_flag("--skip-unknown", o->job.skipUnknown, "Leave out rows whose id or key is not in the catalog (else an error)");
    cmd->add_flag("--json", o->json, "Print the result as JSON");
    cmd->add_flag("--quiet", o->quiet, "No progress");
    return [o]() -> int {
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        const auto r = importEmbeddings(catalog, o->job, makeProgressBar(o->quiet || o->json));
        if (!r.unknown.empty())
            std::fprintf(stderr, "astroclip: warning: %s: %zu rows left out, not objects of %s (e.g. %s)\n",
                         o->job.file.c_str(), r.unknown.size(), catalog.path().c_str(), r.unknown.front().c_str());
        if (o->json) {
            printJson({{"model", r.model.name},
                       {"model_id", r.model.id},
                       {"model_registered", r.modelRegistered},
                       {"modality", r.set.key.modality},
                       {"space", r.set.key.space},
                       {"dim", r.set.dim},
                       {"format", r.format},
                       {"vectors_from", r.vectorsFrom},
                       {"rows", r.rows},
                       {"imported", r.imported},
                       {"skipped_unknown", r.unknown},
                       {"unchanged", r.unchanged},
                       {"replaced_source", r.replacedSource},
                       {"source", r.set.source}});
            return 0;
        }
        std::printf("model       %s%s\n", r.model.name.c_str(), r.modelRegistered ? " (registered, stage imported)" : "");
        std::printf("read        %lld rows of %s (%s, vectors from %s)\n", (long long)r.rows, o->job.file.c_str(),
                    r.format.c_str(), r.vectorsFrom.c_str());
        std::printf("stored      %lld %d-d %s %s vectors%s\n", (long long)r.imported, r.set.dim, r.set.key.modality.c_str(),
                    r.set.key.space.c_str(),
                    r.unchanged                  ? " (the same file as before)"
                    : !r.replacedSource.empty() ? " (replacing the vectors of an earlier file)"
                                                : "");
        return 0;
    };
}

} // namespace astroclip::cli
