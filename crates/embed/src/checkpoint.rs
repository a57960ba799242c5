//! Saving and loading a collection's tables and optimizer state.
//!
//! The format is a little-endian binary file: a header, then each table's rows and state.
//!
//! ```text
//! magic "CASCEMB\0" | version u32 | optimizer tag u8 | optimizer step u64 | table count u32
//! per table:  name length u32 | name (UTF-8) | rows u64 | dim u32 | storage tag u8 | state values per row u32
//! per table:  rows in their storage encoding | rows * state values per row f32
//! ```
//!
//! A checkpoint is written to a temporary file beside the target and renamed over it, so a
//! crash never leaves a half-written checkpoint under the real name. Loading checks the whole
//! header against the collection, and the file length against the header, before it changes
//! anything; a mismatch is an error naming the table. Hyper-parameters are not stored: they
//! come from the configuration, so a run may resume with, say, a new learning rate.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::collection::EmbeddingCollection;
use crate::error::{EmbedError, Result};
use crate::optim::Optimizer;
use crate::storage::{Storage, read_f32s, write_f32s};

const MAGIC: &[u8; 8] = b"CASCEMB\0";
const VERSION: u32 = 1;
/// Longest table name a checkpoint may declare; guards against allocating for a corrupt length.
const MAX_NAME_BYTES: u32 = 1 << 16;

/// One table's entry in the checkpoint header.
#[derive(Debug, PartialEq)]
pub(crate) struct TableHeader {
    pub(crate) name: String,
    pub(crate) rows: u64,
    pub(crate) dim: u32,
    pub(crate) storage: u8,
    pub(crate) state_per_row: u32,
}

impl TableHeader {
    fn describe(&self) -> String {
        let storage = match Storage::from_tag(self.storage) {
            Some(s) => format!("{s:?}").to_lowercase(),
            None => format!("unknown storage {}", self.storage),
        };
        format!("{} x {} {storage} rows", self.rows, self.dim)
    }

    /// How this header (of a checkpoint) differs from `want` (of a collection).
    pub(crate) fn difference(&self, want: &TableHeader) -> String {
        if self.state_per_row != want.state_per_row {
            format!(
                "{} optimizer state values per row in the checkpoint, {} in the collection",
                self.state_per_row, want.state_per_row
            )
        } else {
            format!(
                "the checkpoint holds {}, the collection {}",
                self.describe(),
                want.describe()
            )
        }
    }

    /// Bytes of this table's body.
    pub(crate) fn body_bytes(&self) -> Option<u64> {
        let storage = Storage::from_tag(self.storage)?;
        let params = storage.bytes(self.rows, self.dim as usize);
        let state = self
            .rows
            .checked_mul(u64::from(self.state_per_row))?
            .checked_mul(4)?;
        params.checked_add(state)
    }
}

impl EmbeddingCollection {
    pub(crate) fn headers(&self) -> Vec<TableHeader> {
        self.tables
            .iter()
            .map(|t| TableHeader {
                name: t.name().to_string(),
                rows: t.rows(),
                dim: t.dim() as u32,
                storage: t.config().storage.tag(),
                state_per_row: t.state_per_row() as u32,
            })
            .collect()
    }

    /// Writes every table's rows and optimizer state, and the optimizer step, to `path`,
    /// atomically (through a temporary file renamed over it).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let io = |source| EmbedError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let write = || -> std::io::Result<()> {
            let file = File::create(&tmp)?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            w.write_all(MAGIC)?;
            w.write_all(&VERSION.to_le_bytes())?;
            w.write_all(&[self.optimizer.tag()])?;
            w.write_all(&self.step.to_le_bytes())?;
            w.write_all(&(self.tables.len() as u32).to_le_bytes())?;
            for h in self.headers() {
                w.write_all(&(h.name.len() as u32).to_le_bytes())?;
                w.write_all(h.name.as_bytes())?;
                w.write_all(&h.rows.to_le_bytes())?;
                w.write_all(&h.dim.to_le_bytes())?;
                w.write_all(&[h.storage])?;
                w.write_all(&h.state_per_row.to_le_bytes())?;
            }
            for table in &self.tables {
                table.store.save(&mut w)?;
                write_f32s(&mut w, &table.state)?;
            }
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            // Best effort: the temporary file is garbage now; the real error is `e`.
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// Replaces every table's rows and optimizer state, and the optimizer step, with those
    /// saved in `path`. The checkpoint must hold the same tables (names, order, shapes,
    /// storage) and the same kind of optimizer; otherwise nothing changes and the error names
    /// the first table that differs.
    pub fn load(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (mut r, file) = open(path)?;
        let bad = |reason: String| EmbedError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        self.check_optimizer(path, file.optimizer_tag)?;
        let expected = self.headers();
        if file.tables.len() != expected.len() {
            return Err(bad(format!(
                "it holds {} tables, but the collection has {}",
                file.tables.len(),
                expected.len()
            )));
        }
        for (i, (found, want)) in file.tables.iter().zip(&expected).enumerate() {
            if found.name != want.name {
                return Err(bad(format!(
                    "table #{i} is '{}' in the checkpoint but '{}' in the collection",
                    found.name, want.name
                )));
            }
            if found != want {
                return Err(bad(format!(
                    "table '{}': {}",
                    want.name,
                    found.difference(want)
                )));
            }
        }
        let io = io_error(path);
        for table in &mut self.tables {
            table.store.load(&mut r).map_err(&io)?;
            read_f32s(&mut r, &mut table.state).map_err(&io)?;
        }
        self.step = file.step;
        Ok(())
    }

