#include "jellyfin_backup/archive/tar_reader.h"

#include <algorithm>
#include <string>

#include "jellyfin_backup/archive/archive_format.h"

namespace jb {
namespace {

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

}  // namespace

TarReader::TarReader(FrameDecompressor& input) : input_(input), archive_(archive_read_new()) {
  if (!archive_) throw std::bad_alloc();
  archive* a = archive_.get();
  check_archive(archive_read_support_format_tar(a), a, ErrorKind::kRuntime, "tar");
  // Opening already reads the first block: a zstd error may surface here.
  if (archive_read_open(a, this, nullptr, &TarReader::read_callback, nullptr) != ARCHIVE_OK)
    fail("not a tar archive");
}

TarReader::~TarReader() = default;

// C code calls this: exceptions are parked and rethrown after libarchive
// returns, so the zstd-level error (the real cause) is what the user sees.
la_ssize_t TarReader::read_callback(archive*, void* self, const void** buffer) {
  auto* reader = static_cast<TarReader*>(self);
  try {
    std::string_view piece = reader->input_.next();
    reader->previous_ = reader->last_;
    reader->last_ = piece;
    reader->handed_ += piece.size();
    if (piece.empty()) reader->input_ended_ = true;
    *buffer = piece.data();
    return static_cast<la_ssize_t>(piece.size());
  } catch (...) {
    reader->input_error_ = std::current_exception();
    return ARCHIVE_FATAL;
  }
}

void TarReader::rethrow_input_error() {
  if (input_error_) std::rethrow_exception(input_error_);
}

void TarReader::fail(const std::string& context) {
  rethrow_input_error();
  // libarchive failing once its input ran out: the tar stream ends early.
  throw damaged_error(input_ended_ ? ErrorCode::kTruncated : ErrorCode::kNone,
                      context + ": " + archive_message(archive_.get()));
}

archive_entry* TarReader::next() {
  archive_entry* entry = nullptr;
  int ret = archive_read_next_header(archive_.get(), &entry);
  rethrow_input_error();
  if (ret == ARCHIVE_EOF) return nullptr;
  if (ret != ARCHIVE_OK && ret != ARCHIVE_WARN) fail(input_.frames() == 0 && handed_ < 512
                                                         ? "not a tar archive"
                                                         : "damaged tar header");
  return entry;
}

std::optional<DataBlock> TarReader::read_block() {
  const void* buffer = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int ret = archive_read_data_block(archive_.get(), &buffer, &size, &offset);
  rethrow_input_error();
  if (ret == ARCHIVE_EOF) return std::nullopt;
  if (ret != ARCHIVE_OK && ret != ARCHIVE_WARN) fail("damaged entry data");
  if (offset < 0) fail("negative data offset");
  return DataBlock{static_cast<std::uint64_t>(offset),
                   {static_cast<const char*>(buffer), size}};
}

void TarReader::check_nothing_follows() {
  la_int64_t consumed = archive_filter_bytes(archive_.get(), 0);
  std::uint64_t tail = handed_ - static_cast<std::uint64_t>(std::max<la_int64_t>(consumed, 0));
  // Bytes libarchive was given but never looked at: the end of last_,
  // preceded (rarely) by the end of previous_.
  if (tail > last_.size() + previous_.size())
    throw damaged_error("cannot check the bytes after the end of the tar archive");
  std::string_view in_last = last_.substr(last_.size() - std::min<std::uint64_t>(tail, last_.size()));
  std::uint64_t from_previous = tail - in_last.size();
  std::string_view in_previous = previous_.substr(previous_.size() - from_previous);
  bool clean = all_zero(in_previous) && all_zero(in_last);
  std::uint64_t zeros = tail;
  for (;;) {
    // Zeros hide nothing, but an endless stream of them costs time.
    if (clean && zeros > format::kMaxTarPadding) {
      throw damaged_error("more than " + std::to_string(format::kMaxTarPadding) +
                              " bytes of padding after the end of the tar archive",
                          "the archive was modified after it was written");
    }
    if (!clean) break;
    std::string_view piece = input_.next();
    if (piece.empty()) break;
    clean = all_zero(piece);
    zeros += piece.size();
  }
  if (!clean)
    throw damaged_error("data after the end of the tar archive",
                        "the archive was modified after it was written");
}

}  // namespace jb
