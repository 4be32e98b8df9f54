//! Which test decides a column's drift, and how (Evidently's default rule).
//!
//! With v1 (the reference) holding at most [`SMALL_REFERENCE`] non-missing values:
//! - a numeric or datetime column with more than [`FEW_VALUES`] distinct values in v1: the
//!   two-sample **Kolmogorov–Smirnov** test;
//! - any other column (text, category, bool, numbers with few distinct values): the
//!   **chi-squared** test of v2's counts against v1's proportions, or, when both versions
//!   together hold at most two distinct values, the two-proportion **Z-test**;
//! - drift when the p-value is below the threshold (default 0.05).
//!
//! With more than [`SMALL_REFERENCE`]: the **normed Wasserstein** distance for the numeric
//! columns above, the **Jensen–Shannon** distance for the others; drift when the distance is at
//! least the threshold (default 0.1). The **PSI** may be asked for too (threshold 0.1).
//!
//! Numbers compared as categories: their distinct values when v1 has at most [`FEW_VALUES`]
//! of them, otherwise the ten bins of the PSI (cut at v1's deciles). Datetime columns are
//! compared as numbers (their microseconds since the epoch). Only non-missing values are
//! compared (and NaN and infinities count as missing); a column without any value in either
//! version has no verdict.

use std::cell::OnceCell;
use std::fmt;

use super::Outcome;
use super::categorical::{PairedCounts, chi_squared, jensen_shannon, z_test};
use super::distances::normed;
use super::ks::ks_from_gap;
use super::psi::{decile_edges, psi, sorted_bin_counts, sorted_numeric_psi};
use super::sorted_merge::{EcdfGap, ecdf_gap};

/// The largest reference the exact tests are chosen for.
pub const SMALL_REFERENCE: u64 = 1000;
/// Numeric columns with at most this many distinct values in v1 are compared as categories.
pub const FEW_VALUES: usize = 5;
/// Drift threshold of the tests with a p-value: drift when `p < 0.05`.
pub const P_VALUE_THRESHOLD: f64 = 0.05;
/// Drift threshold of the distances and the PSI: drift when `distance ≥ 0.1`.
pub const DISTANCE_THRESHOLD: f64 = 0.1;

/// The tests `/compare` knows, by their names in `tests=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DriftTest {
    Ks,
    ChiSquared,
    ZTest,
    Psi,
    JensenShannon,
    Wasserstein,
}

impl DriftTest {
    pub const ALL: [DriftTest; 6] = [
        DriftTest::Ks,
        DriftTest::ChiSquared,
        DriftTest::ZTest,
        DriftTest::Psi,
        DriftTest::JensenShannon,
        DriftTest::Wasserstein,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DriftTest::Ks => "ks",
            DriftTest::ChiSquared => "chi2",
            DriftTest::ZTest => "ztest",
            DriftTest::Psi => "psi",
            DriftTest::JensenShannon => "jensenshannon",
            DriftTest::Wasserstein => "wasserstein",
        }
    }

    /// Whether the test answers a p-value (drift below the threshold) rather than a distance
    /// (drift at or above it).
    pub fn has_p_value(self) -> bool {
        matches!(self, DriftTest::Ks | DriftTest::ChiSquared | DriftTest::ZTest)
    }

    pub fn default_threshold(self) -> f64 {
        if self.has_p_value() { P_VALUE_THRESHOLD } else { DISTANCE_THRESHOLD }
    }

    /// Whether `outcome` is drift at `threshold`.
    pub fn drifted(self, outcome: &Outcome, threshold: f64) -> bool {
        match outcome.p_value {
            Some(p) if self.has_p_value() => p < threshold,
            _ => outcome.statistic >= threshold,
        }
    }
}

impl fmt::Display for DriftTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `tests=`: names separated by commas (white space around them ignored, repeats kept once).
pub fn parse_tests(text: &str) -> Result<Vec<DriftTest>, String> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim) {
        let Some(test) = DriftTest::ALL.iter().copied().find(|t| t.name().eq_ignore_ascii_case(name)) else {
            let known: Vec<&str> = DriftTest::ALL.iter().map(|t| t.name()).collect();
            return Err(format!("unknown test {name:?} in `tests`: known tests are {}", known.join(", ")));
        };
        if !out.contains(&test) {
            out.push(test);
        }
    }
    Ok(out)
}