    /// Fails unless a checkpoint's optimizer tag is this collection's optimizer's.
    pub(crate) fn check_optimizer(&self, path: &Path, tag: u8) -> Result<()> {
        if tag == self.optimizer.tag() {
            return Ok(());
        }
        Err(EmbedError::Checkpoint {
            path: path.to_path_buf(),
            reason: format!(
                "it holds {} state, but the collection uses {}",
                Optimizer::tag_name(tag),
                Optimizer::tag_name(self.optimizer.tag())
            ),
        })
    }
}

/// What a checkpoint file's header says: the optimizer, its step, and the tables in order.
pub(crate) struct FileHeader {
    pub(crate) optimizer_tag: u8,
    pub(crate) step: u64,
    pub(crate) tables: Vec<TableHeader>,
}

/// The error of an I/O failure on the checkpoint file `path`.
pub(crate) fn io_error(path: &Path) -> impl Fn(std::io::Error) -> EmbedError + '_ {
    |source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens the checkpoint file `path` and reads its header, checking the magic bytes, the
/// version, every table header and the file's length against what the header describes;
/// returns the reader, positioned at the first table's body, and the header.
pub(crate) fn open(path: &Path) -> Result<(CountingReader<BufReader<File>>, FileHeader)> {
    let io = io_error(path);
    let bad = |reason: String| EmbedError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(&io)?;
    let file_len = file.metadata().map_err(&io)?.len();
    let mut r = CountingReader {
        inner: BufReader::with_capacity(1 << 20, file),
        read: 0,
    };
    let magic: [u8; 8] = r.array().map_err(&io)?;
    if &magic != MAGIC {
        return Err(bad("not an embedding checkpoint (wrong magic bytes)".into()));
    }
    let version = u32::from_le_bytes(r.array().map_err(&io)?);
    if version != VERSION {
        return Err(bad(format!(
            "format version {version}; this build reads version {VERSION}"
        )));
    }
    let [optimizer_tag] = r.array().map_err(&io)?;
    let step = u64::from_le_bytes(r.array().map_err(&io)?);
    let count = u32::from_le_bytes(r.array().map_err(&io)?);
    let mut tables = Vec::new();
    let mut body_bytes = 0u64;
    for i in 0..count {
        let found = read_table_header(&mut r).map_err(&io)?;
        let found = found.ok_or_else(|| bad(format!("table #{i} has a corrupt name")))?;
        body_bytes = body_bytes.saturating_add(found.body_bytes().unwrap_or(u64::MAX));
        tables.push(found);
    }
    let total = r.read.saturating_add(body_bytes);
    if total != file_len {
        return Err(bad(format!(
            "the header describes {total} bytes but the file has {file_len} (truncated or corrupt)"
        )));
    }
    Ok((
        r,
        FileHeader {
            optimizer_tag,
            step,
            tables,
        },
    ))
}

/// A reader that counts the bytes read through it, to locate the end of the header.
pub(crate) struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> CountingReader<R> {
    fn array<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        let mut a = [0u8; N];
        self.read_exact(&mut a)?;
        Ok(a)
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Reads one table header; `None` when its name is too long or not UTF-8.
fn read_table_header<R: Read>(r: &mut CountingReader<R>) -> std::io::Result<Option<TableHeader>> {
    let len = u32::from_le_bytes(r.array()?);
    if len > MAX_NAME_BYTES {
        return Ok(None);
    }
    let mut name = vec![0u8; len as usize];
    r.read_exact(&mut name)?;
    let Ok(name) = String::from_utf8(name) else {
        return Ok(None);
    };
    Ok(Some(TableHeader {
        name,
        rows: u64::from_le_bytes(r.array()?),
        dim: u32::from_le_bytes(r.array()?),
        storage: u8::from_le_bytes(r.array()?),
        state_per_row: u32::from_le_bytes(r.array()?),
    }))
}
