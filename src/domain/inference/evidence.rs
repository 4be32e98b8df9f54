//! Why a column has its type: the evidence inference gathered while it read every value
//! (`GET /api/datasets/{id}/columns?evidence=true`). Computed during ingest from the same
//! inference that decided the type; nothing is read again.

use serde::{Deserialize, Serialize};

use super::{
    BOOL, CATEGORY_MAX_DISTINCT, ColumnInference, DATETIME, DistinctValues, FLOAT, ForcedType, INT, InferredType,
};
use crate::domain::dtype::DType;

/// The evidence of one column's type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeEvidence {
    pub non_missing: u64,
    pub missing: u64,
    /// How many non-missing values each non-text type accepted (an integer is also a float);
    /// absent for typed inputs (Parquet, Arrow), whose types are the file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Candidates>,
    /// For each non-text type ruled out, the first value that ruled it out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_by: Vec<(DType, RejectedBy)>,
    /// The format of a `datetime64` column's values (e.g. `YYYY-MM-DD`, `DD/MM/YYYY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datetime_format: Option<String>,
    /// The rule that decided, in words.
    pub rule: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidates {
    pub int64: u64,
    pub float64: u64,
    pub bool: u64,
    pub datetime64: u64,
}

/// A value that ruled a type out, and its data row (1-based, the header not counted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedBy {
    pub row: u64,
    pub value: String,
}

/// Who gave a column its type when inference did not decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GivenBy {
    /// The uploader's `dtypes` hint.
    Hint,
    /// The spreadsheet's cells.
    Cells,
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl ColumnInference {
    /// The evidence for `decided`, the column's type (given by `given`, when it was).
    pub fn evidence(&self, decided: &InferredType, given: Option<(ForcedType, GivenBy)>) -> TypeEvidence {
        let f = self.fits;
        let names = [(INT, DType::Int64), (FLOAT, DType::Float64), (BOOL, DType::Bool), (DATETIME, DType::Datetime64)];
        let rejected_by = names
            .iter()
            .filter_map(|&(k, dtype)| {
                let r = self.rejected[k].as_ref()?;
                Some((dtype, RejectedBy { row: r.row + 1, value: r.value.to_string() }))
            })
            .collect();
        let datetime_format = match self.date_family {
            Some(family) if decided.dtype == DType::Datetime64 || self.could_be_datetime => {
                Some(family.pattern(decided.order.or_else(|| self.day_month_order())).to_string())
            }
            _ => None,
        };
        TypeEvidence {
            non_missing: self.non_missing,
            missing: self.missing,
            candidates: Some(Candidates { int64: f.int, float64: f.float, bool: f.bool, datetime64: f.datetime }),
            rejected_by,
            datetime_format,
            rule: self.rule(decided, given),
        }
    }

    fn rule(&self, decided: &InferredType, given: Option<(ForcedType, GivenBy)>) -> String {
        let n = thousands(self.non_missing);
        let dtype = decided.dtype.as_str();
        match given {
            Some((_, GivenBy::Hint)) => return format!("{dtype}: given by the dtypes hint"),
            Some((ForcedType::Dtype(_), GivenBy::Cells)) => {
                return format!("{dtype}: the spreadsheet's cells are all of this type");
            }
            Some((ForcedType::Text, GivenBy::Cells)) => {
                return format!(
                    "{}: the spreadsheet's cells hold text, or more than one kind of value",
                    self.text_rule()
                );
            }
            None => {}
        }
        match decided.dtype {
            _ if self.non_missing == 0 => "object: every value is missing".into(),
            DType::Int64 => format!("int64: all {n} non-missing values are integers"),
            DType::Float64 => format!("float64: all {n} non-missing values are numbers, not all integers"),
            DType::Bool => format!("bool: all {n} non-missing values are true/false or yes/no"),
            DType::Datetime64 => format!("datetime64: all {n} non-missing values are dates of one format"),
            DType::Object | DType::Category => {
                let ambiguous = self.could_be_datetime && self.date_family.is_some();
                if ambiguous {
                    format!(
                        "{}: every value is a D/M/YYYY date but no value decides whether the day or the month comes first",
                        self.text_rule()
                    )
                } else {
                    self.text_rule()
                }
            }
        }
    }

    fn text_rule(&self) -> String {
        text_rule(&self.distinct, self.non_missing)
    }
}

