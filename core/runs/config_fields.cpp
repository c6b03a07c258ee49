#include "core/runs/config_fields.h"

#include "core/common/error.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>

namespace astroclip::runs {

void configError(const std::string& source, const std::string& problem) {
    if (source.empty()) throw UsageError(problem);
    throw FileError(source, problem);
}

ConfigFields::ConfigFields(std::string path) : path_(std::move(path)) {}
ConfigFields::~ConfigFields() = default;

const ConfigFields::Entry* ConfigFields::find(const std::string& key) const {
    for (const auto& e : entries_)
        if (e.key == key) return &e;
    return nullptr;
}

void ConfigFields::add(const std::string& key, Target target) {
    assert(!find(key) && "a configuration key is bound twice");
    entries_.push_back({key, std::move(target)});
}

ConfigFields& ConfigFields::section(const std::string& key) {
    if (const Entry* e = find(key)) {
        auto* nested = std::get_if<std::unique_ptr<ConfigFields>>(&e->target);
        assert(nested && "a configuration key is both a field and a section");
        return **nested;
    }
    add(key, std::make_unique<ConfigFields>(path_.empty() ? key : path_ + "." + key));
    return *std::get<std::unique_ptr<ConfigFields>>(entries_.back().target);
}

void ConfigFields::field(const std::string& key, double& value) { add(key, &value); }
void ConfigFields::field(const std::string& key, int64_t& value) { add(key, &value); }
void ConfigFields::field(const std::string& key, int& value) { add(key, &value); }
void ConfigFields::field(const std::string& key, uint64_t& value) { add(key, &value); }
void ConfigFields::field(const std::string& key, bool& value) { add(key, &value); }
void ConfigFields::field(const std::string& key, std::string& value) { add(key, &value); }
void ConfigFields::field(const std::string& key, std::array<double, 3>& value) { add(key, &value); }

nlohmann::json ConfigFields::toJson() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& e : entries_) {
        std::visit(
            [&](const auto& target) {
                using T = std::decay_t<decltype(target)>;
                if constexpr (std::is_same_v<T, std::unique_ptr<ConfigFields>>)
                    out[e.key] = target->toJson();
                else if constexpr (std::is_same_v<T, Choice>)
                    out[e.key] = target.get();
                else
                    out[e.key] = *target;
            },
            e.target);
    }
    return out;
}

std::string ConfigFields::knownKeys() const {
    std::string known;
    for (const auto& e : entries_) known += (known.empty() ? "" : ", ") + e.key;
    return known;
}

std::vector<std::string> ConfigFields::unknownKeys(const nlohmann::json& json) const {
    std::vector<std::string> unknown;
    if (!json.is_object()) return unknown;
    for (const auto& [key, value] : json.items()) {
        const Entry* e = find(key);
        const std::string dotted = path_.empty() ? key : path_ + "." + key;
        if (!e) {
            unknown.push_back(dotted);
            continue;
        }
        if (const auto* nested = std::get_if<std::unique_ptr<ConfigFields>>(&e->target)) {
            const auto inner = (*nested)->unknownKeys(value);
            unknown.insert(unknown.end(), inner.begin(), inner.end());
        }
    }
    return unknown;
}

namespace {

std::string typeText(const nlohmann::json& v) { return v.dump().substr(0, 40); }

} // namespace

void ConfigFields::assign(const nlohmann::json& json, const std::string& source) {
    const std::string where = path_.empty() ? "the configuration" : "'" + path_ + "'";
    if (!json.is_object()) configError(source, where + " must be a JSON object, not " + typeText(json));
    for (const auto& [key, value] : json.items()) {
        const Entry* e = find(key);
        assert(e);  // unknownKeys() ran first
        const std::string dotted = path_.empty() ? key : path_ + "." + key;
        auto wrong = [&](const std::string& expected) {
            configError(source, "'" + dotted + "' must be " + expected + ", not " + typeText(value));
        };
        std::visit(
            [&](const auto& target) {
                using T = std::decay_t<decltype(target)>;
                if constexpr (std::is_same_v<T, std::unique_ptr<ConfigFields>>) {
                    target->assign(value, source);
                } else if constexpr (std::is_same_v<T, double*>) {
                    if (!value.is_number()) wrong("a number");
                    *target = value.template get<double>();
                } else if constexpr (std::is_same_v<T, int64_t*>) {
                    const bool tooLarge =
                        value.is_number_unsigned() && value.template get<uint64_t>() > uint64_t(INT64_MAX);
                    if (!value.is_number_integer() || tooLarge) wrong("an integer");
                    *target = value.template get<int64_t>();
                } else if constexpr (std::is_same_v<T, int*>) {
                    if (!value.is_number_integer()) wrong("an integer");
                    const auto v = value.template get<int64_t>();
                    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
                        wrong("an integer of at most 9 digits");
                    *target = static_cast<int>(v);
                } else if constexpr (std::is_same_v<T, uint64_t*>) {
                    if (!value.is_number_unsigned()) wrong("a non-negative integer");
                    *target = value.template get<uint64_t>();
                } else if constexpr (std::is_same_v<T, bool*>) {
                    if (!value.is_boolean()) wrong("true or false");
                    *target = value.template get<bool>();
                } else if constexpr (std::is_same_v<T, Choice>) {
                    std::string names;
                    for (const auto& n : choiceNames_.at(key)) names += (names.empty() ? "" : ", ") + n;
                    if (!value.is_string() || !target.set(value.template get<std::string>())) wrong("one of " + names);
                } else if constexpr (std::is_same_v<T, std::string*>) {
                    if (!value.is_string()) wrong("a string");
                    *target = value.template get<std::string>();
                } else {
                    if (!value.is_array() || value.size() != 3) wrong("an array of 3 numbers");
                    for (size_t i = 0; i < 3; ++i) {
                        if (!value[i].is_number()) wrong("an array of 3 numbers");
                        (*target)[i] = value[i].template get<double>();
                    }
                }
            },
            e->target);
    }
}

void ConfigFields::apply(const nlohmann::json& json, const std::string& source) {
    if (!json.is_object()) configError(source, "the configuration must be a JSON object");
    const auto unknown = unknownKeys(json);
    if (!unknown.empty()) {
        std::string list;
        for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + ("'" + u + "'");
        // What each section with an unknown key does know, once per section.
        std::string known;
        std::vector<std::string> sections;
        for (const auto& u : unknown) {
            const auto dot = u.rfind('.');
            const std::string section = dot == std::string::npos ? "" : u.substr(0, dot);
            if (std::find(sections.begin(), sections.end(), section) != sections.end()) continue;
            sections.push_back(section);
            const ConfigFields* owner = this;
            size_t start = 0;
            while (owner && start < section.size()) {
                const auto next = std::min(section.find('.', start), section.size());
                const Entry* e = owner->find(section.substr(start, next - start));
                const auto* nested = e ? std::get_if<std::unique_ptr<ConfigFields>>(&e->target) : nullptr;
                owner = nested ? nested->get() : nullptr;
                start = next + 1;
            }
            if (!owner) continue;
            known += std::string(known.empty() ? "" : "; ") + (section.empty() ? "at the top level" : "in '" + section + "'") +
                     ": " + owner->knownKeys();
        }
        configError(source, std::string(unknown.size() == 1 ? "unknown key " : "unknown keys ") + list +
                                (known.empty() ? "" : " (known " + known + ")"));
    }
    assign(json, source);
}

} // namespace astroclip::runs
