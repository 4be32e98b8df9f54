//! Text counted by 64-bit value hash, and the naming of its most frequent values
//! (`top_values`): a tally of hashes with a memo of texts, the counts it ends with, and the
//! second read that recovers the texts the memo could not name.

use std::collections::HashMap;

use arrow::array::{ArrayRef, AsArray};

use super::TOP_VALUES;
use crate::domain::row_hash::{PreHashedState, text_hash};

/// The [`TOP_VALUES`] most frequent values, ties by value ascending.
pub fn top_values(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    ranked(counts.into_iter().collect(), std::iter::empty(), 0)
}

/// The [`TOP_VALUES`] first of `above` (values with their counts) by count, descending, ties
/// by value ascending, followed by the values `tied` (ascending) at count `boundary`.
fn ranked(mut above: Vec<(String, u64)>, tied: impl IntoIterator<Item = String>, boundary: u64) -> Vec<(String, u64)> {
    above.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    above.extend(tied.into_iter().map(|v| (v, boundary)));
    above.truncate(TOP_VALUES);
    above
}

/// At most this many hashes tied at the 10th count are kept in a set for quick lookups.
const AT_BOUNDARY_SET_LIMIT: usize = 1 << 16;

/// Distinct hashes tracked in a map before the tally switches to a list of every hash. A map
/// of this many entries (about 3 MiB) stays mostly in the processor's caches, where a lookup
/// per row is cheaper than appending every row's hash and sorting them (measured on the
/// benchmark's zip codes, 100,000 distinct values in 3.6 million rows per version: `/compare`
/// of the column 556 → 361 ms when the limit went from 4,096 to this).
const TALLY_MAP_LIMIT: usize = 1 << 17;

/// Counts of 64-bit value hashes ([`text_hash`]). Few distinct values are counted in a map;
/// past [`TALLY_MAP_LIMIT`] distinct values, every hash is appended to a list that is
/// sorted at the end (8 bytes per value, sequential memory access: faster than a map of
/// millions of entries, and smaller).
///
/// Values are told apart by their hash alone: two different values with the same hash are
/// counted as one (for n distinct values, the probability that any two collide is about
/// n²/2⁶⁵). Telling them apart would mean comparing every value with the text remembered for
/// its hash, a memory access per row: measured, twice the time to tally 3.5 million rows of
/// 100,000 short distinct values (the benchmark's zip codes), and half as much again for
/// 1,000 distinct values held in the map.
#[derive(Default)]
pub struct HashTally {
    map: HashMap<u64, u64, PreHashedState>,
    list: Option<Vec<u64>>,
    memo: TextMemo,
}

impl HashTally {
    /// Counts a text value (and remembers its text when the memo has room).
    pub fn add_text(&mut self, value: &str) {
        self.add_text_times(value, 1);
    }

    /// Counts `times` occurrences of a text value at once.
    pub fn add_text_times(&mut self, value: &str, times: u64) {
        if times == 0 {
            return;
        }
        let hash = text_hash(value);
        // A value counted before was offered to the memo then: offering it again changes
        // nothing, and skipping it saves a lookup per value of low-cardinality columns.
        if self.add(hash) {
            self.memo.observe(hash, value);
        }
        let rest = times - 1;
        if rest > 0 {
            // `add` left the hash in the map, or in the list it switched to.
            match self.list.as_mut() {
                Some(list) => list.extend(std::iter::repeat_n(hash, rest as usize)),
                None => *self.map.entry(hash).or_default() += rest,
            }
        }
    }

    /// Counts a hash; false when it is known to have been counted before (true when it is
    /// new, or when the tally keeps a list and cannot tell).
    pub fn add(&mut self, hash: u64) -> bool {
        if let Some(list) = self.list.as_mut() {
            list.push(hash);
            return true;
        }
        let count = self.map.entry(hash).or_default();
        *count += 1;
        let new = *count == 1;
        if self.map.len() > TALLY_MAP_LIMIT {
            let mut list = Vec::with_capacity(1 << 16);
            for (&h, &count) in &self.map {
                list.extend(std::iter::repeat_n(h, count as usize));
            }
            self.map = HashMap::default();
            self.list = Some(list);
        }
        new
    }

