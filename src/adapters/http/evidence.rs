//! The type evidence of `GET /api/datasets/{id}/columns?evidence=true`
//! (`domain::inference::TypeEvidence`).

use std::collections::BTreeMap;

use poem_openapi::Object;

use crate::domain::inference::TypeEvidence;

/// Why a column has its type, gathered while every value was read at upload.
#[derive(Object, Debug, Clone)]
pub struct TypeEvidenceDto {
    pub non_missing: u64,
    pub missing: u64,
    /// How many non-missing values each non-text type accepted (an integer also counts as a
    /// float); absent for Parquet and Arrow files, whose types are the file's.
    #[oai(skip_serializing_if_is_none)]
    pub candidates: Option<CandidatesDto>,
    /// For each non-text type ruled out, the first value that ruled it out and its data row
    /// (1-based, the header not counted).
    pub rejected_by: BTreeMap<String, RejectedByDto>,
    /// The format of a `datetime64` column's values (`YYYY-MM-DD`, `DD/MM/YYYY`, …), or of a
    /// text column whose dates left the day/month order open.
    #[oai(skip_serializing_if_is_none)]
    pub datetime_format: Option<String>,
    /// The rule that decided, e.g. `category: 12 distinct values in 50,000 non-missing values`.
    pub rule: String,
}

#[derive(Object, Debug, Clone)]
pub struct CandidatesDto {
    pub int64: u64,
    pub float64: u64,
    pub bool: u64,
    pub datetime64: u64,
}

#[derive(Object, Debug, Clone)]
pub struct RejectedByDto {
    pub row: u64,
    pub value: String,
}

impl From<&TypeEvidence> for TypeEvidenceDto {
    fn from(e: &TypeEvidence) -> Self {
        Self {
            non_missing: e.non_missing,
            missing: e.missing,
            candidates: e.candidates.map(|c| CandidatesDto {
                int64: c.int64,
                float64: c.float64,
                bool: c.bool,
                datetime64: c.datetime64,
            }),
            rejected_by: e
                .rejected_by
                .iter()
                .map(|(dtype, r)| (dtype.as_str().to_string(), RejectedByDto { row: r.row, value: r.value.clone() }))
                .collect(),
            datetime_format: e.datetime_format.clone(),
            rule: e.rule.clone(),
        }
    }
}
