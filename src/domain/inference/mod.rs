//! Type inference for text cells (CSV). These rules are the documented contract of
//! `docs/type-inference.md`; every rule has a test (`tests.rs`).
//!
//! A column's type is decided over **every** value of the column, never a sample:
//!
//! 1. Cells are trimmed of ASCII white space for the checks below (text keeps its raw value).
//! 2. A cell equal to one of [`MISSING_TOKENS`] is missing; missing cells never decide a type.
//! 3. The first rule that every non-missing value satisfies wins, in this order:
//!    `int64` ([`parse_int`]), `float64` ([`parse_float`]), `bool` ([`parse_bool`]),
//!    `datetime64` ([`parse_datetime`], one format family for the whole column), otherwise text.
//! 4. Text is `category` when [`is_category`] holds, else `object`.
//! 5. A column whose values are all missing is `object`.
//!
//! The literal parsers (what an integer, a float, a boolean or a date looks like) are in
//! `literals/`; this file holds the rules that decide a column's type from what they read.

mod evidence;
mod literals;

pub use evidence::{Candidates, GivenBy, RejectedBy, TypeEvidence, text_rule};

pub use literals::{
    DateFamily, DayMonthDate, DayMonthOrder, IntLiteral, Temporal, parse_bool, parse_datetime, parse_day_month,
    parse_float, parse_int,
};

use crate::domain::dtype::{DType, TemporalKind};

/// Cells (after trimming) that mean "no value": exactly pandas' default `na_values` (so that
/// `none`, `NONE` and `Null` — real categories in real files — are values, as in pandas).
pub const MISSING_TOKENS: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// At most this many distinct values for a text column to be `category`.
pub const CATEGORY_MAX_DISTINCT: usize = 50;

/// The longest of [`MISSING_TOKENS`], in bytes.
const LONGEST_MISSING_TOKEN: usize = 8;

/// True when a trimmed cell is one of [`MISSING_TOKENS`].
pub fn is_missing(cell: &str) -> bool {
    let cell = trim(cell).as_bytes();
    // Most cells are longer than every token, or do not start like one: rejected without a
    // comparison. A test checks this against MISSING_TOKENS.
    if cell.len() > LONGEST_MISSING_TOKEN {
        return false;
    }
    match cell {
        b"" | b"NA" | b"#NA" | b"N/A" | b"n/a" | b"NaN" | b"nan" | b"-NaN" | b"-nan" | b"<NA>" | b"#N/A" => true,
        b"NULL" | b"null" | b"None" | b"1.#IND" | b"-1.#IND" | b"1.#QNAN" | b"-1.#QNAN" | b"#N/A N/A" => true,
        _ => false,
    }
}

/// The missing markers of an upload whose uploader changed them (`na_values`,
/// `keep_default_na`): its own markers, and the defaults unless they are turned off. An empty
/// cell is always missing. Compared after trimming, exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingMarkers {
    extra: std::collections::HashSet<String>,
    keep_default: bool,
}

impl MissingMarkers {
    pub fn new(extra: &[String], keep_default: bool) -> Self {
        Self { extra: extra.iter().map(|m| trim(m).to_string()).collect(), keep_default }
    }

    pub fn is_missing(&self, cell: &str) -> bool {
        let cell = trim(cell);
        cell.is_empty() || (self.keep_default && is_missing(cell)) || self.extra.contains(cell)
    }
}

/// Trims ASCII white space (space, tab, CR, LF, form feed) from both ends.
pub fn trim(cell: &str) -> &str {
    let bytes = cell.as_bytes();
    match (bytes.first(), bytes.last()) {
        // The common case: nothing to trim.
        (Some(first), Some(last)) if !first.is_ascii_whitespace() && !last.is_ascii_whitespace() => cell,
        _ => cell.trim_matches(|c: char| c.is_ascii_whitespace()),
    }
}

/// The `category` rule: text with at most [`CATEGORY_MAX_DISTINCT`] distinct values, and at most
/// half as many distinct values as non-missing values (so that a column of unique labels is not
/// a category).
pub fn is_category(distinct: usize, non_missing: u64) -> bool {
    distinct >= 1 && distinct <= CATEGORY_MAX_DISTINCT && (distinct as u64) * 2 <= non_missing
}

