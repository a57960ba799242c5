//! Small file-system primitives the run store is built on: atomic whole-file writes (temp file
//! then rename, so a reader or a crash never sees half a file) and append-only JSON-lines logs
//! whose last line may have been cut short by a crash.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, TrackError};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, synced, then
/// renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        TrackError::Io {
            context: format!("writing {}", path.display()),
            source: e,
        }
    })
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| TrackError::Corrupt {
        path: path.to_path_buf(),
        message: format!("cannot encode as JSON: {e}"),
    })?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Reads and parses a JSON file written by [`write_json_atomic`].
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        fs::read_to_string(path).map_err(TrackError::io(format!("reading {}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| TrackError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Opens a JSON-lines log for appending, first cutting off a last line a crash left without
/// its newline, so the next record starts on a line of its own.
pub fn open_jsonl_append(path: &Path) -> Result<File> {
    let context = || format!("opening {}", path.display());
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| TrackError::Io {
            context: context(),
            source: e,
        })?;
    let complete = complete_len(&mut file).map_err(|e| TrackError::Io {
        context: context(),
        source: e,
    })?;
    let len = file
        .metadata()
        .map_err(|e| TrackError::Io {
            context: context(),
            source: e,
        })?
        .len();
    if complete < len {
        file.set_len(complete).map_err(|e| TrackError::Io {
            context: context(),
            source: e,
        })?;
    }
    Ok(file)
}

/// The length of the file up to and including its last newline.
fn complete_len(file: &mut File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(pos) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + pos as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Appends one record as a single JSON line in one write, so a crash loses at most that line.
pub fn append_jsonl<T: Serialize>(file: &mut File, path: &Path, record: &T) -> Result<()> {
    let mut line = serde_json::to_vec(record).map_err(|e| TrackError::Corrupt {
        path: path.to_path_buf(),
        message: format!("cannot encode a record: {e}"),
    })?;
    line.push(b'\n');
    file.write_all(&line)
        .map_err(TrackError::io(format!("appending to {}", path.display())))?;
    file.flush()
        .map_err(TrackError::io(format!("flushing {}", path.display())))
}

/// Reads every complete line of a JSON-lines log (a missing file reads as empty; a last line
/// without its newline, cut by a crash, is left out).
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TrackError::Io {
                context: format!("reading {}", path.display()),
                source: e,
            });
        }
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let mut out = Vec::new();
    for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        out.push(
            serde_json::from_slice(line).map_err(|e| TrackError::Corrupt {
                path: path.to_path_buf(),
                message: format!("line {}: {e}", i + 1),
            })?,
        );
    }
    Ok(out)
}