/// The category rule's verdict on a text column, in words.
pub fn text_rule(distinct: &DistinctValues, non_missing: u64) -> String {
    let n = thousands(non_missing);
    match distinct.count() {
        _ if non_missing == 0 => "object: every value is missing".into(),
        None => format!("object: more than {CATEGORY_MAX_DISTINCT} distinct values in {n} non-missing values"),
        Some(d) if super::is_category(d, non_missing) => {
            format!("category: {d} distinct values in {n} non-missing values")
        }
        Some(d) => format!(
            "object: {d} distinct values in {n} non-missing values (a category has at most half as many distinct values as values)"
        ),
    }
}

impl TypeEvidence {
    /// The evidence of a column of a typed input (Parquet, Arrow) of `source_type`: its type
    /// is the file's (for text, with the category rule's verdict on its `distinct` values).
    pub fn of_typed_column(
        source_type: &str,
        dtype: DType,
        non_missing: u64,
        rows: u64,
        distinct: Option<&DistinctValues>,
    ) -> Self {
        let rule = match distinct {
            Some(distinct) => format!("{} (the file's type: {source_type})", text_rule(distinct, non_missing)),
            None => format!("{}: the file's type is {source_type}", dtype.as_str()),
        };
        Self {
            non_missing,
            missing: rows.saturating_sub(non_missing),
            candidates: None,
            rejected_by: Vec::new(),
            datetime_format: None,
            rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence_of(values: &[&str]) -> TypeEvidence {
        let mut c = ColumnInference::default();
        for v in values {
            c.observe(v);
        }
        c.evidence(&c.decide(), None)
    }

    #[test]
    fn evidence_counts_what_each_type_accepted_and_names_the_first_value_that_ruled_it_out() {
        let e = evidence_of(&["1", "2", "NA", "2.5", "x", "3"]);
        assert_eq!((e.non_missing, e.missing), (5, 1));
        assert_eq!(e.candidates, Some(Candidates { int64: 3, float64: 4, bool: 0, datetime64: 0 }));
        let rejected: Vec<(DType, u64, &str)> =
            e.rejected_by.iter().map(|(d, r)| (*d, r.row, r.value.as_str())).collect();
        assert_eq!(
            rejected,
            [(DType::Int64, 4, "2.5"), (DType::Float64, 5, "x"), (DType::Bool, 1, "1"), (DType::Datetime64, 1, "1")]
        );
        assert_eq!(
            e.rule,
            "object: 5 distinct values in 5 non-missing values (a category has at most half as many distinct values as values)"
        );
    }

    #[test]
    fn rules_say_why_in_words() {
        assert_eq!(evidence_of(&["1", "2"]).rule, "int64: all 2 non-missing values are integers");
        let e = evidence_of(&["2024-01-02", "2024-01-03"]);
        assert_eq!(e.datetime_format.as_deref(), Some("YYYY-MM-DD"));
        let e = evidence_of(&["13/01/2020", "01/02/2020"]);
        assert_eq!(e.datetime_format.as_deref(), Some("DD/MM/YYYY"));
        let e = evidence_of(&["01/02/2020", "03/04/2020"]);
        assert!(e.rule.contains("no value decides"), "{}", e.rule);
        let many: Vec<String> = (0..60_000).map(|i| ["a", "b", "c"][i % 3].to_string()).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(evidence_of(&refs).rule, "category: 3 distinct values in 60,000 non-missing values");
        assert_eq!(evidence_of(&["", "NA"]).rule, "object: every value is missing");
    }

    #[test]
    fn merged_parts_give_the_evidence_of_the_whole_column_with_rows_counted_across_parts() {
        let columns: [&[&str]; 3] = [
            &["1", "", "2024-01-01", "2", "2024/01/02", "x", "2.5"],
            &["2024-01-01", "", "2024-01-02", "2024/01/02", "2024-01-03"],
            &["true", "", "no", "13/01/2020", "01/02/2020"],
        ];
        for values in columns {
            let whole = evidence_of(values);
            for split in 0..=values.len() {
                let (mut left, mut right) = (ColumnInference::default(), ColumnInference::default());
                values[..split].iter().for_each(|v| {
                    left.observe(v);
                });
                values[split..].iter().for_each(|v| {
                    right.observe(v);
                });
                left.merge(&right);
                assert_eq!(left.evidence(&left.decide(), None), whole, "{values:?} split at {split}");
            }
        }
        let dates = evidence_of(&["2024-01-01", "", "2024-01-02", "2024/01/02"]);
        assert_eq!(dates.rejected_by[3], (DType::Datetime64, RejectedBy { row: 4, value: "2024/01/02".into() }));
    }
}