/// True when `cell` is text by its first byte alone: a letter that begins no missing token,
/// boolean or infinity (`n`, `N`, `t`, `f`, `y`, `i` in either case), or a non-ASCII byte.
/// Numbers and dates begin with a digit, a sign or a point, and white space is trimmed first,
/// so such a cell fits no other type (a test checks this against every parser).
fn plainly_text(cell: &str) -> bool {
    match cell.as_bytes().first() {
        Some(&b) if b >= 0x80 => true,
        Some(&b) => b.is_ascii_alphabetic() && !matches!(b.to_ascii_lowercase(), b'n' | b't' | b'f' | b'y' | b'i'),
        None => false,
    }
}

/// Distinct values of a text column, tracked until there are more than
/// [`CATEGORY_MAX_DISTINCT`] (then only "too many" is known). Values are compared by 64-bit
/// hash: two different values would have to collide (probability below 10⁻¹⁶) to be counted
/// as one. The hashes sit in a small open-addressing table (at most 51 of [`SLOTS`] slots
/// used), so a value costs one hash and about one probe.
#[derive(Debug, Clone)]
pub struct DistinctValues {
    /// Hashes by slot; 0 marks an empty slot (a value hashing to 0 is stored as 1).
    slots: Box<[u64; SLOTS]>,
    count: usize,
    overflow: bool,
}

const SLOTS: usize = 128;

impl Default for DistinctValues {
    fn default() -> Self {
        Self { slots: Box::new([0; SLOTS]), count: 0, overflow: false }
    }
}

impl DistinctValues {
    pub fn observe(&mut self, value: &str) {
        if !self.overflow {
            self.insert(xxhash_rust::xxh3::xxh3_64(value.as_bytes()).max(1));
        }
    }

    fn insert(&mut self, h: u64) {
        let mut at = (h as usize) % SLOTS;
        loop {
            match self.slots[at] {
                0 => break,
                seen if seen == h => return,
                _ => at = (at + 1) % SLOTS,
            }
        }
        if self.count == CATEGORY_MAX_DISTINCT {
            self.overflow = true;
            self.count = 0;
        } else {
            self.slots[at] = h;
            self.count += 1;
        }
    }

    /// Adds the values `other` saw (the union of both sets of values).
    pub fn merge(&mut self, other: &DistinctValues) {
        if other.overflow {
            self.overflow = true;
        }
        for &h in other.slots.iter().filter(|&&h| h != 0) {
            if self.overflow {
                break;
            }
            self.insert(h);
        }
    }

    /// The number of distinct values, or `None` when there are more than the category limit.
    pub fn count(&self) -> Option<usize> {
        (!self.overflow).then_some(self.count)
    }

    /// The text type for a column with `non_missing` values: `category` or `object`.
    pub fn text_dtype(&self, non_missing: u64) -> DType {
        match self.count() {
            Some(distinct) if is_category(distinct, non_missing) => DType::Category,
            _ => DType::Object,
        }
    }
}

/// Watches every value of one text column and decides its type at the end.
#[derive(Debug, Clone)]
pub struct ColumnInference {
    non_missing: u64,
    missing: u64,
    could_be_int: bool,
    could_be_float: bool,
    could_be_bool: bool,
    could_be_datetime: bool,
    date_family: Option<DateFamily>,
    /// For the day/month families: whether every date so far is a date with the day first,
    /// and with the month first.
    day_first: bool,
    month_first: bool,
    /// Distinct non-missing raw values.
    distinct: DistinctValues,
    /// How many non-missing values each non-text type would accept (for the `mixed_types`
    /// quality check).
    fits: TypeFits,
    /// The upload's own missing markers, when it has them (else [`MISSING_TOKENS`]).
    markers: Option<std::sync::Arc<MissingMarkers>>,
    /// For each non-text type (int, float, bool, datetime), the first value that ruled it out.
    rejected: [Option<Rejection>; 4],
    /// The first date (it set the column's date family).
    first_date: Option<Rejection>,
}

/// A value and its place among the cells an inference observed (0-based; missing cells
/// count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub row: u64,
    pub value: Box<str>,
}

/// Longest text of a value kept as evidence, in characters.
const EVIDENCE_CHARS: usize = 100;

