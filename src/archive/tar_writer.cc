#include "jellyfin_backup/archive/tar_writer.h"

#include <unistd.h>

namespace jb {

TarWriter::TarWriter(Sink& out)
    : state_(std::make_unique<State>(State{&out, nullptr})), archive_(archive_write_new()) {
  if (!archive_) throw std::bad_alloc();
}

TarWriter::TarWriter(TarWriter&&) noexcept = default;
TarWriter::~TarWriter() = default;

TarWriter TarWriter::open(Sink& out) {
  TarWriter w(out);
  archive* a = w.archive_.get();
  check_archive(archive_write_set_format_pax(a), a, ErrorKind::kRuntime, "tar");
  check_archive(archive_write_set_bytes_per_block(a, 0), a, ErrorKind::kRuntime, "tar");
  // SCHILY.xattr.* only: GNU tar reads those and warns about LIBARCHIVE.xattr.*.
  check_archive(archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY"), a,
                ErrorKind::kRuntime, "tar");
  check_archive(archive_write_open2(a, w.state_.get(), nullptr, &TarWriter::write_callback,
                                    nullptr, nullptr),
                a, ErrorKind::kRuntime, "tar");
  return w;
}

// C code calls this: exceptions must not cross it. They are parked and
// rethrown once libarchive has returned its failure to us.
la_ssize_t TarWriter::write_callback(archive*, void* self, const void* buf, size_t size) {
  auto* state = static_cast<State*>(self);
  try {
    state->out->write(buf, size);
    return static_cast<la_ssize_t>(size);
  } catch (...) {
    state->sink_error = std::current_exception();
    return -1;
  }
}

void TarWriter::rethrow_sink_error() {
  if (state_->sink_error) std::rethrow_exception(std::exchange(state_->sink_error, nullptr));
}

std::string TarWriter::write_header(archive_entry* entry) {
  int ret = archive_write_header(archive_.get(), entry);
  rethrow_sink_error();
  const char* path = archive_entry_pathname(entry);
  check_archive(ret, archive_.get(), ErrorKind::kRuntime, path ? path : "entry");
  if (ret != ARCHIVE_WARN) return {};
  // A name that is not valid UTF-8 is stored as raw bytes (pax
  // hdrcharset=BINARY) and comes back byte for byte: nothing to warn about.
  std::string message = archive_message(archive_.get());
  return message.rfind("Can't translate", 0) == 0 ? std::string() : message;
}

void TarWriter::write_data(const void* data, std::size_t size) {
  la_ssize_t n = archive_write_data(archive_.get(), data, size);
  rethrow_sink_error();
  if (n < 0 || static_cast<std::size_t>(n) != size)
    throw Error(ErrorKind::kRuntime, "tar: " + archive_message(archive_.get()));
}

void TarWriter::finish_entry() {
  int ret = archive_write_finish_entry(archive_.get());
  rethrow_sink_error();
  check_archive(ret, archive_.get(), ErrorKind::kRuntime, "tar");
}

void TarWriter::write_memory_file(std::string_view path, std::string_view content,
                                  std::time_t mtime) {
  ArchiveEntryPtr entry(archive_entry_new());
  archive_entry_copy_pathname(entry.get(), std::string(path).c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0600);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(content.size()));
  archive_entry_set_mtime(entry.get(), mtime, 0);
  archive_entry_set_uid(entry.get(), ::getuid());
  archive_entry_set_gid(entry.get(), ::getgid());
  write_header(entry.get());
  if (!content.empty()) write_data(content.data(), content.size());
  finish_entry();
}

void TarWriter::close() {
  int ret = archive_write_close(archive_.get());
  rethrow_sink_error();
  check_archive(ret, archive_.get(), ErrorKind::kRuntime, "tar");
}

}  // namespace jb