/// One version's values of a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// Finite numbers (or timestamps), sorted ascending.
    Numbers(Vec<f64>),
    /// Counts by value.
    Categories(Vec<(String, u64)>),
}

impl Sample {
    /// The finite values of `values`, sorted.
    pub fn numbers(mut values: Vec<f64>) -> Self {
        values.retain(|x| x.is_finite());
        crate::domain::sort::sort_floats(&mut values);
        Sample::Numbers(values)
    }

    pub fn len(&self) -> u64 {
        match self {
            Sample::Numbers(v) => v.len() as u64,
            Sample::Categories(c) => c.iter().map(|(_, n)| n).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The test that decided, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub test: DriftTest,
    pub outcome: Outcome,
    pub threshold: f64,
    pub drift_detected: bool,
}

/// A column's drift: the verdict (none when a version has no value, or the versions'
/// values are not of one kind), each test asked for (none where it does not apply), and the
/// numbers of values compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDrift {
    pub verdict: Option<Verdict>,
    pub tests: Vec<(DriftTest, Option<Outcome>)>,
    pub values_v1: u64,
    pub values_v2: u64,
}

/// What the settings of a comparison ask.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriftOptions {
    /// Tests to report; the first that applies to a column decides its drift (the default
    /// rule decides when none is asked or none applies).
    pub tests: Vec<DriftTest>,
    /// Replaces the threshold of the deciding test.
    pub threshold: Option<f64>,
}

/// The drift of a column between `v1` (the reference) and `v2`.
pub fn column_drift(v1: &Sample, v2: &Sample, options: &DriftOptions) -> ColumnDrift {
    decide(Pair::new(v1, v2), options, v1.len(), v2.len())
}

fn decide(pair: Option<Pair<'_>>, options: &DriftOptions, values_v1: u64, values_v2: u64) -> ColumnDrift {
    let tests = options.tests.iter().map(|&t| (t, pair.as_ref().and_then(|p| p.run(t)))).collect::<Vec<_>>();
    let verdict = pair.as_ref().and_then(|p| {
        let asked = tests.iter().find_map(|(t, o)| o.map(|o| (*t, o)));
        let (test, outcome) = match asked {
            Some(found) => found,
            None => {
                let test = p.default_test();
                (test, p.run(test)?)
            }
        };
        let threshold = options.threshold.unwrap_or(test.default_threshold());
        Some(Verdict { test, outcome, threshold, drift_detected: test.drifted(&outcome, threshold) })
    });
    ColumnDrift { verdict, tests, values_v1, values_v2 }
}

/// The drift of a categorical column from its counts already paired by value.
pub fn paired_column_drift(counts: PairedCounts, options: &DriftOptions) -> ColumnDrift {
    let (n1, n2) = (counts.v1.iter().sum::<u64>(), counts.v2.iter().sum::<u64>());
    let pair = (n1 > 0 && n2 > 0).then(|| Pair { kind: PairKind::Categories(counts), reference_size: n1 });
    decide(pair, options, n1, n2)
}

/// Two samples of one kind, both non-empty, with what the tests need.
struct Pair<'a> {
    kind: PairKind<'a>,
    reference_size: u64,
}

enum PairKind<'a> {
    Numbers {
        v1: &'a [f64],
        v2: &'a [f64],
        as_categories: PairedCounts,
        few_values: bool,
        /// The walk KS and Wasserstein share, taken once for both.
        gap: OnceCell<EcdfGap>,
    },
    Categories(PairedCounts),
}