    /// The count of every distinct hash. The sorted list is deduplicated in place, so a
    /// column of n distinct values holds n hashes and n counts, not more.
    pub fn into_counts(self) -> HashCounts {
        match self.list {
            Some(mut hashes) => {
                hashes.sort_unstable();
                let distinct = hashes.chunk_by(|a, b| a == b).count();
                let mut counts = Vec::with_capacity(distinct);
                let mut kept = 0;
                for i in 0..hashes.len() {
                    if kept > 0 && hashes[kept - 1] == hashes[i] {
                        if let Some(last) = counts.last_mut() {
                            *last += 1;
                        }
                    } else {
                        hashes[kept] = hashes[i];
                        kept += 1;
                        counts.push(1u64);
                    }
                }
                hashes.truncate(kept);
                hashes.shrink_to_fit();
                HashCounts { hashes, counts, memo: self.memo }
            }
            None => {
                let mut pairs: Vec<(u64, u64)> = self.map.into_iter().collect();
                pairs.sort_unstable_by_key(|&(h, _)| h);
                let (hashes, counts) = pairs.into_iter().unzip();
                HashCounts { hashes, counts, memo: self.memo }
            }
        }
    }
}

/// Bytes of text a [`TextMemo`] keeps by hash (about 48 bytes of overhead counted per value).
const TEXT_MEMO_BYTES: usize = 8 << 20;
/// The smallest distinct values a [`TextMemo`] keeps.
const SMALLEST_KEPT: usize = 32;
/// Longest value the smallest-values list keeps (a longer one that would enter it ends it).
const SMALLEST_MAX_LEN: usize = 4096;

/// Texts remembered while a column is counted by hash, so that its most frequent values can
/// usually be named without reading the column again: the text of every distinct value
/// until [`TEXT_MEMO_BYTES`] are used (frequent values tend to appear early), and the
/// [`SMALLEST_KEPT`] smallest distinct values (byte order), which name the values tied at
/// the tenth count when the ties are too many to remember (e.g. a column of unique ids).
#[derive(Default)]
struct TextMemo {
    texts: HashMap<u64, Box<str>, PreHashedState>,
    bytes: usize,
    full: bool,
    /// Ascending: always the smallest distinct values seen, unless `smallest_lost`.
    smallest: std::collections::BTreeSet<Box<str>>,
    smallest_lost: bool,
}

impl TextMemo {
    fn observe(&mut self, hash: u64, value: &str) {
        if !self.full {
            match self.texts.entry(hash) {
                // Seen before: it was offered to `smallest` then (if it did not enter, or
                // left, smaller values hold the places, as they still do).
                std::collections::hash_map::Entry::Occupied(_) => return,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let cost = value.len() + 48;
                    if self.bytes + cost > TEXT_MEMO_BYTES {
                        self.full = true;
                    } else {
                        self.bytes += cost;
                        slot.insert(value.into());
                    }
                }
            }
        }
        if self.smallest_lost {
            return;
        }
        let enters = self.smallest.len() < SMALLEST_KEPT || self.smallest.last().is_some_and(|last| value < &**last);
        if enters && !self.smallest.contains(value) {
            if value.len() > SMALLEST_MAX_LEN {
                self.smallest_lost = true;
                self.smallest.clear();
                return;
            }
            self.smallest.insert(value.into());
            if self.smallest.len() > SMALLEST_KEPT {
                self.smallest.pop_last();
            }
        }
    }
}

/// Distinct value hashes ascending, with their counts (and the texts remembered while
/// counting). The count of two values sharing a hash is their total, and the top values name
/// it by the text of one of them.
pub struct HashCounts {
    hashes: Vec<u64>,
    counts: Vec<u64>,
    memo: TextMemo,
}

impl HashCounts {
    /// The 10th largest count (the smallest count when there are fewer values): values
    /// counted more often are all among the top values, values counted exactly this often
    /// compete for the remaining places by value.
    fn boundary(&self) -> u64 {
        let mut by_count: Vec<u64> = self.counts.clone();
        if by_count.len() > TOP_VALUES {
            let (_, &mut tenth, _) = by_count.select_nth_unstable_by(TOP_VALUES - 1, |a, b| b.cmp(a));
            tenth
        } else {
            by_count.iter().copied().min().unwrap_or(0)
        }
    }

