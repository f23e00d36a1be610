//! Incremental ingest for scheduled jobs: a checkpoint per input file so each run reads only
//! the lines appended since the last one, into a new DATASET part of the job.
//!
//! - **Identity** of a file is a content fingerprint: [`fnv1a64`] of its first (up to) 4 KiB
//!   after decompression, with the number of bytes hashed. A file matches a checkpoint when its
//!   first that-many bytes hash the same, so a file renamed by rotation (new name), or
//!   rotated and compressed (`.gz`, `.zst`: new inode), continues where the last run stopped,
//!   and a file truncated and rewritten in place (same inode, new content) is read from the
//!   start. Device and inode are not used because compression changes them.
//! - **Consumed offset**: bytes of the (decompressed) content already read. A plain file is read
//!   up to its last newline; the partial last line waits for the next run instead of becoming a
//!   rejection. A compressed file is a finished rotation and is read to its end; one that does
//!   not decompress yet (still being compressed) is deferred to the next run.
//! - The new lines of every span file go into one DATASET part (`STATE/data/JOB/part-NNNNNN`),
//!   written under a temporary name and renamed; then the checkpoint (which lists the parts) is
//!   replaced atomically. A part the checkpoint does not list (a run killed between the two
//!   steps) is deleted at the next run, whose checkpoint still says those bytes are unread.
//! - **Metric files** (`resourceMetrics` in the first 4 KiB) are not split: cumulative counters
//!   become deltas over the points of one ingest, and a part starting mid-stream would count a
//!   counter's whole total again. Each run reads them whole (up to the last complete line).
//!   Files that are not JSON (OTLP protobuf, Parquet) are read whole on every run as well.

use super::JobsError;
use crate::ingest::dataset::{Codec, ParquetSink, MANIFEST_FILE};
use crate::ingest::driver::ingest_paths_with_progress;
use crate::ingest::IngestOptions;
use crate::model::hash::fnv1a64;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes of (decompressed) content a file's identity is taken from.
pub const FINGERPRINT_BYTES: usize = 4096;

/// What was read from one input file and where the next run starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheckpoint {
    /// Where the file was last seen (for people; matching is by fingerprint).
    pub path: PathBuf,
    /// [`fnv1a64`] of the first `fingerprint_len` bytes, hex.
    pub fingerprint: String,
    /// Bytes hashed: [`FINGERPRINT_BYTES`], or fewer for a file that was shorter.
    pub fingerprint_len: usize,
    /// Bytes of content read (always at a line boundary).
    pub consumed: u64,
}

/// A job's checkpoint file (`STATE/data/JOB/checkpoint.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The DATASET parts written so far, in order (directory names).
    pub parts: Vec<String>,
    /// One entry per input file still present at the last run.
    pub files: Vec<FileCheckpoint>,
}

/// The inputs of one run after the incremental step, and what it read.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// DATASET parts, metric-file copies and non-JSON files, for the pipeline.
    pub inputs: Vec<PathBuf>,
    /// Complete new lines read from span files in this run.
    pub new_lines: u64,
    /// Bytes of those lines.
    pub new_bytes: u64,
    /// Compressed files that could not be read yet (still being written).
    pub deferred_files: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JobsError + '_ {
    move |source| JobsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The content of `path`, decompressed when it starts with the gzip or zstd magic bytes.
fn open_content(path: &Path) -> Result<(Box<dyn Read>, bool), JobsError> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).map_err(io(path))?;
    f.seek(SeekFrom::Start(0)).map_err(io(path))?;
    Ok(if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        (Box::new(flate2::read::MultiGzDecoder::new(f)), true)
    } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        let d = zstd::stream::read::Decoder::new(f).map_err(io(path))?;
        (Box::new(d), true)
    } else {
        (Box::new(f), false)
    })
}

/// Reads up to `n` bytes (fewer only at the end of the content).
fn read_prefix(r: &mut dyn Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// How a file is read.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// OTLP/JSON spans (or any other JSON lines): incrementally.
    Lines,
    /// OTLP/JSON metrics: whole, every run.
    Metrics,
    /// Not JSON: handed to the pipeline as it is.
    Other,
}

fn kind_of(prefix: &[u8]) -> Kind {
    match prefix.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') if memchr::memmem::find(prefix, b"\"resourceMetrics\"").is_some() => {
            Kind::Metrics
        }
        Some(b'{') | None => Kind::Lines,
        Some(_) => Kind::Other,
    }
}

