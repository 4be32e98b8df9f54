//! How a CSV is to be read beyond what is detected ([`CsvReading`]: the uploader's hints, or a
//! source such as a spreadsheet that knows its columns' types), and the rules on columns given
//! a type.

use std::sync::Arc;

use super::sniff::Dialect;
use crate::domain::dtype::DType;
use crate::domain::inference::{ColumnInference, ForcedType, GivenBy, MissingMarkers};
use crate::domain::read_hints::ReadHints;
use crate::ports::tables::IngestError;

/// How to read a CSV beyond what is detected: what the uploader's hints or the file's source
/// say. The default detects everything.
#[derive(Debug, Clone, Default)]
pub struct CsvReading {
    /// The dialect, when known (a CSV this server wrote); otherwise it is detected.
    pub dialect: Option<Dialect>,
    /// Column types given by position (a spreadsheet's cell types); shorter than the columns
    /// or `None`: not given.
    pub column_types: Vec<Option<ForcedType>>,
    /// Column types given by column name (each name must be a column of the file); they
    /// replace those given by position.
    pub dtypes: Vec<(String, ForcedType)>,
    /// The upload's own missing markers (else the defaults).
    pub markers: Option<Arc<MissingMarkers>>,
    /// The text's encoding (else detected).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The field delimiter (else detected).
    pub delimiter: Option<u8>,
    /// Whether the first row is a header (else detected).
    pub header: Option<bool>,
}

impl CsvReading {
    /// How the uploader's hints say to read the text (those that apply to CSV).
    pub fn from_hints(hints: &ReadHints) -> Self {
        let own_markers = hints.na_values.is_some() || hints.keep_default_na == Some(false);
        let markers = own_markers.then(|| {
            let extra = hints.na_values.as_deref().unwrap_or_default();
            Arc::new(MissingMarkers::new(extra, hints.keep_default_na.unwrap_or(true)))
        });
        Self {
            dialect: None,
            column_types: Vec::new(),
            dtypes: hints.dtypes.iter().map(|(name, dtype)| (name.clone(), ForcedType::Dtype(*dtype))).collect(),
            markers,
            encoding: hints.encoding.as_deref().and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes())),
            // ASCII: `ReadHints::parse_delimiter` accepts nothing else.
            delimiter: hints.delimiter.filter(char::is_ascii).map(|c| c as u8),
            header: hints.header,
        }
    }
}

/// Each column's given type (by position, then from `dtypes` by name), or an error naming a
/// name that is no column.
pub(super) fn forced_types(
    names: &[String],
    by_position: &[Option<ForcedType>],
    dtypes: &[(String, ForcedType)],
) -> Result<Vec<Option<(ForcedType, GivenBy)>>, IngestError> {
    let mut forced: Vec<Option<(ForcedType, GivenBy)>> =
        (0..names.len()).map(|k| by_position.get(k).copied().flatten().map(|t| (t, GivenBy::Cells))).collect();
    for (name, given) in dtypes {
        let Some(column) = names.iter().position(|n| n == name) else {
            return Err(IngestError::Invalid(format!(
                "dtypes names the column {name:?}, which the file does not have (its columns: {})",
                names.join(", ")
            )));
        };
        forced[column] = Some((*given, GivenBy::Hint));
    }
    Ok(forced)
}

/// Refuses a column given `datetime64` whose dates are of more than one format (stored alike,
/// they would be silently mixed: a zoned time and a naive one, say), naming the first value
/// of another format.
pub(super) fn refuse_mixed_given_dates(
    names: &[String],
    given_types: &[Option<(ForcedType, GivenBy)>],
    inferences: &[ColumnInference],
) -> Result<(), IngestError> {
    for ((name, given), inference) in names.iter().zip(given_types).zip(inferences) {
        if let Some((ForcedType::Dtype(DType::Datetime64), _)) = given
            && let Some(other) = inference.first_non_date()
        {
            return Err(IngestError::Invalid(format!(
                "column {name:?} is given as datetime64 but data row {} holds {:?}, a date of another format than the column's first",
                other.row + 1,
                &*other.value
            )));
        }
        if let Some((ForcedType::Dtype(DType::Datetime64), _)) = given
            && inference.day_month_contradicted()
        {
            return Err(IngestError::Invalid(format!(
                "column {name:?} is given as datetime64 but its D/M/YYYY dates need both orders: some are dates only with the day first, others only with the month first"
            )));
        }
    }
    Ok(())
}