    /// The top values (as [`top_values`] defines them) named from the texts remembered
    /// while counting, or `None` when those do not name them all and the column must be read
    /// again ([`TopValueRecovery`]).
    pub fn known_top_values(&self) -> Option<Vec<(String, u64)>> {
        let boundary = self.boundary();
        let memo = &self.memo;
        let smallest: HashMap<u64, &str, PreHashedState> = memo.smallest.iter().map(|v| (text_hash(v), &**v)).collect();
        let text_of = |h: u64| memo.texts.get(&h).map(|t| &**t).or_else(|| smallest.get(&h).copied());
        let mut above: Vec<(String, u64)> = Vec::with_capacity(TOP_VALUES);
        for (h, count) in self.pairs().filter(|&(_, c)| c > boundary) {
            above.push((text_of(h)?.to_string(), count));
        }
        let wanted = TOP_VALUES.saturating_sub(above.len());
        let mut tied: Vec<String> = Vec::new();
        if wanted > 0 {
            let all: Option<Vec<&str>> =
                self.pairs().filter(|&(_, c)| c == boundary).map(|(h, _)| text_of(h)).collect();
            tied = match all {
                Some(mut all) => {
                    all.sort_unstable();
                    all.into_iter().take(wanted).map(str::to_string).collect()
                }
                // The smallest values are a prefix of the column's values in byte order, so
                // the first ones tied at the boundary in it are the first ones in the column.
                None if !memo.smallest_lost => {
                    let first: Vec<String> = memo
                        .smallest
                        .iter()
                        .filter(|v| self.count(text_hash(v)) == boundary)
                        .take(wanted)
                        .map(|v| v.to_string())
                        .collect();
                    if first.len() < wanted {
                        return None;
                    }
                    first
                }
                None => return None,
            };
        }
        Some(ranked(above, tied, boundary))
    }

    /// The number of distinct hashes: the column's distinct values, one fewer for every two
    /// values that share a hash (probability about n²/2⁶⁵ for n distinct values).
    pub fn distinct(&self) -> u64 {
        self.hashes.len() as u64
    }

    /// The count of a hash (0 when the column never had it).
    pub fn count(&self, hash: u64) -> u64 {
        find_hash(&self.hashes, hash).map_or(0, |i| self.counts[i])
    }

    /// Every distinct hash with its count, hashes ascending.
    pub fn pairs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.hashes.iter().copied().zip(self.counts.iter().copied())
    }

    /// The text of a hash, if it was remembered while counting.
    pub fn remembered_text(&self, hash: u64) -> Option<&str> {
        self.memo
            .texts
            .get(&hash)
            .map(|t| &**t)
            .or_else(|| self.memo.smallest.iter().find(|v| text_hash(v) == hash).map(|v| &**v))
    }

    /// The smallest distinct values of the column in byte order, ascending, as remembered
    /// while counting: `None` when they were not kept (a long value would have entered the
    /// list); `complete` when they are all of the column's distinct values, else every value
    /// of the column up to the last one listed is listed.
    pub fn smallest_values(&self) -> Option<SmallestValues<'_>> {
        (!self.memo.smallest_lost)
            .then(|| SmallestValues { values: &self.memo.smallest, complete: self.memo.smallest.len() < SMALLEST_KEPT })
    }
}

/// Where `hash` is in `hashes` (ascending). Value hashes are spread evenly over the 64 bits, so
/// interpolation finds one in two or three probes where a binary search of millions takes
/// twenty cache misses (measured: the second read of `/compare`); a few probes narrow the
/// range, then a binary search finishes (so uneven hashes cost no more than a binary search).
fn find_hash(hashes: &[u64], hash: u64) -> Option<usize> {
    let (mut lo, mut hi) = (0usize, hashes.len());
    for _ in 0..4 {
        if hi - lo <= 16 {
            break;
        }
        let (first, last) = (hashes[lo], hashes[hi - 1]);
        if hash < first || hash > last {
            return None;
        }
        let span = u128::from(last - first).max(1);
        let offset = (u128::from(hash - first) * (hi - 1 - lo) as u128 / span) as usize;
        let guess = lo + offset.min(hi - 1 - lo);
        match hashes[guess].cmp(&hash) {
            std::cmp::Ordering::Equal => return Some(guess),
            std::cmp::Ordering::Less => lo = guess + 1,
            std::cmp::Ordering::Greater => hi = guess,
        }
    }
    hashes[lo..hi].binary_search(&hash).ok().map(|i| lo + i)
}

/// See [`HashCounts::smallest_values`].
pub struct SmallestValues<'a> {
    pub values: &'a std::collections::BTreeSet<Box<str>>,
    pub complete: bool,
}

