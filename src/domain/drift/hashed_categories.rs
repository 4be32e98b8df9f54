//! Categorical drift of columns counted by value hash (`/compare` of text and bool columns):
//! the two versions' counts paired by hash, the lists that name values (`categories_added`,
//! `categories_removed`, `top_changes`) and the naming of the values those lists hold — from
//! the texts remembered while counting ([`HashCounts::remembered_text`],
//! [`HashCounts::smallest_values`]) or, when those do not name them, from a second read of the
//! column fed to [`HashedCategories::observe`].
//!
//! Values are told apart by their 64-bit hash ([`text_hash`]): two different values sharing a
//! hash count as one category (probability about n²/2⁶⁵ for n distinct values), as in
//! `/analyze`. Everything else is exact: every value of both versions is counted, and the lists
//! are the ones exact counting gives (ties broken by value, byte order ascending).

use std::collections::{BTreeSet, BinaryHeap, HashMap};

use arrow::array::{ArrayRef, AsArray};

use super::categorical::PairedCounts;
use super::psi::{CategoricalDrift, CategoryChange, psi};
use crate::domain::row_hash::{PreHashedState, text_hash};
use crate::domain::statistics::{HashCounts, for_each_text, is_text};

/// A version of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    V1,
    V2,
}

/// Tied values at a list's boundary are named from the texts remembered while counting only
/// when there are at most this many (else by the smallest values remembered, or a read).
const TIED_NAMED_FROM_MEMO_LIMIT: usize = 1 << 16;

/// The lists of [`CategoricalDrift`], each a ranking by a key, largest first, ties by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum List {
    /// Values only v2 has, by their count in v2.
    Added,
    /// Values only v1 has, by their count in v1.
    Removed,
    /// Every value, by |v2 share − v1 share|.
    Changes,
}

impl List {
    const ALL: [List; 3] = [List::Added, List::Removed, List::Changes];

    /// The versions whose values can enter the list.
    fn reads(self, side: Side) -> bool {
        match self {
            List::Added => side == Side::V2,
            List::Removed => side == Side::V1,
            List::Changes => true,
        }
    }
}

/// Both versions' totals, for the shares of [`List::Changes`].
#[derive(Debug, Clone, Copy)]
struct Totals {
    n1: f64,
    n2: f64,
}

impl Totals {
    /// A value's key in `list` from its counts, `None` when it cannot enter it.
    fn key(self, list: List, c1: u64, c2: u64) -> Option<f64> {
        match list {
            List::Added => (c1 == 0 && c2 > 0).then_some(c2 as f64),
            List::Removed => (c2 == 0 && c1 > 0).then_some(c1 as f64),
            List::Changes => (c1 + c2 > 0).then(|| (c2 as f64 / self.n2 - c1 as f64 / self.n1).abs()),
        }
    }
}

/// A key ordered by `total_cmp` (keys are finite).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The first `limit` values of one list: those ranked above the boundary key (named by hash),
/// then the smallest values (byte order) of those tied at it.
#[derive(Debug)]
struct Ranking {
    list: List,
    /// The `limit`-th largest key (the smallest key when fewer values can enter).
    boundary: f64,
    /// Hashes ranked above the boundary, with their names once known.
    above: HashMap<u64, Option<String>, PreHashedState>,
    /// How many of the values tied at the boundary the list takes.
    wanted: usize,
    /// The smallest tied values found so far (at most `wanted`).
    tied: BTreeSet<String>,
    /// True once `tied` holds the `wanted` smallest tied values.
    tied_named: bool,
    /// How many values are tied at the boundary.
    tied_count: usize,
    /// Their hashes, when there are few (else a value's counts tell).
    tied_set: Option<std::collections::HashSet<u64, PreHashedState>>,
}

impl Ranking {
    fn named(&self) -> bool {
        self.tied_named && self.above.values().all(Option::is_some)
    }
}

/// Two versions' value counts by hash, paired, with the lists being named.
pub struct HashedCategories {
    v1: HashCounts,
    v2: HashCounts,
    totals: Totals,
    /// The counts of every category (in hash order until `finish`).
    paired: PairedCounts,
    /// One per list that has values.
    rankings: Vec<Ranking>,
    /// With at most two categories, their hashes and names: the pair is ordered by value.
    few: Option<Vec<(u64, Option<String>)>>,
    /// The versions whose second read is complete.
    read: [bool; 2],
    added_count: u64,
    removed_count: u64,
}

