//! Writing a dataset folder safely: everything goes to a hidden temporary folder next to the
//! destination, which is renamed into place only when complete, so an interrupted run never
//! leaves a half-written dataset under the requested name.

use crate::error::{Result, SynthError};
use cascade_mds::{Column, MdsWriter, WriterOptions};
use std::path::{Path, PathBuf};

/// A dataset folder under construction.
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
    out: PathBuf,
}

impl Staging {
    /// Starts building the dataset that will live at `out`. An existing `out` must be an empty
    /// folder unless `replace` is set, in which case it is replaced when the new dataset is
    /// complete (the converters' rule).
    pub fn new(out: &Path, replace: bool) -> Result<Staging> {
        cascade_convert::output::check_out(out, replace)?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|source| SynthError::Io {
            path: parent.clone(),
            source,
        })?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{name}.partial-"))
            .tempdir_in(&parent)
            .map_err(|source| SynthError::Io {
                path: parent.clone(),
                source,
            })?;
        Ok(Staging {
            dir,
            out: out.to_path_buf(),
        })
    }

    /// The temporary folder to write into.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Moves the finished dataset to its destination (replacing an old one if allowed).
    pub fn commit(self) -> Result<PathBuf> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SynthError::Io { path, source }
        };
        let staged = self.dir.keep();
        if self.out.exists() {
            let old = tempfile::Builder::new()
                .prefix(".replaced-")
                .tempdir_in(staged.parent().unwrap_or(Path::new(".")))
                .map_err(io(&staged))?;
            let graveyard = old.path().join("old");
            std::fs::rename(&self.out, &graveyard).map_err(io(&self.out))?;
            std::fs::rename(&staged, &self.out).map_err(io(&self.out))?;
            drop(old);
        } else {
            std::fs::rename(&staged, &self.out).map_err(io(&self.out))?;
        }
        Ok(self.out)
    }
}

/// An MDS writer that also knows where each of the caller's columns is stored and how many
/// samples it has written.
pub struct SplitWriter {
    writer: MdsWriter,
    /// For each of the caller's columns (in the order given to `create`), its stored position.
    positions: Vec<usize>,
    samples: u64,
}

impl SplitWriter {
    /// Starts an MDS dataset in `dir` with `columns` (in any order; stored sorted by name).
    pub fn create(dir: &Path, columns: Vec<Column>, options: WriterOptions) -> Result<SplitWriter> {
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let writer = MdsWriter::create(dir, columns, options)?;
        let stored = writer.columns();
        let positions = names
            .iter()
            .map(|name| {
                stored
                    .iter()
                    .position(|c| c.name == *name)
                    .unwrap_or(usize::MAX)
            })
            .collect::<Vec<_>>();
        if positions.contains(&usize::MAX) || stored.len() != names.len() {
            return Err(SynthError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::other("the MDS writer did not keep the requested columns"),
            });
        }
        Ok(SplitWriter {
            writer,
            positions,
            samples: 0,
        })
    }

    /// The stored position of the caller's column `index`: where its bytes go in `write`.
    pub fn position(&self, index: usize) -> usize {
        self.positions[index]
    }

    /// Compresses and writes up to `shards` shards at once on background threads instead of in
    /// `write` (see [`MdsWriter::set_background_shards`]); the files are the same.
    pub fn set_background_shards(&mut self, shards: usize) {
        self.writer.set_background_shards(shards);
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.positions.len()
    }

    /// Appends one sample from its encoded column bytes in stored order.
    pub fn write(&mut self, stored: &[&[u8]]) -> Result<()> {
        self.writer.write_encoded(stored)?;
        self.samples += 1;
        Ok(())
    }

    /// Appends whole samples laid out back to back (columns in stored order), for datasets
    /// whose columns are all fixed-size: see [`MdsWriter::write_fixed_samples`].
    pub fn write_samples(&mut self, samples: &[u8]) -> Result<()> {
        let written = self.writer.write_fixed_samples(samples)?;
        self.samples += written as u64;
        Ok(())
    }

    /// The size of every sample when all columns are fixed-size, else `None`.
    pub fn fixed_sample_size(&self) -> Option<usize> {
        self.writer.fixed_sample_size()
    }

    /// Finishes the dataset and returns its sample count.
    pub fn finish(self) -> Result<u64> {
        self.writer.finish()?;
        Ok(self.samples)
    }
}