impl Rejection {
    fn new(row: u64, cell: &str) -> Self {
        let value: String = match cell.char_indices().nth(EVIDENCE_CHARS) {
            Some((end, _)) => format!("{}…", &cell[..end]),
            None => cell.to_string(),
        };
        Self { row, value: value.into_boxed_str() }
    }

    fn shifted(&self, rows: u64) -> Self {
        Self { row: self.row + rows, value: self.value.clone() }
    }
}

/// Indexes of [`ColumnInference::rejected`].
const INT: usize = 0;
const FLOAT: usize = 1;
const BOOL: usize = 2;
const DATETIME: usize = 3;

/// Counts of non-missing values that parse as each non-text type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeFits {
    pub int: u64,
    /// Integers count here too.
    pub float: u64,
    pub bool: u64,
    pub datetime: u64,
}

/// A text column whose values mostly fit one non-text type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedColumn {
    pub name: String,
    /// The type most values fit (`int64`, `float64`, `bool` or `datetime64`).
    pub mostly: DType,
    /// Non-missing values that do not fit it.
    pub non_fitting: u64,
    pub non_missing: u64,
}

impl Default for ColumnInference {
    fn default() -> Self {
        Self {
            non_missing: 0,
            missing: 0,
            could_be_int: true,
            could_be_float: true,
            could_be_bool: true,
            could_be_datetime: true,
            date_family: None,
            day_first: true,
            month_first: true,
            distinct: DistinctValues::default(),
            fits: TypeFits::default(),
            markers: None,
            rejected: Default::default(),
            first_date: None,
        }
    }
}

/// A column's decided type and how to store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferredType {
    pub dtype: DType,
    /// For `datetime64` columns, the storage of the column's single format family.
    pub temporal: Option<TemporalKind>,
    /// For `datetime64` columns of a day/month family, the order their values decided.
    pub order: Option<DayMonthOrder>,
}

impl InferredType {
    /// A type with no date storage.
    pub fn plain(dtype: DType) -> Self {
        Self { dtype, temporal: None, order: None }
    }
}

/// A column type given rather than inferred: by the uploader's `dtypes` hint, or by a typed
/// source (a spreadsheet's cells). Every non-missing value must then be a value of the type,
/// else the upload is refused naming the value; nothing is turned into a missing value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForcedType {
    /// Exactly this dtype (`object` and `category` keep every value as text).
    Dtype(DType),
    /// Text, `category` or `object` by the category rule.
    Text,
}

/// What [`ColumnInference::observe`] read a cell as: the value of the first non-text type it
/// fits (types are tried in the order int, float, bool, datetime), so a converter need not
/// parse it again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observed {
    Missing,
    Int(i64),
    /// An integer outside `i64` (only text can hold it exactly).
    BigInt,
    /// A float by [`parse_float`]'s grammar, and its value.
    Float(f64),
    Bool(bool),
    Datetime(Temporal),
    /// A `D/M/YYYY` date whose value depends on which number is the day (no column type
    /// stores it until the column's other values decide).
    AmbiguousDate,
    Text,
}

impl ColumnInference {
    /// An inference that reads cells with `markers` as the missing markers (the defaults when
    /// none).
    pub fn with_markers(markers: Option<std::sync::Arc<MissingMarkers>>) -> Self {
        Self { markers, ..Self::default() }
    }

    /// Counts one cell and says what it was read as.
    pub fn observe(&mut self, cell: &str) -> Observed {
        if self.markers.is_some() {
            return self.observe_with_markers(cell);
        }
        let observed = if plainly_text(cell) {
            self.keep_only(DType::Object, cell);
            Observed::Text
        } else if is_missing(cell) {
            self.missing += 1;
            return Observed::Missing;
        } else {
            self.observe_value(cell)
        };
        self.non_missing += 1;
        self.distinct.observe(cell);
        observed
    }

    /// [`observe`](Self::observe) with the upload's own missing markers.
    fn observe_with_markers(&mut self, cell: &str) -> Observed {
        if self.markers.as_ref().is_some_and(|m| m.is_missing(cell)) {
            self.missing += 1;
            return Observed::Missing;
        }
        let observed = if plainly_text(cell) {
            self.keep_only(DType::Object, cell);
            Observed::Text
        } else {
            self.observe_value(cell)
        };
        self.non_missing += 1;
        self.distinct.observe(cell);
        observed
    }