/// Why the lists could not be finished.
#[derive(Debug, thiserror::Error)]
#[error("the values of a category list were not all named (the column's second read was not complete)")]
pub struct UnnamedValues;

impl HashedCategories {
    /// Pairs the counts of two versions and names what the remembered texts can name;
    /// [`Self::needs_reading`] then says which versions must be read again. Lists hold at
    /// most `limit` values.
    pub fn new(v1: HashCounts, v2: HashCounts, limit: usize) -> Self {
        let mut paired = PairedCounts::default();
        let mut hashes: Vec<u64> = Vec::new();
        let mut heaps: Vec<BinaryHeap<std::cmp::Reverse<Key>>> = List::ALL.iter().map(|_| BinaryHeap::new()).collect();
        let mut smallest_key: Vec<Option<f64>> = vec![None; List::ALL.len()];
        let n1 = v1.pairs().map(|(_, c)| c).sum::<u64>().max(1) as f64;
        let n2 = v2.pairs().map(|(_, c)| c).sum::<u64>().max(1) as f64;
        let totals = Totals { n1, n2 };
        let (mut added_count, mut removed_count) = (0, 0);
        // First pass: the paired counts and, per list, the `limit` largest keys.
        merge(&v1, &v2, |h, c1, c2| {
            paired.v1.push(c1);
            paired.v2.push(c2);
            if hashes.len() <= 2 {
                hashes.push(h);
            }
            added_count += u64::from(c1 == 0);
            removed_count += u64::from(c2 == 0);
            for (k, &list) in List::ALL.iter().enumerate() {
                let Some(key) = totals.key(list, c1, c2) else { continue };
                smallest_key[k] = Some(smallest_key[k].map_or(key, |s: f64| s.min(key)));
                let heap = &mut heaps[k];
                if heap.len() < limit {
                    heap.push(std::cmp::Reverse(Key(key)));
                } else if heap.peek().is_some_and(|least| key > least.0.0) {
                    heap.pop();
                    heap.push(std::cmp::Reverse(Key(key)));
                }
            }
        });
        let boundaries: Vec<Option<f64>> = heaps
            .iter()
            .zip(&smallest_key)
            .map(|(heap, smallest)| match heap.len() {
                0 => None,
                n if n == limit => heap.peek().map(|least| least.0.0),
                _ => *smallest,
            })
            .collect();
        let mut rankings: Vec<Ranking> = List::ALL
            .iter()
            .zip(&boundaries)
            .filter_map(|(&list, boundary)| {
                Some(Ranking {
                    list,
                    boundary: (*boundary)?,
                    above: HashMap::default(),
                    wanted: 0,
                    tied: BTreeSet::new(),
                    tied_named: false,
                    tied_count: 0,
                    tied_set: None,
                })
            })
            .collect();
        // Second pass: the values above each boundary, and those tied at it (kept while few).
        let mut tied_hashes: Vec<Option<Vec<u64>>> = rankings.iter().map(|_| Some(Vec::new())).collect();
        merge(&v1, &v2, |h, c1, c2| {
            for (r, tied) in rankings.iter_mut().zip(tied_hashes.iter_mut()) {
                let Some(key) = totals.key(r.list, c1, c2) else { continue };
                if key > r.boundary {
                    r.above.insert(h, None);
                } else if key == r.boundary {
                    r.tied_count += 1;
                    if let Some(list) = tied {
                        if list.len() < TIED_NAMED_FROM_MEMO_LIMIT {
                            list.push(h);
                        } else {
                            *tied = None;
                        }
                    }
                }
            }
        });
        for (r, tied) in rankings.iter_mut().zip(tied_hashes) {
            r.wanted = limit.saturating_sub(r.above.len()).min(r.tied_count);
            r.tied_named = r.wanted == 0;
            for (h, name) in r.above.iter_mut() {
                *name = remembered(&v1, &v2, *h);
            }
            if !r.tied_named {
                r.tied_set = tied.as_ref().map(|t| t.iter().copied().collect());
                name_tied_from_memos(r, tied, &v1, &v2, totals);
            }
        }
        let few = (paired.categories() <= 2)
            .then(|| hashes.iter().map(|&h| (h, remembered(&v1, &v2, h))).collect::<Vec<_>>());
        Self { v1, v2, totals, paired, rankings, few, read: [false; 2], added_count, removed_count }
    }

