//! The on-disk queue of what a run sends to MLflow, so that nothing is lost while the server is
//! slow or down, or the process dies.
//!
//! Every operation (a metric value, an artifact upload, a model registration, the final status)
//! is appended as one JSON line to `mlflow-queue.jsonl` before anything is sent. A cursor file,
//! `mlflow-queue.cursor`, records the byte offset up to which the server has acknowledged the
//! queue; it is rewritten atomically and only after a batch succeeded.
//!
//! Idempotence: a restarted sender resumes at the cursor, so nothing acknowledged is sent twice.
//! The one exception is the last batch whose request reached the server but whose answer was
//! lost (or whose cursor write was cut off by a crash): that batch — at most
//! [`MAX_BATCH_METRICS`] metric values — is sent again. This is harmless
//! because every operation is replayed with exactly its original content: a metric carries the
//! timestamp taken when it was logged, and MLflow's database store keeps one row per
//! (key, timestamp, step, value), dropping exact duplicates; artifact uploads overwrite the same
//! file; a registration first looks for a version this run already made; a status update sets
//! the same status.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrackError};
use crate::fsutil;
use crate::mlflow::{MAX_BATCH_METRICS, MlflowMetric};
use crate::summary::RunStatus;

/// One queued operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum QueueOp {
    /// A metric value.
    Metric(MlflowMetric),
    /// Upload a file or folder: `local` relative to the run folder, or absolute.
    Artifact {
        /// The file or folder.
        local: PathBuf,
        /// Where it goes among the run's artifacts.
        path: String,
    },
    /// Register the artifacts at `path` as a new version of model `name`, optionally aliased.
    RegisterModel {
        /// The registered model's name.
        name: String,
        /// The artifact path holding the model.
        path: String,
        /// An alias to point at the new version.
        alias: Option<String>,
    },
    /// Set the run's status.
    Status {
        /// The status.
        status: RunStatus,
        /// End time, unix ms, for a run that ended.
        end_time: Option<i64>,
    },
}

/// A contiguous piece of the queue read from the cursor: what to send, and where the cursor
/// goes once it is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch {
    /// Consecutive metric values (at most [`MAX_BATCH_METRICS`]).
    Metrics(Vec<MlflowMetric>),
    /// One other operation.
    Single(QueueOp),
}

/// The cursor file's contents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Bytes of the queue acknowledged by the server.
    pub offset: u64,
    /// Operations acknowledged.
    pub sent: u64,
}

/// Appends operations to a run's queue.
#[derive(Debug)]
pub struct QueueWriter {
    path: PathBuf,
    file: File,
}

impl QueueWriter {
    /// Opens the queue for appending, dropping a line a crash cut short.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self {
            file: fsutil::open_jsonl_append(path)?,
            path: path.to_path_buf(),
        })
    }

    /// Appends one operation and flushes it.
    pub fn push(&mut self, op: &QueueOp) -> Result<()> {
        fsutil::append_jsonl(&mut self.file, &self.path, op)
    }
}

/// Reads the queue from the cursor and advances the cursor.
#[derive(Debug)]
pub struct QueueReader {
    queue: PathBuf,
    cursor_path: PathBuf,
    cursor: Cursor,
}

impl QueueReader {
    /// Opens a queue and its cursor (a missing cursor means nothing was sent yet).
    pub fn open(queue: &Path, cursor_path: &Path) -> Result<Self> {
        let cursor = if cursor_path.exists() {
            fsutil::read_json(cursor_path)?
        } else {
            Cursor::default()
        };
        Ok(Self {
            queue: queue.to_path_buf(),
            cursor_path: cursor_path.to_path_buf(),
            cursor,
        })
    }