    /// The type of a non-missing cell that may be a number, boolean or date.
    fn observe_value(&mut self, cell: &str) -> Observed {
        // The non-text types are exclusive (no value parses as two of them), so each value is
        // tried against them in order and parsed at most once per type; the first it fits is
        // counted for the `mixed_types` check.
        match parse_int(cell) {
            IntLiteral::Value(v) => {
                self.fits.int += 1;
                self.fits.float += 1;
                self.keep_only(DType::Int64, cell);
                Observed::Int(v)
            }
            IntLiteral::OutOfRange => {
                // Text, so that no digit is lost to float rounding.
                self.fits.float += 1;
                self.keep_only(DType::Object, cell);
                Observed::BigInt
            }
            IntLiteral::NotAnInteger => match parse_float(cell) {
                Some(v) => {
                    self.fits.float += 1;
                    self.keep_only(DType::Float64, cell);
                    Observed::Float(v)
                }
                None => self.observe_other(cell),
            },
        }
    }

    /// The rest of [`observe`](Self::observe) for a non-missing cell that is not a number.
    fn observe_other(&mut self, cell: &str) -> Observed {
        if let Some(b) = parse_bool(cell) {
            self.fits.bool += 1;
            self.keep_only(DType::Bool, cell);
            return Observed::Bool(b);
        }
        if let Some((family, value)) = parse_datetime(cell) {
            self.count_date(family, cell);
            return Observed::Datetime(value);
        }
        match parse_day_month(cell) {
            Some(date) => {
                self.count_date(date.family, cell);
                self.count_order(&date);
                date.unambiguous().map_or(Observed::AmbiguousDate, Observed::Datetime)
            }
            None => {
                self.keep_only(DType::Object, cell);
                Observed::Text
            }
        }
    }

    /// Counts a date of `family` (a column holds one family).
    fn count_date(&mut self, family: DateFamily, cell: &str) {
        self.fits.datetime += 1;
        self.keep_only(DType::Datetime64, cell);
        if self.date_family.is_some_and(|f| f != family) {
            if self.could_be_datetime {
                self.rejected[DATETIME] = Some(Rejection::new(self.observed(), cell));
            }
            self.could_be_datetime = false;
        }
        self.set_date_family(family, cell);
    }

    /// Records the column's date family, at its first date.
    fn set_date_family(&mut self, family: DateFamily, cell: &str) {
        if self.date_family.is_none() {
            self.date_family = Some(family);
            self.first_date = Some(Rejection::new(self.observed(), cell));
        }
    }

    /// Cells observed so far (missing ones too): the index of the next.
    fn observed(&self) -> u64 {
        self.non_missing + self.missing
    }

    /// Rules out the day/month orders under which `date` is no date.
    fn count_order(&mut self, date: &DayMonthDate) {
        self.day_first &= date.day_first.is_some();
        self.month_first &= date.month_first.is_some();
    }

    /// The day/month order every value allows, when exactly one does.
    fn order(&self) -> Option<DayMonthOrder> {
        match (self.day_first, self.month_first) {
            (true, false) => Some(DayMonthOrder::DayFirst),
            (false, true) => Some(DayMonthOrder::MonthFirst),
            _ => None,
        }
    }

    /// [`observe`](Self::observe) for a pass that converts the column to `guess`, a type
    /// inferred from cells that the same pass also observes (in this inference or one merged
    /// with it). A cell that is a value of the guessed type is counted without trying the
    /// types before it (they are ruled out by the cells the guess came from) and, for
    /// non-text guesses, without tracking distinct values; any other cell is observed in
    /// full. The result decides exactly like [`observe`](Self::observe) would whenever it
    /// decides `guess`'s type, and decides some other type otherwise (then the caller must
    /// read the column again with the decided type as its guess).
    pub fn observe_as(&mut self, cell: &str, guess: &InferredType) -> Observed {
        if self.markers.is_some() {
            // A marker may look like a value of the guessed type (`-1`): checked first.
            return self.observe_as_with_markers(cell, guess);
        }
        self.observe_as_value(cell, guess)
    }

