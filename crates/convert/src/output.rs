//! Writing a converted dataset: everything goes into a hidden staging folder next to `--out`
//! (splits, side tables, vocabularies, extra files, then `cascade.json` last) and the folder is
//! renamed to `--out` only when complete, so an interrupted conversion leaves nothing that looks
//! like a finished dataset (a left-over staging folder is named `.NAME.converting-*`).

use crate::bad_rows::BadRows;
use crate::categorical::UNKNOWN_TOKEN;
use crate::dataset::Parts;
use crate::error::{ConvertError, Result};
use crate::split::{SplitSpec, UserTimes};
use cascade_data::{DatasetManifest, SplitInfo, manifest::MANIFEST_VERSION};
use cascade_mds::WriterOptions;
use serde_json::{Map, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where and how a dataset is written.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    /// The dataset folder to create.
    pub out: PathBuf,
    /// Replace an existing non-empty `out`.
    pub force: bool,
    /// Split rule.
    pub split: SplitSpec,
    /// Seed of random splits.
    pub seed: u64,
    /// Shard compression, hashes and size.
    pub writer: WriterOptions,
}

/// What a conversion produced.
#[derive(Debug, Clone)]
pub struct ConvertReport {
    /// The dataset folder.
    pub out: PathBuf,
    /// Rows converted into the main table (all splits).
    pub rows: u64,
    /// Samples per split.
    pub splits: BTreeMap<String, u64>,
    /// Malformed rows skipped (with `--skip-bad-rows`).
    pub bad_rows: BadRows,
    /// The manifest written.
    pub manifest: DatasetManifest,
}

/// Fails early when `out` exists and is not an empty folder, unless `force`.
pub fn check_out(out: &Path, force: bool) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(ConvertError::input(out, "--out exists and is not a folder"));
    }
    let mut entries = std::fs::read_dir(out).map_err(|e| ConvertError::io(out, e))?;
    if entries.next().is_some() && !force {
        return Err(ConvertError::input(
            out,
            "--out exists and is not empty (pass --force to replace it)",
        ));
    }
    Ok(())
}

/// Splits and writes `parts` as a dataset at `options.out`.
pub fn write(parts: Parts, options: &OutputOptions) -> Result<ConvertReport> {
    check_out(&options.out, options.force)?;
    let out = &options.out;
    let name = out
        .file_name()
        .ok_or_else(|| ConvertError::input(out, "--out has no folder name"))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| ConvertError::io(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.converting-"))
        .tempdir_in(&parent)
        .map_err(|e| ConvertError::io(&parent, e))?;
    let manifest = write_contents(&parts, options, staging.path())?;
    publish(staging.keep(), out)?;
    let rows = parts.table.rows() as u64;
    let splits = manifest
        .splits
        .iter()
        .map(|(n, s)| (n.clone(), s.samples))
        .collect();
    Ok(ConvertReport {
        out: out.clone(),
        rows,
        splits,
        bad_rows: parts.bad_rows,
        manifest,
    })
}

fn write_contents(parts: &Parts, options: &OutputOptions, root: &Path) -> Result<DatasetManifest> {
    let user_times = parts
        .user_times
        .as_ref()
        .map(|(users, timestamps)| UserTimes { users, timestamps });
    let assignment = options
        .split
        .assign(parts.table.rows(), options.seed, user_times)?;
    let mut splits = BTreeMap::new();
    for split in &assignment {
        let samples = parts
            .table
            .write(&root.join(&split.name), &split.rows, &options.writer)?;
        splits.insert(
            split.name.clone(),
            SplitInfo {
                path: split.name.clone(),
                samples,
            },
        );
    }
    let mut categoricals = parts.categoricals.clone();
    let mut extra = parts.extra.clone();
    let mut tables = Map::new();
    for side in &parts.side_tables {
        let path = format!("tables/{}", side.name);
        let all: Vec<usize> = (0..side.table.rows()).collect();
        let samples = side.table.write(&root.join(&path), &all, &options.writer)?;
        let sparse: Vec<_> = side
            .sparse
            .iter()
            .map(|s| categoricals.feature(&s.name, &s.column, &s.space, s.multi_hot))
            .collect();
        let mut entry = side.extra.clone();
        entry.insert("path".into(), json!(path));
        entry.insert("samples".into(), json!(samples));
        entry.insert(
            "sparse".into(),
            serde_json::to_value(sparse).unwrap_or_default(),
        );
        tables.insert(side.name.clone(), entry.into());
    }
    if !tables.is_empty() {
        extra.insert("tables".into(), tables.into());
    }
    for (path, contents) in &parts.files {
        write_file(&root.join(path), contents)?;
    }
    categoricals.save(root)?;
    let sparse = parts
        .sparse
        .iter()
        .map(|s| categoricals.feature(&s.name, &s.column, &s.space, s.multi_hot))
        .collect();
    extra.insert("split".into(), json!(options.split.describe(options.seed)));
    extra.insert("rows".into(), json!(parts.table.rows()));
    extra.insert("bad_rows_skipped".into(), json!(parts.bad_rows.count()));
    extra.insert("unknown_index".into(), json!(0));
    extra.insert("unknown_token".into(), json!(UNKNOWN_TOKEN));
    let manifest = DatasetManifest {
        version: MANIFEST_VERSION,
        source: parts.source.clone(),
        splits,
        label: parts.label.clone(),
        dense: parts.dense.clone(),
        sparse,
        extra,
    };
    manifest.save(root)?;
    Ok(manifest)
}

/// Writes `contents` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_file(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ConvertError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ConvertError::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, contents).map_err(|e| ConvertError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| ConvertError::io(path, e.error))?;
    Ok(())
}

/// Moves the finished staging folder to `out`, replacing an empty or (already allowed) existing
/// folder there.
fn publish(staging: PathBuf, out: &Path) -> Result<()> {
    let cleanup = |err: ConvertError| {
        let _ = std::fs::remove_dir_all(&staging);
        err
    };
    let mut replaced = None;
    if out.exists() {
        let aside = staging.with_file_name(format!(
            "{}.replaced",
            staging
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        std::fs::rename(out, &aside).map_err(|e| cleanup(ConvertError::io(out, e)))?;
        replaced = Some(aside);
    }
    std::fs::rename(&staging, out).map_err(|e| cleanup(ConvertError::io(out, e)))?;
    if let Some(aside) = replaced {
        std::fs::remove_dir_all(&aside).map_err(|e| ConvertError::io(&aside, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_empty_out_needs_force() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ds");
        check_out(&out, false).unwrap();
        std::fs::create_dir(&out).unwrap();
        check_out(&out, false).unwrap();
        std::fs::write(out.join("x"), "1").unwrap();
        let err = check_out(&out, false).unwrap_err().to_string();
        assert!(err.contains("not empty (pass --force"), "{err}");
        check_out(&out, true).unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "1").unwrap();
        assert!(check_out(&file, true).is_err());
    }

    #[test]
    fn publish_replaces_the_old_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ds");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("old"), "1").unwrap();
        let staging = dir.path().join(".ds.converting-x");
        std::fs::create_dir(&staging).unwrap();
        std::fs::write(staging.join("new"), "2").unwrap();
        publish(staging, &out).unwrap();
        assert!(out.join("new").exists() && !out.join("old").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