    /// True when the values of `side` must be read again (fed to [`Self::observe`]) to name
    /// the lists.
    pub fn needs_reading(&self, side: Side) -> bool {
        let few = self.few.as_ref().is_some_and(|few| few.iter().any(|(_, n)| n.is_none()));
        few || self.rankings.iter().any(|r| !r.named() && r.list.reads(side))
    }

    /// A chunk of `side`'s column in the second read: text (plain or dictionary-encoded) or
    /// bool (read as the texts `true` and `false`).
    pub fn observe_column(&mut self, side: Side, column: &ArrayRef) {
        if let Some(bools) = column.as_boolean_opt() {
            for value in bools.iter().flatten() {
                self.observe(side, if value { "true" } else { "false" });
            }
        } else if is_text(column) {
            for_each_text(column, |value, _| self.observe(side, value));
        }
    }

    /// One value of `side` in the second read (each distinct value at least once).
    pub fn observe(&mut self, side: Side, value: &str) {
        let h = text_hash(value);
        if let Some(few) = self.few.as_mut() {
            for (hash, name) in few.iter_mut() {
                if *hash == h && name.is_none() {
                    *name = Some(value.to_string());
                }
            }
        }
        let (v1, v2, totals) = (&self.v1, &self.v2, self.totals);
        for r in self.rankings.iter_mut().filter(|r| r.list.reads(side)) {
            if let Some(name) = r.above.get_mut(&h) {
                if name.is_none() {
                    *name = Some(value.to_string());
                }
                continue;
            }
            if r.tied_named {
                continue;
            }
            let worth_keeping = r.tied.len() < r.wanted || r.tied.last().is_some_and(|last| value < last.as_str());
            if worth_keeping && is_tied(r, v1, v2, totals, h) && !r.tied.contains(value) {
                r.tied.insert(value.to_string());
                if r.tied.len() > r.wanted {
                    r.tied.pop_last();
                }
            }
        }
    }

    /// Says that every value of `side` was fed to [`Self::observe`].
    pub fn read_finished(&mut self, side: Side) {
        self.read[side as usize] = true;
    }

    /// The lists and the counts paired by category (in hash order, or by value when there are
    /// at most two categories: the Z-test's first category is the first value in byte order).
    /// Call after the reads [`Self::needs_reading`] asked for.
    pub fn finish(mut self) -> Result<(CategoricalDrift, PairedCounts), UnnamedValues> {
        // A complete read of the versions a list reads names its tied values: what it kept
        // are the smallest.
        let read = self.read;
        for r in self.rankings.iter_mut().filter(|r| !r.tied_named) {
            let sides = [Side::V1, Side::V2].into_iter().filter(|&s| r.list.reads(s));
            if !sides.clone().all(|s| read[s as usize]) {
                return Err(UnnamedValues);
            }
            r.tied_named = true;
        }
        if let Some(few) = &self.few {
            let names: Option<Vec<&String>> = few.iter().map(|(_, n)| n.as_ref()).collect();
            let names = names.ok_or(UnnamedValues)?;
            if names.len() == 2 && names[0] > names[1] {
                self.paired.v1.swap(0, 1);
                self.paired.v2.swap(0, 1);
            }
        }
        let mut lists: HashMap<List, Vec<(String, u64)>> = HashMap::new();
        for r in std::mem::take(&mut self.rankings) {
            lists.insert(r.list, self.ranked(r)?);
        }
        let mut take = |list: List| lists.remove(&list).unwrap_or_default();
        let names = |pairs: Vec<(String, u64)>| pairs.into_iter().map(|(v, _)| v).collect::<Vec<_>>();
        let added = names(take(List::Added));
        let removed = names(take(List::Removed));
        let (n1, n2) = (self.totals.n1, self.totals.n2);
        let top_changes = take(List::Changes)
            .into_iter()
            .map(|(value, h)| CategoryChange {
                value,
                v1_freq: self.v1.count(h) as f64 / n1,
                v2_freq: self.v2.count(h) as f64 / n2,
            })
            .collect();
        let drift = CategoricalDrift {
            added,
            added_count: self.added_count,
            removed,
            removed_count: self.removed_count,
            top_changes,
            psi: psi(&self.paired.v1, &self.paired.v2),
        };
        Ok((drift, self.paired))
    }