    fn observe_as_with_markers(&mut self, cell: &str, guess: &InferredType) -> Observed {
        if self.markers.as_ref().is_some_and(|m| m.is_missing(cell)) {
            self.missing += 1;
            return Observed::Missing;
        }
        self.observe_as_value(cell, guess)
    }

    /// [`observe_as`](Self::observe_as) of a cell that is not one of the upload's own markers.
    fn observe_as_value(&mut self, cell: &str, guess: &InferredType) -> Observed {
        let fast = match guess.dtype {
            DType::Int64 => match parse_int(cell) {
                IntLiteral::Value(v) => {
                    self.fits.int += 1;
                    self.fits.float += 1;
                    Some(Observed::Int(v))
                }
                _ => None,
            },
            // A long run of digits may be an integer beyond int64, which only text holds exactly:
            // such cells take the full path.
            DType::Float64 if trim(cell).len() < 19 => parse_float(cell).map(|v| {
                self.fits.float += 1;
                Observed::Float(v)
            }),
            DType::Float64 => None,
            DType::Bool => parse_bool(cell).map(|b| {
                self.fits.bool += 1;
                Observed::Bool(b)
            }),
            DType::Datetime64 => match guess.order {
                None => match parse_datetime(cell) {
                    Some((family, value)) if self.date_family.is_none_or(|known| known == family) => {
                        self.set_date_family(family, cell);
                        self.fits.datetime += 1;
                        Some(Observed::Datetime(value))
                    }
                    _ => None,
                },
                // A day/month date is read in the guessed order when it is a date in it.
                Some(order) => match parse_day_month(cell) {
                    Some(date) if self.date_family.is_none_or(|known| known == date.family) => {
                        date.value(order).map(|value| {
                            self.set_date_family(date.family, cell);
                            self.count_order(&date);
                            self.fits.datetime += 1;
                            Observed::Datetime(value)
                        })
                    }
                    _ => None,
                },
            },
            DType::Object | DType::Category => None,
        };
        match fast {
            Some(observed) => {
                self.keep_only(guess.dtype, cell);
                self.non_missing += 1;
                observed
            }
            None => self.observe(cell),
        }
    }

    /// Counts a value of type `dtype` against the types: every non-text type it is not a value
    /// of becomes impossible (an integer is also a float; text rules out all of them), and
    /// `cell` is recorded as what ruled it out.
    fn keep_only(&mut self, dtype: DType, cell: &str) {
        let keeps = [
            dtype == DType::Int64,
            matches!(dtype, DType::Int64 | DType::Float64),
            dtype == DType::Bool,
            dtype == DType::Datetime64,
        ];
        let could = [self.could_be_int, self.could_be_float, self.could_be_bool, self.could_be_datetime];
        if could.iter().zip(&keeps).any(|(&could, &keeps)| could && !keeps) {
            let row = self.observed();
            for k in (0..4).filter(|&k| could[k] && !keeps[k]) {
                self.rejected[k].get_or_insert_with(|| Rejection::new(row, cell));
            }
        }
        self.could_be_int &= keeps[INT];
        self.could_be_float &= keeps[FLOAT];
        self.could_be_bool &= keeps[BOOL];
        self.could_be_datetime &= keeps[DATETIME];
    }

    pub fn missing(&self) -> u64 {
        self.missing
    }

    /// The first value that ruled out `datetime64` (a non-date, or a date of a second
    /// format), if one did.
    pub fn first_non_date(&self) -> Option<&Rejection> {
        self.rejected[DATETIME].as_ref()
    }

    /// True when the column's `D/M/YYYY` dates need both orders (some are dates only with the
    /// day first, others only with the month first).
    pub fn day_month_contradicted(&self) -> bool {
        matches!(self.date_family, Some(DateFamily::DayMonthDate | DateFamily::DayMonthDateTime))
            && !self.day_first
            && !self.month_first
    }