impl<'a> Pair<'a> {
    fn new(v1: &'a Sample, v2: &'a Sample) -> Option<Self> {
        if v1.is_empty() || v2.is_empty() {
            return None;
        }
        let kind = match (v1, v2) {
            (Sample::Numbers(a), Sample::Numbers(b)) => {
                let few_values = distinct_sorted(a) <= FEW_VALUES;
                let as_categories = if few_values { value_counts(a, b) } else { decile_counts(a, b) };
                PairKind::Numbers { v1: a, v2: b, as_categories, few_values, gap: OnceCell::new() }
            }
            (Sample::Categories(a), Sample::Categories(b)) => PairKind::Categories(PairedCounts::pair(a, b)),
            _ => return None,
        };
        Some(Pair { kind, reference_size: v1.len() })
    }

    fn categories(&self) -> &PairedCounts {
        match &self.kind {
            PairKind::Numbers { as_categories, .. } => as_categories,
            PairKind::Categories(c) => c,
        }
    }

    fn default_test(&self) -> DriftTest {
        let small = self.reference_size <= SMALL_REFERENCE;
        let continuous = matches!(self.kind, PairKind::Numbers { few_values: false, .. });
        match (continuous, small) {
            (true, true) => DriftTest::Ks,
            (true, false) => DriftTest::Wasserstein,
            (false, true) if self.categories().categories() <= 2 => DriftTest::ZTest,
            (false, true) => DriftTest::ChiSquared,
            (false, false) => DriftTest::JensenShannon,
        }
    }

    fn run(&self, test: DriftTest) -> Option<Outcome> {
        match (test, &self.kind) {
            (DriftTest::Ks, PairKind::Numbers { v1, v2, gap, .. }) => {
                let r = ks_from_gap(v1.len(), v2.len(), gap.get_or_init(|| ecdf_gap(v1, v2)));
                Some(Outcome { statistic: r.statistic, p_value: Some(r.p_value) })
            }
            (DriftTest::Wasserstein, PairKind::Numbers { v1, v2, gap, .. }) => {
                normed(gap.get_or_init(|| ecdf_gap(v1, v2)).area, v1).map(|d| Outcome { statistic: d, p_value: None })
            }
            (DriftTest::Ks | DriftTest::Wasserstein, PairKind::Categories(_)) => None,
            (DriftTest::Psi, PairKind::Numbers { v1, v2, .. }) => {
                sorted_numeric_psi(v1, v2).map(|d| Outcome { statistic: d, p_value: None })
            }
            (DriftTest::Psi, PairKind::Categories(c)) => {
                psi(&c.v1, &c.v2).map(|d| Outcome { statistic: d, p_value: None })
            }
            (DriftTest::ChiSquared, _) => chi_squared(self.categories()),
            (DriftTest::ZTest, _) => z_test(self.categories()),
            (DriftTest::JensenShannon, _) => jensen_shannon(self.categories()),
        }
    }
}

fn distinct_sorted(values: &[f64]) -> usize {
    if values.is_empty() {
        return 0;
    }
    1 + values.windows(2).filter(|w| w[0] != w[1]).count()
}

/// Counts of each distinct value of two sorted samples (by numeric order).
fn value_counts(v1: &[f64], v2: &[f64]) -> PairedCounts {
    let counted = |values: &[f64]| -> Vec<(OrderedNumber, u64)> {
        let mut out: Vec<(OrderedNumber, u64)> = Vec::new();
        for &x in values {
            match out.last_mut() {
                Some((last, n)) if last.0 == x => *n += 1,
                _ => out.push((OrderedNumber(x), 1)),
            }
        }
        out
    };
    PairedCounts::pair(&counted(v1), &counted(v2))
}

/// Counts of two samples in the PSI's bins (cut at v1's deciles).
fn decile_counts(v1: &[f64], v2: &[f64]) -> PairedCounts {
    let edges = decile_edges(v1);
    let bins = PairedCounts { v1: sorted_bin_counts(&edges, v1), v2: sorted_bin_counts(&edges, v2) };
    // Bins between equal deciles are empty in both versions: no category.
    let keep: Vec<bool> = bins.v1.iter().zip(&bins.v2).map(|(a, b)| a + b > 0).collect();
    let filter = |counts: &[u64]| counts.iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| *c).collect::<Vec<_>>();
    PairedCounts { v1: filter(&bins.v1), v2: filter(&bins.v2) }
}

/// A finite number ordered numerically (for pairing counts by value).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedNumber(f64);

