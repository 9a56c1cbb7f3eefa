#include "jellyfin_backup/copy/copy.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/archive/check_record.h"
#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/create/create.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/utc_time.h"

namespace jb {
namespace {

// Where the copy goes: a directory and a name, or stdout. The name may
// wait for the manifest (a copy from stdin into a directory).
struct Destination {
  bool to_stdout = false;
  std::unique_ptr<Store> store;
  std::optional<std::string> name;
};

// An existing archive is never replaced: refused before anything is written.
void refuse_existing(const Store& store, const std::string& name) {
  if (store.stat(name))
    throw exists_error(store.display(name), "nothing was copied; an existing file is never overwritten");
}

Destination resolve_destination(const std::string& dest_text, const Location& source) {
  Destination d;
  const Location dest = parse_location(dest_text);
  if (dest.is_stdio()) {
    if (::isatty(STDOUT_FILENO))
      throw usage_error("refusing to write an archive to a terminal", "redirect stdout, or name a destination");
    d.to_stdout = true;
    return d;
  }
  OutputTarget target = output_target(dest_text);
  prepare_output_dir(target);
  d.store = open_store(target.dir);
  d.name = target.name;
  // Into a directory, the copy keeps its name if list and prune will see it
  // there; otherwise (and from stdin) the manifest names it, as create would.
  if (!d.name && !source.is_stdio()) {
    std::string name = split_file(source).second;
    if (format::has_archive_suffix(name)) d.name = std::move(name);
  }
  if (d.name) refuse_existing(*d.store, *d.name);  // before anything is read
  return d;
}

// Every byte read from the source goes to the destination too, once the
// destination is open; bytes read before that (a copy from stdin waits for
// the manifest to name the file) are held until then.
class TeeSource : public Source {
 public:
  explicit TeeSource(Source& inner) : inner_(inner) {}
  std::size_t read(void* buffer, std::size_t size) override {
    std::size_t n = inner_.read(buffer, size);
    if (sink_) sink_->write(buffer, n);
    else held_.append(static_cast<const char*>(buffer), n);
    return n;
  }
  const std::string& name() const override { return inner_.name(); }
  std::optional<std::uint64_t> size() const override { return inner_.size(); }

  void attach(Sink& sink) {
    sink_ = &sink;
    sink.write(held_.data(), held_.size());
    held_.clear();
    held_.shrink_to_fit();
  }
  bool attached() const { return sink_ != nullptr; }

 private:
  Source& inner_;
  Sink* sink_ = nullptr;
  std::string held_;
};

// Opens the destination when the manifest is known, which names a copy
// from stdin; tree entries are only verified, never written out.
class OpenOnManifest : public EntryConsumer {
 public:
  OpenOnManifest(Destination& dest, TeeSource& tee) : dest_(dest), tee_(tee) {}
  void on_manifest(const Manifest& m) override {
    if (!dest_.to_stdout && !dest_.name) {
      dest_.name = archive_file_name(parse_utc_iso(m.created).value_or(std::time(nullptr)), m.app_version);
      refuse_existing(*dest_.store, *dest_.name);
    }
    open();
  }
  void begin_entry(archive_entry*) override {}
  void data(const DataBlock&) override {}
  void end_entry() override {}

  void open() {
    if (tee_.attached()) return;
    if (dest_.to_stdout) sink_ = std::make_unique<FdSink>(STDOUT_FILENO, "stdout");
    // The size, when the source knows it, lets a remote stream what it
    // would otherwise have rclone spool to a local file first.
    else sink_ = dest_.store->create(*dest_.name, tee_.size());
    tee_.attach(*sink_);
  }
  Sink* sink() { return sink_.get(); }

 private:
  Destination& dest_;
  TeeSource& tee_;
  std::unique_ptr<Sink> sink_;
};

CopyResult run_copy(const CopyOptions& options, Reporter& reporter) {
  const auto start = std::chrono::steady_clock::now();
  CopyResult result;
  const Location source_location = parse_location(options.source);

  // First, the destination: refused before anything is read if it exists.
  Destination dest = resolve_destination(options.dest, source_location);

  // Second, stream: source -> hash -> tee (destination) -> Verifier.
  auto source = open_source(options.source);
  HashingSource hashed(*source);
  TeeSource tee(hashed);
  OpenOnManifest opener(dest, tee);
  result.source = source->name();
  result.verify = verify_archive(tee, reporter, &opener);
  if (!result.verify.ok()) {
    throw damaged_error(result.verify.damage(source->name()),
                        dest.to_stdout ? "what went to standard output is not a good archive: discard it; "
                                         "the source is damaged, do not restore from it"
                                       : "nothing was copied; the source is damaged, do not restore from it");
  }

  // Last, only a verified copy gets its final name, and then its sidecar.
  opener.open();
  try {
    opener.sink()->commit();
  } catch (const Error& e) {
    // A remote commit is a server-side move that may finish without us.
    if (interrupted_signal() == 0 || dest.to_stdout) throw;
    const std::string where = dest.store->display(*dest.name);
    throw e.with_message(std::string(e.what()) + " while " + where + " was given its final name")
        .with_hint("it may be there without its sidecar: check it with `jellyfin-backup verify " + where + "`");
  }
  result.bytes = hashed.bytes();
  result.xxh128 = hashed.hex_digest();
  if (dest.to_stdout) {
    result.dest = "-";
  } else {
    result.dest = dest.store->display(*dest.name);
    try {
      write_sidecar(*dest.store, *dest.name, result.xxh128);
      result.sidecar_written = true;
      // Every byte of the copy went through the Verifier: a full check,
      // recorded for list, prune and status.
      if (auto copied = dest.store->stat(*dest.name); copied && copied->size == result.bytes)
        write_check_record(*dest.store, make_check_record(*copied, true, result.xxh128));
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInterrupted) throw;
      reporter.warning("the copy is complete, but its " +
                       std::string(result.sidecar_written ? "check record" : "sidecar") +
                       " was not written: " + e.full_message());
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

CopyResult copy_archive(const CopyOptions& options, Reporter& reporter) {
  try {
    return run_copy(options, reporter);
  } catch (const Error& e) {
    if (interrupted_signal() == 0 || !e.hint().empty()) throw;
    throw e.with_hint(options.dest == "-" ? "what went to standard output is incomplete: discard it"
                                          : "nothing was written under " + options.dest);
  }
}

}  // namespace jb