    /// Adds what `other` saw of another part of the same column: the result is what one
    /// inference over both parts' values (in any order) would have seen.
    pub fn merge(&mut self, other: &ColumnInference) {
        // `other`'s cells come after this one's.
        let offset = self.observed();
        for (mine, theirs) in self.rejected.iter_mut().zip(&other.rejected) {
            if mine.is_none() {
                *mine = theirs.as_ref().map(|r| r.shifted(offset));
            }
        }
        if let (Some(a), Some(b)) = (self.date_family, other.date_family)
            && a != b
            && self.could_be_datetime
            && let Some(first) = &other.first_date
        {
            // Its first date is of another family; an earlier rejection in it came first.
            let conflict = first.shifted(offset);
            let earlier = self.rejected[DATETIME].take().filter(|r| r.row < conflict.row);
            self.rejected[DATETIME] = Some(earlier.unwrap_or(conflict));
        }
        if self.first_date.is_none() {
            self.first_date = other.first_date.as_ref().map(|r| r.shifted(offset));
        }
        self.non_missing += other.non_missing;
        self.missing += other.missing;
        self.could_be_int &= other.could_be_int;
        self.could_be_float &= other.could_be_float;
        self.could_be_bool &= other.could_be_bool;
        self.could_be_datetime &= other.could_be_datetime;
        match (self.date_family, other.date_family) {
            (Some(a), Some(b)) if a != b => self.could_be_datetime = false,
            (None, Some(b)) => self.date_family = Some(b),
            _ => {}
        }
        self.day_first &= other.day_first;
        self.month_first &= other.month_first;
        self.distinct.merge(&other.distinct);
        self.fits.int += other.fits.int;
        self.fits.float += other.fits.float;
        self.fits.bool += other.fits.bool;
        self.fits.datetime += other.fits.datetime;
    }

    /// When the column is text but at least half of its non-missing values fit one non-text
    /// type: that type and how many values do not fit it.
    pub fn mixed(&self, name: &str) -> Option<MixedColumn> {
        if !self.decide().dtype.is_text() || self.non_missing == 0 {
            return None;
        }
        let f = self.fits;
        let (mostly, fitting) =
            [(DType::Int64, f.int), (DType::Float64, f.float), (DType::Bool, f.bool), (DType::Datetime64, f.datetime)]
                .into_iter()
                .max_by_key(|&(d, n)| (n, d == DType::Int64))?;
        (fitting * 2 >= self.non_missing).then(|| MixedColumn {
            name: name.to_string(),
            mostly,
            non_fitting: self.non_missing - fitting,
            non_missing: self.non_missing,
        })
    }

    /// The type of a column forced to `forced`: its storage, whatever its values would infer.
    /// A forced `datetime64` is stored like the dates its values parsed as (timestamps when
    /// none did).
    pub fn forced(&self, forced: ForcedType) -> InferredType {
        match forced {
            ForcedType::Text => InferredType::plain(self.distinct.text_dtype(self.non_missing)),
            ForcedType::Dtype(DType::Datetime64) => InferredType {
                dtype: DType::Datetime64,
                temporal: Some(self.date_family.map_or(TemporalKind::Naive, DateFamily::temporal_kind)),
                order: self.day_month_order(),
            },
            ForcedType::Dtype(dtype) => InferredType::plain(dtype),
        }
    }

    /// For a column of a day/month family, the order its values decide.
    fn day_month_order(&self) -> Option<DayMonthOrder> {
        match self.date_family {
            Some(DateFamily::DayMonthDate | DateFamily::DayMonthDateTime) => self.order(),
            _ => None,
        }
    }

    pub fn decide(&self) -> InferredType {
        let plain = InferredType::plain;
        if self.non_missing == 0 {
            return plain(DType::Object);
        }
        if self.could_be_int {
            return plain(DType::Int64);
        }
        if self.could_be_float {
            return plain(DType::Float64);
        }
        if self.could_be_bool {
            return plain(DType::Bool);
        }
        if self.could_be_datetime {
            let temporal = self.date_family.map(DateFamily::temporal_kind);
            let order = self.day_month_order();
            // A day/month column whose values leave the order open (or contradict each other)
            // stays text.
            let day_month = matches!(self.date_family, Some(DateFamily::DayMonthDate | DateFamily::DayMonthDateTime));
            if !day_month || order.is_some() {
                return InferredType { dtype: DType::Datetime64, temporal, order };
            }
        }
        plain(self.distinct.text_dtype(self.non_missing))
    }
}

#[cfg(test)]
mod tests;