impl Eq for OrderedNumber {}

impl PartialOrd for OrderedNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedNumber {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(values: impl IntoIterator<Item = f64>) -> Sample {
        Sample::numbers(values.into_iter().collect())
    }

    fn categories(pairs: &[(&str, u64)]) -> Sample {
        Sample::Categories(pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect())
    }

    fn decided(v1: &Sample, v2: &Sample) -> Verdict {
        column_drift(v1, v2, &DriftOptions::default()).verdict.expect("a verdict")
    }

    #[test]
    fn the_default_rule_picks_by_kind_size_and_distinct_values() {
        let small = numbers((0..1000).map(f64::from));
        let large = numbers((0..1001).map(f64::from));
        let few = numbers((0..1000).map(|i| f64::from(i % 5)));
        assert_eq!(decided(&small, &small).test, DriftTest::Ks);
        assert_eq!(decided(&large, &small).test, DriftTest::Wasserstein);
        assert_eq!(decided(&few, &few).test, DriftTest::ChiSquared, "five distinct numbers are categories");
        let two = categories(&[("yes", 600), ("no", 400)]);
        let three = categories(&[("a", 5), ("b", 5), ("c", 5)]);
        let many = categories(&[("a", 600), ("b", 401)]);
        assert_eq!(decided(&two, &two).test, DriftTest::ZTest);
        assert_eq!(decided(&three, &three).test, DriftTest::ChiSquared);
        assert_eq!(decided(&many, &two).test, DriftTest::JensenShannon);
    }

    #[test]
    fn p_values_drift_below_and_distances_at_or_above_the_threshold() {
        let a = numbers((0..200).map(f64::from));
        let b = numbers((0..200).map(|i| f64::from(i) + 150.0));
        let verdict = decided(&a, &b);
        assert_eq!((verdict.test, verdict.threshold, verdict.drift_detected), (DriftTest::Ks, 0.05, true));
        let same = decided(&a, &a);
        assert!(!same.drift_detected);
        let distance = Outcome { statistic: 0.1, p_value: None };
        assert!(DriftTest::Wasserstein.drifted(&distance, 0.1));
        assert!(!DriftTest::Ks.drifted(&Outcome { statistic: 0.3, p_value: Some(0.05) }, 0.05));
    }

    #[test]
    fn asked_tests_are_reported_and_the_first_that_applies_decides() {
        let a = categories(&[("x", 10), ("y", 20)]);
        let b = categories(&[("x", 20), ("y", 10)]);
        let options = DriftOptions {
            tests: vec![DriftTest::Ks, DriftTest::JensenShannon, DriftTest::ChiSquared],
            threshold: Some(0.5),
        };
        let drift = column_drift(&a, &b, &options);
        assert_eq!(drift.tests[0], (DriftTest::Ks, None), "KS does not apply to categories");
        assert!(drift.tests[1].1.is_some() && drift.tests[2].1.is_some());
        let verdict = drift.verdict.unwrap();
        assert_eq!((verdict.test, verdict.threshold), (DriftTest::JensenShannon, 0.5));
        assert_eq!((drift.values_v1, drift.values_v2), (30, 30));
    }

    #[test]
    fn empty_and_mixed_samples_have_no_verdict() {
        let empty = numbers(std::iter::empty());
        let some = numbers([1.0, 2.0]);
        assert_eq!(column_drift(&empty, &some, &DriftOptions::default()).verdict, None);
        assert_eq!(column_drift(&some, &categories(&[("a", 1)]), &DriftOptions::default()).verdict, None);
        let all_missing = numbers([f64::NAN, f64::INFINITY]);
        assert!(all_missing.is_empty());
    }

    #[test]
    fn test_names_parse_case_blind_once_each_and_unknown_ones_are_named() {
        assert_eq!(parse_tests("ks, CHI2,ks").unwrap(), [DriftTest::Ks, DriftTest::ChiSquared]);
        let error = parse_tests("ks,anova").unwrap_err();
        assert!(error.contains("\"anova\"") && error.contains("wasserstein"), "{error}");
        assert!(parse_tests("ks,,psi").is_err());
    }
}
