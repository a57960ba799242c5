//! Exclusions: items a query must never be shown. A recommender excludes what each user has
//! already seen (one list per query, in compressed-sparse-row form) and a global list (items
//! withdrawn from the catalogue). Both indexes apply exclusions *during* selection, so filtered
//! items never appear and the result still holds K items whenever K eligible items remain.

use crate::error::{Result, RetrieveError};

/// Items excluded for a batch of queries: a global set plus optional per-query seen lists.
#[derive(Clone, Debug)]
pub struct Exclusions {
    item_count: usize,
    global: Vec<u64>,
    seen_offsets: Vec<usize>,
    seen_items: Vec<u32>,
}

impl Exclusions {
    /// No exclusions yet, for an index over `item_count` items.
    pub fn new(item_count: usize) -> Self {
        Self {
            item_count,
            global: vec![0; item_count.div_ceil(64)],
            seen_offsets: Vec::new(),
            seen_items: Vec::new(),
        }
    }

    /// Excludes `items` for every query. Refuses indices not below the item count.
    pub fn exclude_everywhere(mut self, items: &[u32]) -> Result<Self> {
        for &item in items {
            self.check_item(item, || "global exclusion list".to_string())?;
            self.global[item as usize / 64] |= 1 << (item % 64);
        }
        Ok(self)
    }

    /// Sets the per-query seen lists in CSR form: query `q` excludes
    /// `items[offsets[q]..offsets[q + 1]]`. `offsets` must start at 0, never decrease and end at
    /// `items.len()`; the number of queries searched must then be `offsets.len() - 1`.
    pub fn with_seen(mut self, offsets: Vec<usize>, mut items: Vec<u32>) -> Result<Self> {
        if offsets.first() != Some(&0) || offsets.last() != Some(&items.len()) {
            return Err(RetrieveError::shape(
                "seen-items offsets",
                format!(
                    "must start at 0 and end at the number of seen items ({}); got {} offsets",
                    items.len(),
                    offsets.len()
                ),
            ));
        }
        for (query, bounds) in offsets.windows(2).enumerate() {
            if bounds[0] > bounds[1] {
                return Err(RetrieveError::shape(
                    "seen-items offsets",
                    format!("offset {} is below offset {query}", query + 1),
                ));
            }
            let row = &mut items[bounds[0]..bounds[1]];
            for &item in row.iter() {
                self.check_item(item, || format!("seen list of query {query}"))?;
            }
            row.sort_unstable();
        }
        self.seen_offsets = offsets;
        self.seen_items = items;
        Ok(self)
    }

    /// The number of items these exclusions were made for.
    pub fn item_count(&self) -> usize {
        self.item_count
    }

    /// How many queries have seen lists, if any were given.
    pub fn seen_queries(&self) -> Option<usize> {
        self.seen_offsets.len().checked_sub(1)
    }

    /// At most how many items query `query` excludes (the global list plus its seen list; an
    /// item on both counts twice): what an index that filters after fetching must fetch extra.
    pub fn excluded_at_most(&self, query: usize) -> usize {
        let global: usize = self.global.iter().map(|w| w.count_ones() as usize).sum();
        let seen = match self.seen_offsets.get(query..query + 2) {
            Some(&[start, end]) => end - start,
            _ => 0,
        };
        global + seen
    }

    /// Whether `item` must not be returned to query `query`.
    #[inline]
    pub fn excludes(&self, query: usize, item: u32) -> bool {
        let word = self.global[item as usize / 64];
        if word & (1 << (item % 64)) != 0 {
            return true;
        }
        match self.seen_offsets.get(query..query + 2) {
            Some(&[start, end]) => self.seen_items[start..end].binary_search(&item).is_ok(),
            _ => false,
        }
    }

    /// Checks that these exclusions fit a search of `queries` queries over `item_count` items.
    pub(crate) fn check_fits(&self, queries: usize, item_count: usize) -> Result<()> {
        if self.item_count != item_count {
            return Err(RetrieveError::shape(
                "exclusions",
                format!(
                    "made for {} items but the index holds {item_count}",
                    self.item_count
                ),
            ));
        }
        match self.seen_queries() {
            Some(lists) if lists != queries => Err(RetrieveError::shape(
                "seen-items lists",
                format!("{lists} lists for {queries} queries"),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses an item index not below the item count; `what` names where it came from.
    fn check_item(&self, item: u32, what: impl FnOnce() -> String) -> Result<()> {
        if (item as usize) < self.item_count {
            Ok(())
        } else {
            Err(RetrieveError::ItemOutOfRange {
                what: what(),
                item: item.into(),
                count: self.item_count,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_and_seen_exclusions() {
        let ex = Exclusions::new(100)
            .exclude_everywhere(&[3, 64, 99])
            .unwrap()
            .with_seen(vec![0, 2, 2, 3], vec![50, 7, 8])
            .unwrap();
        assert!(ex.excludes(0, 3) && ex.excludes(1, 64) && ex.excludes(2, 99));
        assert!(ex.excludes(0, 7) && ex.excludes(0, 50) && !ex.excludes(1, 7));
        assert!(ex.excludes(2, 8) && !ex.excludes(2, 7) && !ex.excludes(0, 8));
        assert_eq!(ex.seen_queries(), Some(3));
        let counts: Vec<usize> = (0..4).map(|q| ex.excluded_at_most(q)).collect();
        assert_eq!(counts, vec![5, 3, 4, 3]);
        assert!(ex.check_fits(3, 100).is_ok());
        assert!(ex.check_fits(4, 100).is_err());
        assert!(ex.check_fits(3, 101).is_err());
    }

    #[test]
    fn refuses_out_of_range_and_bad_offsets() {
        let err = Exclusions::new(10).exclude_everywhere(&[10]).unwrap_err();
        assert!(err.to_string().contains("global exclusion list"), "{err}");
        let err = Exclusions::new(10)
            .with_seen(vec![0, 1, 2], vec![1, 12])
            .unwrap_err();
        assert!(err.to_string().contains("seen list of query 1"), "{err}");
        assert!(
            Exclusions::new(10)
                .with_seen(vec![0, 2, 1, 2], vec![1, 2])
                .is_err()
        );
        assert!(
            Exclusions::new(10)
                .with_seen(vec![1, 2], vec![1, 2])
                .is_err()
        );
        assert!(Exclusions::new(10).with_seen(vec![], vec![]).is_err());
    }
}
