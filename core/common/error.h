#pragma once
// Typed errors for caller mistakes and bad input. Broken invariants use assert instead.
// Every message is meant to be shown to a user as is: it names the file/object and the problem.
#include <stdexcept>
#include <string>

namespace astroclip {

// Base of every error a user can act on.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A request that makes no sense (unknown option value, bad filter expression, unknown column).
class UsageError : public Error {
public:
    using Error::Error;
};

// A file that cannot be read or is not what it claims to be. what() = "<path>: <problem>".
class FileError : public Error {
public:
    FileError(std::string path, const std::string& problem)
        : Error(path + ": " + problem), path_(std::move(path)), problem_(problem) {}
    const std::string& path() const { return path_; }
    const std::string& problem() const { return problem_; }
private:
    std::string path_;
    std::string problem_;
};

// The catalog file itself failed (locked, corrupt, newer schema than this build knows).
class CatalogError : public Error {
public:
    using Error::Error;
};

// A job needed more memory than its device has (a GPU's memory, or the host's for a CPU job).
// The message names the job, the device and what to change (batch size, accumulation,
// precision); the process goes on, and nothing already stored was touched.
class OutOfMemoryError : public Error {
public:
    using Error::Error;
};

// The user asked to stop a long job through its progress callback.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

} // namespace astroclip
