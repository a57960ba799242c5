//! Item metadata shared by the MovieLens converters: release-year buckets, genre bags, and
//! `items.tsv`, the file the retrieval layer reads to print titles.
//!
//! `items.tsv` is UTF-8, tab-separated, with a header line naming `index`, `item_id`, `title`,
//! `year` and `genres`: the item's index (the `item_id` column's value), its raw id, its
//! title, its release year (empty when unknown) and its genres joined with `|`. Tabs and line breaks inside titles become spaces.

use serde_json::{Value as Json, json};

/// File name of the item metadata at the dataset root.
pub const ITEMS_FILE: &str = "items.tsv";

/// One item's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInfo {
    /// Index in the item vocabulary.
    pub index: i64,
    /// Raw item id as the source spells it.
    pub raw_id: String,
    /// Title.
    pub title: String,
    /// Release year, when known.
    pub year: Option<i64>,
    /// Genre names.
    pub genres: Vec<String>,
}

/// The release-year bucket of a sparse feature: the decade, e.g. `1990s`.
pub fn year_bucket(year: i64) -> String {
    format!("{}s", year.div_euclid(10) * 10)
}

/// The year in a MovieLens title's trailing parentheses, `Heat (1995)` → 1995.
pub fn year_from_title(title: &str) -> Option<i64> {
    let title = title.trim_end();
    let inner = title.strip_suffix(')')?;
    let split = inner.len().checked_sub(4)?;
    let (before, year) = (inner.get(..split)?, inner.get(split..)?);
    (before.ends_with('(') && year.bytes().all(|b| b.is_ascii_digit()))
        .then(|| year.parse().ok())?
}

/// The contents of `items.tsv`.
pub fn items_tsv(items: &[ItemInfo]) -> Vec<u8> {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut text = String::from("index\titem_id\ttitle\tyear\tgenres\n");
    for item in items {
        let year = item.year.map(|y| y.to_string()).unwrap_or_default();
        let genres = item
            .genres
            .iter()
            .map(|g| clean(g))
            .collect::<Vec<_>>()
            .join("|");
        text.push_str(&format!(
            "{}\t{}\t{}\t{year}\t{genres}\n",
            item.index,
            clean(&item.raw_id),
            clean(&item.title)
        ));
    }
    text.into_bytes()
}

/// The manifest's description of `items.tsv`.
pub fn items_extra(count: usize) -> Json {
    json!({
        "path": ITEMS_FILE,
        "items": count,
        "format": "UTF-8 TSV with header index, item_id, title, year, genres (joined with |); index is the item_id column's value",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_come_from_titles_and_bucket_by_decade() {
        assert_eq!(year_from_title("Heat (1995)"), Some(1995));
        assert_eq!(
            year_from_title("City of Lost Children, The (Cité des enfants perdus, La) (1995) "),
            Some(1995)
        );
        assert_eq!(year_from_title("Untitled"), None);
        assert_eq!(year_from_title("(19x5)"), None);
        assert_eq!(year_from_title("aé€)"), None);
        assert_eq!(year_bucket(1995), "1990s");
        assert_eq!(year_bucket(1922), "1920s");
    }

    #[test]
    fn tsv_has_a_header_and_clean_fields() {
        let items = [ItemInfo {
            index: 1,
            raw_id: "1".into(),
            title: "Misérables,\tLes (1995)".into(),
            year: Some(1995),
            genres: vec!["Drama".into(), "War".into()],
        }];
        let text = String::from_utf8(items_tsv(&items)).unwrap();
        assert_eq!(
            text,
            "index\titem_id\ttitle\tyear\tgenres\n1\t1\tMisérables, Les (1995)\t1995\tDrama|War\n"
        );
    }
}
