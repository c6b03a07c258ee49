#pragma once
// SHA-256 (OpenSSL's libcrypto) for checking that a checkpoint's weights are the bytes its
// JSON side file describes. Incremental so a writer can hash what it streams out.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace astroclip {

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(std::span<const uint8_t> bytes);
    // Lower-case hex digest of everything passed to update(); the object is spent afterwards.
    std::string finishHex();

private:
    struct Context;
    std::unique_ptr<Context> context_;
};

std::string sha256Hex(std::span<const uint8_t> bytes);

} // namespace astroclip
