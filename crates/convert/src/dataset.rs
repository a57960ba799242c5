//! What every format's converter hands to the writer: the main table with its features, what a
//! per-user split needs, side tables and files, vocabularies, and facts for the manifest.

use crate::bad_rows::BadRows;
use crate::categorical::Categoricals;
use crate::label::LabelRule;
use crate::table::{ColumnValues, Table};
use cascade_data::DenseFeature;
use serde_json::{Map, Value as Json, json};

/// A sparse feature whose cardinality is read from its vocabulary once every row is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSparse {
    /// Feature name (batch key).
    pub name: String,
    /// MDS column.
    pub column: String,
    /// Vocabulary (or hash space) name, `vocab/SPACE.txt`.
    pub space: String,
    /// True for a bag column.
    pub multi_hot: bool,
}

impl PendingSparse {
    /// A feature named like its column.
    pub fn new(column: &str, space: &str, multi_hot: bool) -> PendingSparse {
        PendingSparse {
            name: column.into(),
            column: column.into(),
            space: space.into(),
            multi_hot,
        }
    }
}

/// A table stored beside the splits (e.g. Learning-from-Sets' set ratings when item ratings are
/// the main interactions), not split, written to `tables/NAME`.
#[derive(Debug, Clone)]
pub struct SideTable {
    /// Table name (folder under `tables/`).
    pub name: String,
    /// Its rows.
    pub table: Table,
    /// Its sparse features (sharing the main table's vocabularies).
    pub sparse: Vec<PendingSparse>,
    /// Facts recorded with it in the manifest.
    pub extra: Map<String, Json>,
}

/// A converted dataset, ready to split and write.
#[derive(Debug)]
pub struct Parts {
    /// Format name recorded as the manifest's `source`.
    pub source: String,
    /// The rows that are split into `train`/`val`/`test`.
    pub table: Table,
    /// Per-row user index and timestamp, when the format has them (needed by `leave-last`).
    pub user_times: Option<(Vec<i64>, Vec<i64>)>,
    /// Label column, if any.
    pub label: Option<String>,
    /// Dense features.
    pub dense: Vec<DenseFeature>,
    /// Sparse features of the main table.
    pub sparse: Vec<PendingSparse>,
    /// Tables stored beside the splits.
    pub side_tables: Vec<SideTable>,
    /// Extra files at the dataset root: relative path and contents.
    pub files: Vec<(String, Vec<u8>)>,
    /// Every vocabulary.
    pub categoricals: Categoricals,
    /// Rows skipped as malformed.
    pub bad_rows: BadRows,
    /// Source-specific facts for the manifest.
    pub extra: Map<String, Json>,
}

/// Rating interactions (user, item, rating, time), indexed through vocabularies `user` and
/// `item`, as the MovieLens and Learning-from-Sets converters collect them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interactions {
    /// User index per row.
    pub users: Vec<i64>,
    /// Item index per row.
    pub items: Vec<i64>,
    /// Raw rating per row.
    pub ratings: Vec<f32>,
    /// Unix seconds per row.
    pub timestamps: Vec<i64>,
}

impl Interactions {
    /// Appends one interaction.
    pub fn push(&mut self, user: i64, item: i64, rating: f32, timestamp: i64) {
        self.users.push(user);
        self.items.push(item);
        self.ratings.push(rating);
        self.timestamps.push(timestamp);
    }

    /// Number of interactions.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The table `user_id`, `item_id`, `rating`, `label`, `timestamp`, with the label facts
    /// recorded in `extra`.
    pub fn into_table(
        self,
        rule: LabelRule,
        extra: &mut Map<String, Json>,
    ) -> (Table, (Vec<i64>, Vec<i64>)) {
        let mut table = Table::new(self.len());
        label_columns(&mut table, &self.ratings, rule, extra);
        table.add("user_id", ColumnValues::Int(self.users.clone()));
        table.add("item_id", ColumnValues::Int(self.items));
        table.add("timestamp", ColumnValues::Int(self.timestamps.clone()));
        (table, (self.users, self.timestamps))
    }
}

/// Adds `rating` (raw) and `label` (by `rule`) to `table` and records the rule, threshold, mean
/// rating and positive count in `extra`.
pub fn label_columns(
    table: &mut Table,
    ratings: &[f32],
    rule: LabelRule,
    extra: &mut Map<String, Json>,
) {
    let labels = rule.apply(ratings);
    extra.insert("label_rule".into(), json!(rule.describe()));
    extra.insert("label_threshold".into(), json!(labels.threshold));
    if let Some(mean) = labels.mean_rating {
        extra.insert("mean_rating".into(), json!(mean));
    }
    extra.insert("positives".into(), json!(labels.positives));
    table.add("rating", ColumnValues::Float(ratings.to_vec()));
    table.add("label", ColumnValues::Int(labels.values));
}

/// The standard features of rating interactions: `user_id` and `item_id`.
pub fn interaction_features() -> Vec<PendingSparse> {
    vec![
        PendingSparse::new("user_id", "user", false),
        PendingSparse::new("item_id", "item", false),
    ]
}

/// Number of distinct ids in `ids`.
pub fn distinct(ids: &[i64]) -> usize {
    ids.iter().collect::<std::collections::HashSet<_>>().len()
}