    /// A ranking's values with their hashes: above the boundary by key (largest first, ties
    /// by value), then the tied ones by value.
    fn ranked(&self, r: Ranking) -> Result<Vec<(String, u64)>, UnnamedValues> {
        let key = |h: u64| self.totals.key(r.list, self.v1.count(h), self.v2.count(h)).unwrap_or(0.0);
        let mut above: Vec<(String, u64, f64)> = Vec::with_capacity(r.above.len() + r.tied.len());
        for (h, name) in r.above {
            above.push((name.ok_or(UnnamedValues)?, h, key(h)));
        }
        above.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let mut out: Vec<(String, u64)> = above.into_iter().map(|(v, h, _)| (v, h)).collect();
        out.extend(r.tied.into_iter().take(r.wanted).map(|v| {
            let h = text_hash(&v);
            (v, h)
        }));
        Ok(out)
    }
}

/// Calls `each(hash, count in v1, count in v2)` for every hash of either version, ascending.
fn merge(v1: &HashCounts, v2: &HashCounts, mut each: impl FnMut(u64, u64, u64)) {
    let (mut a, mut b) = (v1.pairs().peekable(), v2.pairs().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (Some((h1, c1)), Some((h2, c2))) => {
                if h1 == h2 {
                    each(h1, c1, c2);
                    a.next();
                    b.next();
                } else if h1 < h2 {
                    each(h1, c1, 0);
                    a.next();
                } else {
                    each(h2, 0, c2);
                    b.next();
                }
            }
            (Some((h1, c1)), None) => {
                each(h1, c1, 0);
                a.next();
            }
            (None, Some((h2, c2))) => {
                each(h2, 0, c2);
                b.next();
            }
            (None, None) => return,
        }
    }
}

fn remembered(v1: &HashCounts, v2: &HashCounts, h: u64) -> Option<String> {
    v1.remembered_text(h).or_else(|| v2.remembered_text(h)).map(str::to_string)
}

fn is_tied(r: &Ranking, v1: &HashCounts, v2: &HashCounts, totals: Totals, h: u64) -> bool {
    match &r.tied_set {
        Some(set) => set.contains(&h),
        None => totals.key(r.list, v1.count(h), v2.count(h)) == Some(r.boundary),
    }
}