    /// Reads the next batch after the cursor, with the offset just past it; `None` when every
    /// complete line has been acknowledged.
    pub fn next_batch(&self) -> Result<Option<(Batch, u64, u64)>> {
        let file = match File::open(&self.queue) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(TrackError::Io {
                    context: format!("opening {}", self.queue.display()),
                    source: e,
                });
            }
        };
        let mut reader = BufReader::new(file);
        reader
            .seek(SeekFrom::Start(self.cursor.offset))
            .map_err(TrackError::io(format!("reading {}", self.queue.display())))?;
        let mut offset = self.cursor.offset;
        let mut metrics = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(TrackError::io(format!("reading {}", self.queue.display())))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break; // end of queue, or a line still being written
            }
            let op: QueueOp = serde_json::from_slice(&line).map_err(|e| TrackError::Corrupt {
                path: self.queue.clone(),
                message: format!("at byte {offset}: {e}"),
            })?;
            match op {
                QueueOp::Metric(m) => {
                    metrics.push(m);
                    offset += n as u64;
                    if metrics.len() == MAX_BATCH_METRICS {
                        break;
                    }
                }
                other if metrics.is_empty() => {
                    return Ok(Some((Batch::Single(other), offset + n as u64, 1)));
                }
                _ => break,
            }
        }
        if metrics.is_empty() {
            return Ok(None);
        }
        let count = metrics.len() as u64;
        Ok(Some((Batch::Metrics(metrics), offset, count)))
    }

    /// Records that everything up to `offset` (`ops` more operations) reached the server.
    pub fn advance(&mut self, offset: u64, ops: u64) -> Result<()> {
        let next = Cursor {
            offset,
            sent: self.cursor.sent + ops,
        };
        fsutil::write_json_atomic(&self.cursor_path, &next)?;
        self.cursor = next;
        Ok(())
    }

    /// How many complete operations wait after the cursor.
    pub fn pending(&self) -> Result<u64> {
        let bytes = match std::fs::read(&self.queue) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(TrackError::Io {
                    context: format!("reading {}", self.queue.display()),
                    source: e,
                });
            }
        };
        let start = (self.cursor.offset as usize).min(bytes.len());
        Ok(bytes[start..].iter().filter(|&&b| b == b'\n').count() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn metric(step: u64) -> QueueOp {
        QueueOp::Metric(MlflowMetric {
            key: "loss".into(),
            value: step as f64,
            timestamp: 1000 + step as i64,
            step,
        })
    }

    #[test]
    fn batches_metrics_and_splits_at_other_ops_and_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (q, c) = (dir.path().join("q.jsonl"), dir.path().join("q.cursor"));
        let mut w = QueueWriter::open(&q).unwrap();
        for s in 0..1500 {
            w.push(&metric(s)).unwrap();
        }
        w.push(&QueueOp::Status {
            status: RunStatus::Finished,
            end_time: Some(5),
        })
        .unwrap();
        w.push(&metric(1500)).unwrap();
        let mut r = QueueReader::open(&q, &c).unwrap();
        assert_eq!(r.pending().unwrap(), 1502);
        let mut sizes = Vec::new();
        while let Some((batch, offset, n)) = r.next_batch().unwrap() {
            sizes.push(match batch {
                Batch::Metrics(m) => m.len(),
                Batch::Single(QueueOp::Status { .. }) => 0,
                Batch::Single(_) => usize::MAX,
            });
            r.advance(offset, n).unwrap();
        }
        assert_eq!(sizes, vec![1000, 500, 0, 1]);
        assert_eq!(r.pending().unwrap(), 0);
        // A reopened reader resumes at the saved cursor.
        let saved: Cursor = fsutil::read_json(&c).unwrap();
        assert_eq!(saved.sent, 1502);
        let r2 = QueueReader::open(&q, &c).unwrap();
        assert!(r2.next_batch().unwrap().is_none());
    }

    #[test]
    fn a_line_cut_by_a_crash_is_neither_sent_nor_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (q, c) = (dir.path().join("q.jsonl"), dir.path().join("q.cursor"));
        QueueWriter::open(&q).unwrap().push(&metric(0)).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&q)
            .unwrap()
            .write_all(b"{\"op\":\"met")
            .unwrap();
        let r = QueueReader::open(&q, &c).unwrap();
        let (batch, _, n) = r.next_batch().unwrap().unwrap();
        assert_eq!(
            (batch, n),
            (
                Batch::Metrics(vec![match metric(0) {
                    QueueOp::Metric(m) => m,
                    _ => unreachable!(),
                }]),
                1
            )
        );
        let mut w = QueueWriter::open(&q).unwrap();
        w.push(&metric(1)).unwrap();
        let r = QueueReader::open(&q, &c).unwrap();
        match r.next_batch().unwrap().unwrap().0 {
            Batch::Metrics(m) => {
                assert_eq!(m.iter().map(|m| m.step).collect::<Vec<_>>(), vec![0, 1])
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
