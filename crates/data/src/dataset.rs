//! A streaming dataset: one MDS dataset (a split), local or remote, opened once and read any
//! number of times as shuffled, partitioned, resumable batches.

use crate::batch::BatchSpec;
use crate::cache::ShardCache;
use crate::error::Result;
use crate::manifest::{DatasetManifest, MANIFEST_FILE};
use crate::order::ShuffleConfig;
use crate::reader::{Assemble, BatchReader, RawSamples, Reader, ReaderConfig, SampleReader};
use crate::source::{OpenOptions, Source, join_location};
use crate::state::ResumeState;
use cascade_mds::{Column, Index};
use std::path::PathBuf;
use std::sync::Arc;

/// An opened MDS dataset: its index, columns and where its shards come from.
#[derive(Debug)]
pub struct StreamingDataset {
    source: Arc<Source>,
    location: String,
    index: Arc<Index>,
    columns: Vec<Column>,
}

impl StreamingDataset {
    /// Opens the MDS dataset at `location`: a folder path, a `file://` URL, or a remote URL
    /// (`s3://`, `gs://`, `az://`, `http(s)://`), whose `index.json` is read right away.
    pub fn open(location: &str, options: &OpenOptions) -> Result<StreamingDataset> {
        let source = Source::open(location, options)?;
        let text = source.read("index.json")?;
        let index = Index::parse(&PathBuf::from(source.name_of("index.json")), &text)?;
        let columns = index.columns()?;
        Ok(StreamingDataset {
            source: Arc::new(source),
            location: location.to_string(),
            index: Arc::new(index),
            columns,
        })
    }

    /// Opens split `split` of the Cascade dataset at `root` (a folder or URL holding
    /// `cascade.json`); returns the manifest too, for [`batch_spec`](Self::batch_spec).
    pub fn open_split(
        root: &str,
        split: &str,
        options: &OpenOptions,
    ) -> Result<(DatasetManifest, StreamingDataset)> {
        // Only the manifest is read from the root: no shard cache needed.
        let root_source = Source::open(
            root,
            &OpenOptions {
                cache: None,
                ..options.clone()
            },
        )?;
        let manifest_name = root_source.name_of(MANIFEST_FILE);
        let text = root_source.read(MANIFEST_FILE)?;
        let manifest = DatasetManifest::parse(&PathBuf::from(&manifest_name), &text)?;
        let dir = manifest.split_dir(std::path::Path::new(""), split)?;
        let location = join_location(root, &dir.to_string_lossy());
        let dataset = StreamingDataset::open(&location, options)?;
        Ok((manifest, dataset))
    }

    /// Where the dataset was opened from.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Samples in the dataset.
    pub fn len(&self) -> u64 {
        self.index.num_samples()
    }

    /// True when the dataset holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The columns, in index order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The dataset's index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The shard cache, for remote datasets.
    pub fn cache(&self) -> Option<&ShardCache> {
        self.source.cache()
    }

    /// How `manifest`'s features are read from this dataset's columns.
    pub fn batch_spec(&self, manifest: &DatasetManifest) -> Result<BatchSpec> {
        BatchSpec::new(manifest, &self.columns, &self.location)
    }

    /// The state at the start of `epoch` with `shuffle` settings.
    pub fn start_state(&self, shuffle: ShuffleConfig, epoch: u64) -> ResumeState {
        ResumeState::start(shuffle, self.len(), epoch)
    }

    /// Reads the rest of `state`'s epoch as batches on this rank.
    pub fn batches(
        &self,
        spec: &BatchSpec,
        config: &ReaderConfig,
        state: &ResumeState,
    ) -> Result<BatchReader> {
        self.read(spec.clone(), config, state)
    }

    /// Reads the rest of `state`'s epoch as decoded samples on this rank, a batch at a time.
    pub fn samples(&self, config: &ReaderConfig, state: &ResumeState) -> Result<SampleReader> {
        self.read(
            RawSamples {
                columns: self.columns.clone(),
            },
            config,
            state,
        )
    }

    /// Reads the rest of `state`'s epoch through any [`Assemble`]r.
    pub fn read<A: Assemble>(
        &self,
        assembler: A,
        config: &ReaderConfig,
        state: &ResumeState,
    ) -> Result<Reader<A>> {
        Reader::start(
            self.source.clone(),
            self.index.clone(),
            assembler,
            config,
            state,
        )
    }
}
