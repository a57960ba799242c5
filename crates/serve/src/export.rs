//! Exported embeddings: every user's and every item's vector from a two-tower run, with its raw
//! id, for vector stores and other tools.
//!
//! ```text
//! OUT/users.parquet, OUT/items.parquet   id (utf8, the raw id), index (uint64, the model's),
//!                                        embedding (fixed_size_list<float32, D>)
//! OUT/users/, OUT/items/                 the same as MDS datasets (id str, index int,
//!                                        embedding ndarray:float32:D), readable by Mosaic
//! OUT/embeddings.json                    width, score, counts, the item matrix's fingerprint
//! ```
//!
//! The vectors are the ones retrieval ranks by (normalised when the model scores by cosine),
//! so an inner-product search over them ranks as the model does. The folder is written
//! elsewhere and renamed into place: it is complete or absent.

use crate::error::{Result, ServeError};
use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use cascade_mds::{Column, Encoding, MdsWriter, NdArray, Value, WriterOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One side's vectors: raw ids, model indices and the row-major `len x dim` matrix.
#[derive(Debug, Clone)]
pub struct EmbeddingTable {
    /// Raw ids, as the dataset wrote them.
    pub ids: Vec<String>,
    /// The model's index of each.
    pub indices: Vec<u64>,
    /// Vector width.
    pub dim: usize,
    /// The vectors, row-major.
    pub values: Vec<f32>,
}

/// What [`write_export`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    /// The export folder.
    pub out: PathBuf,
    /// Users exported.
    pub users: usize,
    /// Items exported.
    pub items: usize,
    /// Vector width.
    pub dim: usize,
    /// Fingerprint of the item matrix (indexes built from it carry the same).
    pub fingerprint: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ServeError + '_ {
    move |source| ServeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `users` and `items` into the folder `out` (replacing it), with `score` (the metric
/// name) and `fingerprint` in `embeddings.json`.
pub fn write_export(
    out: &Path,
    users: &EmbeddingTable,
    items: &EmbeddingTable,
    score: &str,
    fingerprint: &str,
) -> Result<ExportSummary> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let name = out
        .file_name()
        .map_or("embeddings".into(), |n| n.to_string_lossy().into_owned());
    let staging = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let written = (|| -> Result<()> {
        for (side, table) in [("users", users), ("items", items)] {
            write_parquet(&staging.join(format!("{side}.parquet")), table)?;
            write_mds(&staging.join(side), table)?;
        }
        let meta = serde_json::json!({
            "format": "cascade-embeddings",
            "version": 1,
            "dim": items.dim,
            "score": score,
            "users": users.ids.len(),
            "items": items.ids.len(),
            "item_fingerprint": fingerprint,
        });
        let path = staging.join("embeddings.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap_or_default())
            .map_err(io(&path))
    })();
    if let Err(e) = written {
        // The staging folder is garbage after a failure; the error that matters is `e`.
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(io(out))?;
    }
    std::fs::rename(&staging, out).map_err(io(out))?;
    Ok(ExportSummary {
        out: out.to_path_buf(),
        users: users.ids.len(),
        items: items.ids.len(),
        dim: items.dim,
        fingerprint: fingerprint.to_string(),
    })
}

/// One Parquet file of `table`.
fn write_parquet(path: &Path, table: &EmbeddingTable) -> Result<()> {
    let parquet_err = |e: String| ServeError::Invalid(format!("writing {}: {e}", path.display()));
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let dim = i32::try_from(table.dim).map_err(|e| parquet_err(e.to_string()))?;
    let vectors = FixedSizeListArray::try_new(
        item.clone(),
        dim,
        Arc::new(Float32Array::from(table.values.clone())),
        None,
    )
    .map_err(|e| parquet_err(e.to_string()))?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("index", DataType::UInt64, false),
        Field::new("embedding", DataType::FixedSizeList(item, dim), false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(table.ids.clone())),
        Arc::new(UInt64Array::from(table.indices.clone())),
        Arc::new(vectors),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| parquet_err(e.to_string()))?;
    let file = std::fs::File::create(path).map_err(io(path))?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None)
        .map_err(|e| parquet_err(e.to_string()))?;
    writer
        .write(&batch)
        .map_err(|e| parquet_err(e.to_string()))?;
    writer.close().map_err(|e| parquet_err(e.to_string()))?;
    Ok(())
}

/// Writes every user's recommendations as one Parquet file (user_id, rank, item_id, title,
/// retrieval_score, ranking_score), through a temporary file renamed into place.
pub fn write_recommendations_parquet(
    path: &Path,
    all: &[(String, Vec<crate::Recommendation>)],
) -> Result<()> {
    let parquet_err = |e: String| ServeError::Invalid(format!("writing {}: {e}", path.display()));
    let rows = all
        .iter()
        .flat_map(|(u, items)| items.iter().map(move |r| (u, r)));
    let (mut users, mut ranks, mut items, mut titles, mut scores, mut ranking) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (user, r) in rows {
        users.push(user.as_str());
        ranks.push(r.rank as u64);
        items.push(r.item_id.as_str());
        titles.push(r.title.as_deref());
        scores.push(r.retrieval_score);
        ranking.push(r.ranking_score);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("rank", DataType::UInt64, false),
        Field::new("item_id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, true),
        Field::new("retrieval_score", DataType::Float32, false),
        Field::new("ranking_score", DataType::Float32, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(users)),
        Arc::new(UInt64Array::from(ranks)),
        Arc::new(StringArray::from(items)),
        Arc::new(StringArray::from(titles)),
        Arc::new(Float32Array::from(scores)),
        Arc::new(Float32Array::from(ranking)),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| parquet_err(e.to_string()))?;
    let mut tmp = path.to_path_buf();
    tmp.as_mut_os_string().push(".tmp");
    let written = (|| -> Result<()> {
        let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None)
            .map_err(|e| parquet_err(e.to_string()))?;
        writer
            .write(&batch)
            .map_err(|e| parquet_err(e.to_string()))?;
        writer.close().map_err(|e| parquet_err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    })();
    if written.is_err() {
        // The temporary file is garbage after a failure; the error that matters is returned.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// One MDS dataset of `table`.
fn write_mds(dir: &Path, table: &EmbeddingTable) -> Result<()> {
    let mds_err =
        |e: cascade_mds::MdsError| ServeError::Invalid(format!("writing {}: {e}", dir.display()));
    let columns = vec![
        Column {
            name: "embedding".into(),
            encoding: Encoding::parse(&format!("ndarray:float32:{}", table.dim))
                .map_err(mds_err)?,
        },
        Column {
            name: "id".into(),
            encoding: Encoding::Str,
        },
        Column {
            name: "index".into(),
            encoding: Encoding::Int,
        },
    ];
    let mut writer = MdsWriter::create(dir, columns, WriterOptions::default()).map_err(mds_err)?;
    for (row, (id, &index)) in table.ids.iter().zip(&table.indices).enumerate() {
        let vector = &table.values[row * table.dim..(row + 1) * table.dim];
        writer
            .write(&[
                Value::Array(NdArray::from_f32(vector)),
                Value::Str(id.clone()),
                Value::Int(index as i64),
            ])
            .map_err(mds_err)?;
    }
    writer.finish().map_err(mds_err)?;
    Ok(())
}