/// Recovers the text of the [`TOP_VALUES`] most frequent values from hash counts, in a
/// second pass over the column: keeps the values whose count is above the 10th count, and the
/// smallest of the values tied at it (ties are broken by value, ascending). A value's count is
/// looked up only when it could enter the result.
pub struct TopValueRecovery {
    counts: HashCounts,
    boundary: u64,
    above: HashMap<u64, Option<String>, PreHashedState>,
    /// The hashes counted exactly `boundary` times, when there are few of them (else each
    /// candidate's count is looked up in `counts`).
    at_boundary: Option<std::collections::HashSet<u64, PreHashedState>>,
    tied_wanted: usize,
    tied: std::collections::BTreeSet<String>,
}

impl TopValueRecovery {
    pub fn new(counts: HashCounts) -> Self {
        let boundary = counts.boundary();
        let above: HashMap<u64, Option<String>, PreHashedState> =
            counts.pairs().filter(|&(_, c)| c > boundary).map(|(h, _)| (h, None)).collect();
        let tied_wanted = TOP_VALUES.saturating_sub(above.len());
        let tied_count = counts.counts.iter().filter(|&&c| c == boundary).count();
        let at_boundary = (tied_count <= AT_BOUNDARY_SET_LIMIT)
            .then(|| counts.pairs().filter(|&(_, c)| c == boundary).map(|(h, _)| h).collect());
        Self { counts, boundary, above, at_boundary, tied_wanted, tied: Default::default() }
    }

    pub fn observe(&mut self, column: &ArrayRef) {
        for value in column.as_string::<i32>().iter().flatten() {
            let h = text_hash(value);
            if let Some(slot) = self.above.get_mut(&h) {
                if slot.is_none() {
                    *slot = Some(value.to_string());
                }
                continue;
            }
            if self.tied_wanted == 0 {
                continue;
            }
            let worth_keeping =
                self.tied.len() < self.tied_wanted || self.tied.last().is_some_and(|last| value < last.as_str());
            let at_boundary = || match &self.at_boundary {
                Some(set) => set.contains(&h),
                None => self.counts.count(h) == self.boundary,
            };
            if worth_keeping && !self.tied.contains(value) && at_boundary() {
                self.tied.insert(value.to_string());
                if self.tied.len() > self.tied_wanted {
                    self.tied.pop_last();
                }
            }
        }
    }

    pub fn finish(self) -> Vec<(String, u64)> {
        let counts = &self.counts;
        let above = self.above.into_iter().filter_map(|(h, value)| value.map(|v| (v, counts.count(h)))).collect();
        ranked(above, self.tied, self.boundary)
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::DataType;

    use super::*;
    use crate::domain::statistics::ColumnValues;

    proptest::proptest! {
        #[test]
        fn a_hash_is_found_by_interpolation_exactly_where_a_binary_search_finds_it(
            mut hashes in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..400),
            skewed in proptest::collection::vec(0u64..50, 0..100),
            probe in proptest::prelude::any::<u64>(),
        ) {
            hashes.extend(skewed);
            hashes.sort_unstable();
            hashes.dedup();
            for &h in hashes.iter().chain([probe, 0, u64::MAX].iter()) {
                proptest::prop_assert_eq!(find_hash(&hashes, h), hashes.binary_search(&h).ok());
            }
        }
    }