/// Names the tied values of `r` from the remembered texts: all of them when there are few and
/// every one was remembered; else the first ones in the smallest values remembered by the
/// versions the list reads, when those reach far enough.
fn name_tied_from_memos(r: &mut Ranking, tied: Option<Vec<u64>>, v1: &HashCounts, v2: &HashCounts, totals: Totals) {
    if let Some(tied) = tied {
        let names: Option<Vec<String>> = tied.iter().map(|&h| remembered(v1, v2, h)).collect();
        if let Some(mut names) = names {
            names.sort_unstable();
            r.tied = names.into_iter().take(r.wanted).collect();
            r.tied_named = true;
            return;
        }
    }
    // The union of the smallest values of the versions read is, up to the least of the last
    // values of the incomplete lists, every value of those versions up to there.
    let sides: Vec<&HashCounts> =
        [(Side::V1, v1), (Side::V2, v2)].into_iter().filter(|(s, _)| r.list.reads(*s)).map(|(_, c)| c).collect();
    let Some(lists) = sides.iter().map(|c| c.smallest_values()).collect::<Option<Vec<_>>>() else { return };
    let cutoff: Option<&str> = lists.iter().filter(|l| !l.complete).filter_map(|l| l.values.last()).map(|v| &**v).min();
    let mut prefix: Vec<&str> = lists.iter().flat_map(|l| l.values.iter().map(|v| &**v)).collect();
    prefix.sort_unstable();
    prefix.dedup();
    let mut found = BTreeSet::new();
    for value in prefix.into_iter().filter(|v| cutoff.is_none_or(|c| *v <= c)) {
        if is_tied(r, v1, v2, totals, text_hash(value)) {
            found.insert(value.to_string());
            if found.len() == r.wanted {
                break;
            }
        }
    }
    if found.len() == r.wanted || cutoff.is_none() {
        r.tied = found;
        r.tied_named = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::statistics::HashTally;

    fn counts(values: &[(&str, u64)]) -> HashCounts {
        let mut tally = HashTally::default();
        for (v, n) in values {
            tally.add_text_times(v, *n);
        }
        tally.into_counts()
    }

    /// The drift of two versions' exact counts, read as a column would be.
    fn categorical_drift(
        v1: &HashMap<String, u64>,
        v2: &HashMap<String, u64>,
        limit: usize,
    ) -> (CategoricalDrift, PairedCounts) {
        let tally = |m: &HashMap<String, u64>| {
            let mut t = HashTally::default();
            m.iter().for_each(|(k, &n)| t.add_text_times(k, n));
            t.into_counts()
        };
        let mut pair = HashedCategories::new(tally(v1), tally(v2), limit);
        for (side, map) in [(Side::V1, v1), (Side::V2, v2)] {
            if pair.needs_reading(side) {
                map.keys().for_each(|k| pair.observe(side, k));
                pair.read_finished(side);
            }
        }
        pair.finish().expect("every value was read")
    }

    fn textbook_psi(p: &[f64], q: &[f64]) -> f64 {
        p.iter()
            .zip(q)
            .map(|(&p, &q)| {
                let (p, q) = (p.max(super::super::psi::PSI_EPSILON), q.max(super::super::psi::PSI_EPSILON));
                (q - p) * (q / p).ln()
            })
            .sum()
    }

    #[test]
    fn categories_added_removed_and_changed_are_reported() {
        let v1: HashMap<String, u64> =
            [("a", 50), ("b", 30), ("c", 20)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let v2: HashMap<String, u64> =
            [("a", 20), ("b", 30), ("d", 50)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let (d, paired) = categorical_drift(&v1, &v2, 10);
        let mut pairs: Vec<(u64, u64)> = paired.v1.iter().copied().zip(paired.v2.iter().copied()).collect();
        pairs.sort_unstable();
        assert_eq!(pairs, [(0, 50), (20, 0), (30, 30), (50, 20)], "each category's counts, paired");
        assert_eq!(d.added, ["d"]);
        assert_eq!(d.removed, ["c"]);
        assert_eq!((d.added_count, d.removed_count), (1, 1));
        assert_eq!(d.top_changes[0].value, "d");
        assert!((d.top_changes[0].v2_freq - 0.5).abs() < 1e-12);
        let expected = textbook_psi(&[0.5, 0.3, 0.2, 0.0], &[0.2, 0.3, 0.0, 0.5]);
        assert!((d.psi.unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn lists_are_ranked_by_count_then_by_value() {
        let v1 = counts(&[("a", 50), ("b", 30), ("c", 20), ("e", 5), ("f", 5)]);
        let v2 = counts(&[("a", 20), ("b", 30), ("d", 50), ("z", 7), ("y", 7), ("x", 1)]);
        let pair = HashedCategories::new(v1, v2, 2);
        assert!(!pair.needs_reading(Side::V1) && !pair.needs_reading(Side::V2), "small columns are remembered");
        let (d, paired) = pair.finish().expect("named");
        assert_eq!(d.added, ["d", "y"], "50 first, then the smaller of the two tied at 7");
        assert_eq!(d.added_count, 4);
        assert_eq!(d.removed, ["c", "e"]);
        assert_eq!(d.removed_count, 3);
        assert_eq!(paired.categories(), 9);
        assert_eq!(d.top_changes.len(), 2);
    }

    /// The lists by exact counting: (added, removed, top-change values).
    fn exact_lists(
        v1: &HashMap<String, u64>,
        v2: &HashMap<String, u64>,
        limit: usize,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let ranked = |mut items: Vec<(String, f64)>| {
            items.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            items.into_iter().take(limit).map(|(v, _)| v).collect::<Vec<_>>()
        };
        let only = |a: &HashMap<String, u64>, b: &HashMap<String, u64>| {
            ranked(a.iter().filter(|(k, _)| !b.contains_key(*k)).map(|(k, &c)| (k.clone(), c as f64)).collect())
        };
        let (n1, n2) = (v1.values().sum::<u64>().max(1) as f64, v2.values().sum::<u64>().max(1) as f64);
        let mut all: Vec<&String> = v1.keys().chain(v2.keys()).collect();
        all.sort_unstable();
        all.dedup();
        let shift = |k: &String| {
            let (c1, c2) = (v1.get(k).copied().unwrap_or(0), v2.get(k).copied().unwrap_or(0));
            (c2 as f64 / n2 - c1 as f64 / n1).abs()
        };
        let changes = ranked(all.into_iter().map(|k| (k.clone(), shift(k))).collect());
        (only(v2, v1), only(v1, v2), changes)
    }

    fn hashed_lists(
        v1: &HashMap<String, u64>,
        v2: &HashMap<String, u64>,
        limit: usize,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let (d, _) = categorical_drift(v1, v2, limit);
        (d.added, d.removed, d.top_changes.into_iter().map(|c| c.value).collect())
    }

    fn map(pairs: impl IntoIterator<Item = (String, u64)>) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        for (k, n) in pairs {
            *out.entry(k).or_default() += n;
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        #[test]
        fn lists_named_by_hash_equal_exact_counting(
            a in proptest::collection::vec(("[a-e]{1,2}", 1u64..4), 0..40),
            b in proptest::collection::vec(("[a-e]{1,2}", 1u64..4), 0..40),
            limit in 0usize..6,
        ) {
            let (v1, v2) = (map(a), map(b));
            proptest::prop_assert_eq!(hashed_lists(&v1, &v2, limit), exact_lists(&v1, &v2, limit));
        }
    }

    #[test]
    fn lists_beyond_the_remembered_texts_are_named_by_a_second_read() {
        // 300,000 distinct ids per version (more text than the memo keeps), half of them
        // shared, in descending order so that the smallest come last; a few frequent values
        // seen only after the memo is full.
        let ids = |from: u64, to: u64, n: u64| (from..to).rev().map(move |i| (format!("id{i:08}"), n));
        let v1 = map(ids(0, 300_000, 1).chain([("zz-late-1".to_string(), 40)]));
        let v2 = map(ids(150_000, 450_000, 1).chain(ids(440_000, 450_000, 2)).chain([("zz-late-2".to_string(), 70)]));
        let tally = |m: &HashMap<String, u64>| {
            let mut t = HashTally::default();
            let mut keys: Vec<&String> = m.keys().collect();
            // Ids descending, the `zz-late` values last.
            keys.sort_unstable_by(|a, b| a.starts_with("zz").cmp(&b.starts_with("zz")).then_with(|| b.cmp(a)));
            keys.into_iter().for_each(|k| t.add_text_times(k, m[k]));
            t.into_counts()
        };
        let pair = HashedCategories::new(tally(&v1), tally(&v2), 20);
        assert!(pair.needs_reading(Side::V2), "the late frequent value of v2 was not remembered");
        let unread = HashedCategories::new(tally(&v1), tally(&v2), 20);
        assert!(unread.finish().is_err(), "lists left unnamed are an error, not a guess");
        let (added, removed, changes) = hashed_lists(&v1, &v2, 20);
        let expected = exact_lists(&v1, &v2, 20);
        assert_eq!(added[0], "zz-late-2");
        assert_eq!(added[1], "id00440000", "then the smallest of the values seen three times");
        assert_eq!(removed[..2], ["zz-late-1".to_string(), "id00000000".to_string()]);
        assert_eq!((added, removed, changes), expected);
    }

    #[test]
    fn two_categories_are_paired_in_byte_order() {
        let v1 = map([("yes".to_string(), 30), ("no".to_string(), 10)]);
        let v2 = map([("yes".to_string(), 5)]);
        let (_, paired) = categorical_drift(&v1, &v2, 20);
        assert_eq!((paired.v1, paired.v2), (vec![10, 30], vec![0, 5]), "\"no\" before \"yes\"");
    }

    #[test]
    fn empty_versions_have_empty_lists() {
        let (d, paired) = categorical_drift(&HashMap::new(), &HashMap::new(), 20);
        assert!(d.added.is_empty() && d.removed.is_empty() && d.top_changes.is_empty());
        assert_eq!((d.added_count, d.removed_count, d.psi), (0, 0, None));
        assert_eq!(paired.categories(), 0);
    }
}