/// Copies the content of `r` after skipping `skip` bytes into `out`, up to the last newline
/// unless `to_end`; returns (bytes copied, lines copied).
fn copy_lines(
    r: &mut dyn Read,
    skip: u64,
    out: &mut File,
    to_end: bool,
) -> std::io::Result<(u64, u64)> {
    std::io::copy(&mut r.take(skip), &mut std::io::sink())?;
    let mut reader = BufReader::with_capacity(1 << 20, r);
    let (mut written, mut complete, mut lines, mut partial) = (0u64, 0u64, 0u64, false);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        out.write_all(buf)?;
        lines += memchr::memchr_iter(b'\n', buf).count() as u64;
        if let Some(last) = memchr::memrchr(b'\n', buf) {
            complete = written + last as u64 + 1;
            partial = last + 1 < n;
        } else {
            partial = true;
        }
        written += n as u64;
        reader.consume(n);
    }
    if to_end {
        return Ok((written, lines + u64::from(partial)));
    }
    out.set_len(complete)?;
    Ok((complete, lines))
}

/// Runs the incremental step of a job: reads what is new in `files` into a new part under
/// `dir` (the job's data directory), its Parquet files compressed with `codec`, and returns
/// the inputs the analysis reads.
pub fn prepare(dir: &Path, files: &[PathBuf], codec: Codec) -> Result<Prepared, JobsError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let cp_path = dir.join("checkpoint.json");
    let mut cp: Checkpoint = match std::fs::read(&cp_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| JobsError::Io {
            path: cp_path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
        Err(e) => return Err(io(&cp_path)(e)),
    };
    // Parts a killed run wrote after the last checkpoint, and staging leftovers.
    for e in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let listed = cp.parts.contains(&name);
        if e.path().is_dir() && !listed {
            std::fs::remove_dir_all(e.path()).map_err(io(&e.path()))?;
        }
    }
    let staging = dir.join("staging");
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let mut out = Prepared::default();
    let mut slices = Vec::new();
    let mut matched = vec![false; cp.files.len()];
    let mut whole = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let (mut r, compressed) = open_content(path)?;
        let prefix = match read_prefix(&mut r, FINGERPRINT_BYTES) {
            Ok(p) => p,
            Err(_) if compressed => {
                out.deferred_files += 1;
                continue;
            }
            Err(e) => return Err(io(path)(e)),
        };
        let kind = kind_of(&prefix);
        if kind == Kind::Other {
            out.inputs.push(path.clone());
            continue;
        }
        let (mut r, _) = open_content(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let slice = staging.join(format!(
            "{i:05}-{}.jsonl",
            crate::report::files::slug(&name)
        ));
        let mut f = File::create(&slice).map_err(io(&slice))?;
        if kind == Kind::Metrics {
            match copy_lines(&mut r, 0, &mut f, compressed) {
                Ok(_) => whole.push(slice),
                Err(_) if compressed => out.deferred_files += 1,
                Err(e) => return Err(io(path)(e)),
            }
            continue;
        }
        let entry = cp
            .files
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.fingerprint_len <= prefix.len()
                    && c.fingerprint_len > 0
                    && format!("{:016x}", fnv1a64(&prefix[..c.fingerprint_len])) == c.fingerprint
            })
            .max_by_key(|(_, c)| c.fingerprint_len)
            .map(|(k, _)| k);
        let skip = entry.map_or(0, |k| cp.files[k].consumed);
        let (bytes, lines) = match copy_lines(&mut r, skip, &mut f, compressed) {
            Ok(x) => x,
            Err(_) if compressed => {
                out.deferred_files += 1;
                continue;
            }
            Err(e) => return Err(io(path)(e)),
        };
        let updated = FileCheckpoint {
            path: path.clone(),
            fingerprint: format!("{:016x}", fnv1a64(&prefix)),
            fingerprint_len: prefix.len(),
            consumed: skip + bytes,
        };
        match entry {
            Some(k) => {
                cp.files[k] = updated;
                matched[k] = true;
            }
            None if !prefix.is_empty() => {
                cp.files.push(updated);
                matched.push(true);
            }
            None => {}
        }
        if bytes > 0 {
            out.new_bytes += bytes;
            out.new_lines += lines;
            slices.push(slice);
        }
    }
    // Entries of files gone from the globs (deleted by the collector's retention). Not while
    // a file was deferred: it may be the compressed rotation of an entry that is not matched
    // this run, and dropping the entry would read it again from the start.
    if out.deferred_files == 0 {
        let mut keep = matched.iter();
        cp.files.retain(|_| keep.next().copied().unwrap_or(false));
    }
    if !slices.is_empty() {
        let part = format!("part-{:06}", cp.parts.len() + 1);
        let tmp = dir.join(format!(".{part}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        let mut sink = ParquetSink::create(&tmp, codec)?;
        let opts = ParquetSink::ingest_options(IngestOptions::default());
        let quality = ingest_paths_with_progress(&slices, &opts, &mut sink, false)?;
        sink.finish(&quality)?;
        let dest = dir.join(&part);
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        cp.parts.push(part);
    }
    write_checkpoint(&cp_path, &cp)?;
    for s in &slices {
        let _ = std::fs::remove_file(s);
    }
    out.inputs.extend(cp.parts.iter().map(|p| dir.join(p)));
    out.inputs.extend(whole);
    Ok(out)
}

/// Drops the job's DATASET parts whose spans all ended before `cutoff_unix_nano` (from
/// their `dataset.json` time range; a part without one is kept) from the checkpoint and disk.
pub fn prune_parts(dir: &Path, cutoff_unix_nano: i64) -> Result<(), JobsError> {
    let cp_path = dir.join("checkpoint.json");
    let Ok(bytes) = std::fs::read(&cp_path) else {
        return Ok(());
    };
    let mut cp: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| JobsError::Io {
        path: cp_path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let ended = |part: &String| -> bool {
        let m = std::fs::read(dir.join(part).join(MANIFEST_FILE)).ok();
        let v: Option<serde_json::Value> = m.and_then(|b| serde_json::from_slice(&b).ok());
        v.and_then(|v| v["time_range"]["end_unix_nano"].as_i64())
            .is_some_and(|end| end < cutoff_unix_nano)
    };
    let (gone, kept): (Vec<String>, Vec<String>) = cp.parts.into_iter().partition(ended);
    if gone.is_empty() {
        return Ok(());
    }
    cp.parts = kept;
    write_checkpoint(&cp_path, &cp)?;
    for p in gone {
        let path = dir.join(p);
        std::fs::remove_dir_all(&path).map_err(io(&path))?;
    }
    Ok(())
}

/// Replaces the checkpoint file atomically.
fn write_checkpoint(path: &Path, cp: &Checkpoint) -> Result<(), JobsError> {
    let text = serde_json::to_vec_pretty(cp).map_err(|e| JobsError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    super::write_atomically(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_last_line_waits_unless_the_file_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        let mut f = File::create(&p).unwrap();
        let (bytes, lines) = copy_lines(&mut &b"skip\n{a}\n{b}\n{c"[..], 5, &mut f, false).unwrap();
        assert_eq!((bytes, lines), (8, 2));
        assert_eq!(std::fs::read(&p).unwrap(), b"{a}\n{b}\n");
        let mut f = File::create(&p).unwrap();
        let (bytes, lines) = copy_lines(&mut &b"{a}\n{c"[..], 0, &mut f, true).unwrap();
        assert_eq!((bytes, lines), (6, 2));
    }

    #[test]
    fn a_compressed_rotation_still_being_written_waits_and_keeps_its_checkpoint() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let live = dir.path().join("t.jsonl");
        let text = "{\"resourceSpans\":[]}\n".repeat(3);
        std::fs::write(&live, &text).unwrap();
        assert_eq!(
            prepare(&data, std::slice::from_ref(&live), Codec::default())
                .unwrap()
                .new_lines,
            3
        );
        // Rotation: the plain file is gone, its .gz is half written.
        std::fs::remove_file(&live).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let rotated = dir.path().join("t-1.jsonl.gz");
        std::fs::write(&rotated, &gz[..gz.len() - 12]).unwrap();
        let p = prepare(&data, std::slice::from_ref(&rotated), Codec::default()).unwrap();
        assert_eq!((p.new_lines, p.deferred_files), (0, 1));
        std::fs::write(&rotated, &gz).unwrap();
        let p = prepare(&data, &[rotated], Codec::default()).unwrap();
        assert_eq!((p.new_lines, p.deferred_files), (0, 0), "read twice");
    }

    #[test]
    fn kinds_follow_the_content() {
        assert_eq!(kind_of(br#"{"resourceSpans":[]}"#), Kind::Lines);
        assert_eq!(kind_of(br#" {"resourceMetrics":[]}"#), Kind::Metrics);
        assert_eq!(kind_of(b"PAR1\x00"), Kind::Other);
    }

    #[test]
    fn an_unlisted_part_is_dropped_and_its_lines_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let input = dir.path().join("t.jsonl");
        std::fs::write(&input, "{\"resourceSpans\":[]}\n").unwrap();
        let first = prepare(&data, std::slice::from_ref(&input), Codec::default()).unwrap();
        assert_eq!(first.new_lines, 1);
        // A run killed after writing its part but before its checkpoint:
        std::fs::create_dir_all(data.join("part-000002")).unwrap();
        std::fs::write(&input, "{\"resourceSpans\":[]}\n{\"resourceSpans\":[]}\n").unwrap();
        let second = prepare(&data, std::slice::from_ref(&input), Codec::default()).unwrap();
        assert_eq!(second.new_lines, 1);
        assert_eq!(
            second.inputs,
            vec![data.join("part-000001"), data.join("part-000002")]
        );
        let third = prepare(&data, &[input], Codec::default()).unwrap();
        assert_eq!((third.new_lines, third.inputs.len()), (0, 2));
    }
}