    #[test]
    fn top_values_break_ties_by_value() {
        let counts: HashMap<String, u64> =
            [("b", 2), ("a", 2), ("c", 5), ("d", 1)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(top_values(counts), vec![("c".into(), 5), ("a".into(), 2), ("b".into(), 2), ("d".into(), 1)]);
        let many: HashMap<String, u64> = (0..30).map(|i| (format!("v{i:02}"), 1)).collect();
        assert_eq!(top_values(many).len(), TOP_VALUES);
    }

    #[test]
    fn top_values_recovered_from_hashes_equal_the_exact_ones() {
        let values: Vec<String> =
            (0..500).map(|i| format!("v{}", (i * 7919) % 37)).chain((0..40).map(|i| format!("u{i}"))).collect();
        let column: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(values.clone()));
        let mut exact = ColumnValues::for_type(&DataType::Utf8);
        exact.observe(&column);
        let mut hashed = ColumnValues::for_type_hashed(&DataType::Utf8);
        hashed.observe(&column);
        let (ColumnValues::Text(counts), ColumnValues::TextHashes(hash_counts)) = (exact, hashed) else {
            unreachable!()
        };
        let hash_counts = hash_counts.into_counts();
        assert_eq!(counts.len() as u64, hash_counts.distinct());
        let mut recovery = TopValueRecovery::new(hash_counts);
        recovery.observe(&column);
        assert_eq!(recovery.finish(), top_values(counts));
        // All-distinct values: every count ties, so the smallest values win.
        let unique: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(
            (0..100).rev().map(|i| format!("id{i:03}")).collect::<Vec<_>>(),
        ));
        let mut hashed = ColumnValues::for_type_hashed(&DataType::Utf8);
        hashed.observe(&unique);
        let ColumnValues::TextHashes(h) = hashed else { unreachable!() };
        let mut recovery = TopValueRecovery::new(h.into_counts());
        recovery.observe(&unique);
        let top = recovery.finish();
        assert_eq!(top.len(), 10);
        assert_eq!(top[0], ("id000".to_string(), 1));
        assert_eq!(top[9], ("id009".to_string(), 1));
    }

    /// Top values by exact counting, by the texts remembered while counting hashes (when they
    /// name them), and by the second pass.
    fn top_values_three_ways(
        values: &[String],
    ) -> (Vec<(String, u64)>, Option<Vec<(String, u64)>>, Vec<(String, u64)>) {
        let mut exact: HashMap<String, u64> = HashMap::new();
        values.iter().for_each(|v| *exact.entry(v.clone()).or_default() += 1);
        let column: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(values.to_vec()));
        let mut hashed = ColumnValues::for_type_hashed(&DataType::Utf8);
        for chunk in 0..values.len().div_ceil(1000) {
            let end = ((chunk + 1) * 1000).min(values.len());
            hashed.observe(&column.slice(chunk * 1000, end - chunk * 1000));
        }
        let ColumnValues::TextHashes(tally) = hashed else { unreachable!() };
        let counts = tally.into_counts();
        let known = counts.known_top_values();
        let mut recovery = TopValueRecovery::new(counts);
        recovery.observe(&column);
        (top_values(exact), known, recovery.finish())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

        #[test]
        fn top_values_named_while_counting_equal_exact_counting(
            values in proptest::collection::vec("[a-d]{0,3}", 0..300),
        ) {
            let (exact, known, recovered) = top_values_three_ways(&values);
            proptest::prop_assert_eq!(known.as_ref(), Some(&exact), "a small column is named in full");
            proptest::prop_assert_eq!(recovered, exact);
        }
    }

    #[test]
    fn unique_ids_beyond_the_memo_are_named_by_the_smallest_values_kept() {
        // 200,000 distinct ids (about 11 MB of memo: more than it keeps), in descending order,
        // so that the smallest ones come last.
        let values: Vec<String> = (0..200_000).rev().map(|i| format!("id{i:07}")).collect();
        let (exact, known, recovered) = top_values_three_ways(&values);
        assert_eq!(exact[0], ("id0000000".to_string(), 1));
        assert_eq!(known, Some(exact.clone()));
        assert_eq!(recovered, exact);
    }

    #[test]
    fn frequent_values_first_seen_after_the_memo_is_full_are_recovered_by_a_second_pass() {
        // The memo fills with 200,000 distinct values seen twice each; then twelve values seen
        // three times each, not remembered, make the top.
        let mut values: Vec<String> = (0..200_000).map(|i| format!("v{i:07}")).collect();
        values.extend(values.clone());
        for _ in 0..3 {
            values.extend((0..12).map(|i| format!("zz{i:02}")));
        }
        let (exact, known, recovered) = top_values_three_ways(&values);
        assert_eq!(exact[0], ("zz00".to_string(), 3));
        assert_eq!(known, None, "the memo cannot name them");
        assert_eq!(recovered, exact);
    }

    #[test]
    fn a_tally_past_the_map_limit_counts_the_same_as_exact_counting() {
        // More distinct values than the map holds, with repeats before and after the switch.
        let values: Vec<String> = (0..3 * TALLY_MAP_LIMIT)
            .map(|i| format!("k{}", (i * 31) % (TALLY_MAP_LIMIT + 500)))
            .chain((0..50).map(|i| format!("hot{}", i % 3)))
            .collect();
        let column: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(values.clone()));
        let mut exact: HashMap<String, u64> = HashMap::new();
        values.iter().for_each(|v| *exact.entry(v.clone()).or_default() += 1);
        let mut hashed = ColumnValues::for_type_hashed(&DataType::Utf8);
        hashed.observe(&column);
        let ColumnValues::TextHashes(tally) = hashed else { unreachable!() };
        assert!(tally.list.is_some(), "the tally switched to its list");
        let counts = tally.into_counts();
        assert_eq!(counts.distinct(), exact.len() as u64);
        let mut recovery = TopValueRecovery::new(counts);
        recovery.observe(&column);
        assert_eq!(recovery.finish(), top_values(exact));
    }
}
