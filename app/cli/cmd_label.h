#pragma once
// Pieces shared by the two halves of `astroclip label` (cmd_label.cpp: the sets and their
// labels; cmd_label_discovery.cpp: rank, suggest, evaluate). Not a public header.
#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"

#include <map>
#include <string>

namespace astroclip::cli::label {

// The sub-subcommands of `label`, each with the function that runs it.
using Runners = std::map<CLI::App*, Runner>;

// Opens an existing catalog; UsageError when there is none at the path.
Catalog openCatalog(const std::string& path);
// The label set a user names; UsageError listing the catalog's sets when there is none.
LabelSetRecord requireSet(Catalog& catalog, const std::string& name);

void addDiscoveryCommands(CLI::App& label, Runners& runners);

} // namespace astroclip::cli::label
