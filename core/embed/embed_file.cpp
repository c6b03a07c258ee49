#include "core/embed/embed_file.h"

#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/embed/embed_job.h"
#include "core/ingest/ingest.h"

#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

namespace astroclip::embed {

namespace {

// A private temporary folder, removed with everything in it when this goes out of scope.
class ScratchFolder {
public:
    ScratchFolder() {
        std::string pattern = (fs::temp_directory_path() / "astroclip-query-XXXXXX").string();
        if (!mkdtemp(pattern.data()))
            throw FileError(fs::temp_directory_path().string(), "cannot create a temporary folder for the query");
        path_ = pattern;
    }
    ~ScratchFolder() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    ScratchFolder(const ScratchFolder&) = delete;
    ScratchFolder& operator=(const ScratchFolder&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

} // namespace

FileVectors embedFile(runs::TrainedEncoders& encoders, const std::string& path, const ReaderRegistry& readers,
                      Modality modality, runs::EmbeddingSpace space) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw FileError(path, "no such file");
    runs::requireEncoder(encoders, modality, space);

    ScratchFolder scratch;
    FileVectors out;
    {
        Catalog catalog = Catalog::open((scratch.path() / "query.sqlite").string());
        IngestParams ingest;
        ingest.reingestUnchanged = true;
        const auto summary = ingestPaths(catalog, {path}, readers, ingest);
        for (const auto& f : summary.files)
            if (f.status != FileOutcome::Status::Ok) throw FileError(path, f.message);
        if (summary.objectsCreated == 0) throw FileError(path, "holds no object a reader could read");

        EmbedJobParams params;
        params.modalities = {modality};
        params.space = space;
        EmbedJobResult r;
        try {
            r = embedCatalog(catalog, encoders, params);
        } catch (const UsageError& e) {
            throw UsageError(path + ": " + e.what());
        }
        const auto& done = r.modalities.front();
        for (const auto& failure : done.failures) out.warnings.push_back("object " + std::to_string(failure.id) + ": " + failure.reason);
        const EmbeddingMatrix m = catalog.embeddings({r.modelId, modalityName(modality), runs::spaceName(space)});
        if (m.ids.empty())
            throw UsageError(path + ": holds no " + std::string(modalityName(modality)) + " to search from" +
                             (out.warnings.empty() ? "" : " (" + out.warnings.front() + ")"));
        out.dim = m.dim;
        out.vectors = m.values;
        const std::string name = fs::path(path).filename().string();
        for (const int64_t id : m.ids) {
            const auto keys = catalog.objectKeys(id);
            out.labels.push_back(name + " object " + std::to_string(id) + (keys.empty() ? "" : " (" + keys.front() + ")"));
        }
    }
    return out;
}

} // namespace astroclip::embed
