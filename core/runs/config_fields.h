#pragma once
// A run configuration as JSON: the fields of the structs a training run is built from
// (TrainParams, stage options, model configurations) bound by name into nested sections, so
// one table gives both the JSON a run records and the strict reading of a user's JSON file.
// Reading refuses every key the table does not know, naming them all, and every value of the
// wrong type, naming its dotted key: a typo must never silently train with a default.
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace astroclip::runs {

class ConfigFields {
public:
    explicit ConfigFields(std::string path = "");
    ConfigFields(const ConfigFields&) = delete;
    ConfigFields& operator=(const ConfigFields&) = delete;
    ~ConfigFields();

    // A nested section "key" (created on first use, the same one after).
    ConfigFields& section(const std::string& key);
    // Fields bound to variables that outlive this object.
    void field(const std::string& key, double& value);
    void field(const std::string& key, int64_t& value);
    void field(const std::string& key, int& value);
    void field(const std::string& key, uint64_t& value);
    void field(const std::string& key, bool& value);
    void field(const std::string& key, std::string& value);
    void field(const std::string& key, std::array<double, 3>& value);
    // An enumeration written as one of `names` (its value → name pairs).
    template <typename E>
    void choice(const std::string& key, E& value, std::vector<std::pair<E, std::string>> names) {
        add(key, Choice{[&value, names] {
                            for (const auto& [v, n] : names)
                                if (v == value) return n;
                            return std::string("?");
                        },
                        [&value, names](const std::string& text) {
                            for (const auto& [v, n] : names)
                                if (n == text) {
                                    value = v;
                                    return true;
                                }
                            return false;
                        },
                        names.size()});
        for (const auto& [v, n] : names) choiceNames_[key].push_back(n);
    }

    // The bound values, in binding order.
    nlohmann::json toJson() const;

    // Sets the bound variables from `json` (an object; keys it lacks keep their values).
    // Throws FileError(source, ...) — UsageError when source is "" — listing every unknown
    // key as a dotted path with the keys its section knows, or naming the first key whose
    // value has the wrong type or range. Nothing is changed when a key is unknown; a wrong
    // value leaves the keys before it set, so apply to a copy that is dropped on a throw.
    void apply(const nlohmann::json& json, const std::string& source);

    // Dotted paths of the keys of `json` this table does not know.
    std::vector<std::string> unknownKeys(const nlohmann::json& json) const;

private:
    struct Choice {
        std::function<std::string()> get;
        std::function<bool(const std::string&)> set;  // false for an unknown name
        size_t count = 0;
    };
    using Target = std::variant<double*, int64_t*, int*, uint64_t*, bool*, std::string*, std::array<double, 3>*, Choice,
                                std::unique_ptr<ConfigFields>>;
    struct Entry {
        std::string key;
        Target target;
    };
    const Entry* find(const std::string& key) const;
    void add(const std::string& key, Target target);
    std::string knownKeys() const;
    void assign(const nlohmann::json& json, const std::string& source);

    std::string path_;  // "" at the top, else "train", "model.vit" ...
    std::vector<Entry> entries_;
    std::map<std::string, std::vector<std::string>> choiceNames_;  // for messages
};

// Throws FileError(source, problem), or UsageError(problem) when source is "".
[[noreturn]] void configError(const std::string& source, const std::string& problem);

} // namespace astroclip::runs
