//! Canonical record batches → an Excel workbook, with rust_xlsxwriter's constant-memory mode
//! (rows are flushed to a temporary file as they are written).
//!
//! | dtype | cell |
//! |---|---|
//! | int64 | number; beyond ±2⁵³ (not exact as an Excel number) the digits as text |
//! | float64 | number; ±infinity as the text `inf` / `-inf` |
//! | bool | boolean |
//! | datetime64 | Excel date (`yyyy-mm-dd`) or date-time (`yyyy-mm-dd hh:mm:ss`), in UTC for zoned columns; before 1900-03-01 (outside Excel's calendar) the ISO text |
//! | text | text cell, never a formula |
//! | missing | empty cell |

use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::domain::preview::{format_date, format_timestamp};
use crate::ports::tables::ExportError;

/// Rows of a sheet, header included.
pub const EXCEL_MAX_ROWS: u64 = 1_048_576;
pub const EXCEL_MAX_COLUMNS: usize = 16_384;
pub const EXCEL_MAX_CELL_CHARS: usize = 32_767;
/// Integers with a larger magnitude are not exact as Excel numbers.
const EXACT_INTEGER: i64 = 1 << 53;
/// Days from Excel's day 0 (1899-12-30) to 1970-01-01.
const EXCEL_EPOCH_OFFSET_DAYS: f64 = 25_569.0;
/// 1900-03-01 in days since 1970-01-01: Excel serials are continuous from there on.
const FIRST_EXCEL_DAY: i64 = -25_508;
const LAST_EXCEL_DAY: i64 = 2_932_896;
const MICROS_PER_DAY: i64 = 86_400_000_000;

fn excel_error(e: XlsxError) -> ExportError {
    ExportError::DoesNotFit(format!("the workbook cannot be written: {e}"))
}

/// Writes the workbook to `out` from `batches` (pulled one at a time).
pub struct XlsxWriter {
    workbook: Workbook,
    header: Format,
    date: Format,
    datetime: Format,
    next_row: u32,
}

impl XlsxWriter {
    /// A workbook whose document properties say it was created at `created` (the version's
    /// time, so that one version always gives the same bytes).
    pub fn new(temp_dir: &Path, created: i64) -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        workbook.set_tempdir(temp_dir).map_err(excel_error)?;
        let created = ExcelDateTime::from_timestamp(created).map_err(excel_error)?;
        workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
        workbook.add_worksheet_with_constant_memory().map_err(excel_error)?;
        Ok(Self {
            workbook,
            header: Format::new().set_bold(),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            next_row: 0,
        })
    }

    fn sheet(&mut self) -> Result<&mut Worksheet, ExportError> {
        self.workbook.worksheet_from_index(0).map_err(excel_error)
    }

    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        if batch.num_columns() > EXCEL_MAX_COLUMNS {
            return Err(ExportError::DoesNotFit(format!(
                "the dataset has {} columns; Excel holds {EXCEL_MAX_COLUMNS}",
                batch.num_columns()
            )));
        }
        if self.next_row == 0 {
            let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
            let header = self.header.clone();
            let sheet = self.sheet()?;
            for (col, name) in names.iter().enumerate() {
                sheet.write_string_with_format(0, col as u16, name, &header).map_err(excel_error)?;
            }
            self.next_row = 1;
        }
        if u64::from(self.next_row) + batch.num_rows() as u64 > EXCEL_MAX_ROWS {
            return Err(ExportError::DoesNotFit(format!("Excel holds at most {} data rows", EXCEL_MAX_ROWS - 1)));
        }
        let (date, datetime) = (self.date.clone(), self.datetime.clone());
        let first = self.next_row;
        let sheet = self.sheet()?;
        for row in 0..batch.num_rows() {
            let r = first + row as u32;
            for (col, column) in batch.columns().iter().enumerate() {
                write_cell(sheet, r, col as u16, column, row, &date, &datetime)?;
            }
        }
        self.next_row += batch.num_rows() as u32;
        Ok(())
    }

    pub fn save(mut self, path: &Path) -> Result<(), ExportError> {
        self.workbook.save(path).map_err(excel_error)
    }
}

fn text(sheet: &mut Worksheet, r: u32, c: u16, value: &str) -> Result<(), ExportError> {
    if value.chars().count() > EXCEL_MAX_CELL_CHARS {
        return Err(ExportError::DoesNotFit(format!(
            "a text cell (row {r}) is longer than Excel's {EXCEL_MAX_CELL_CHARS} characters"
        )));
    }
    sheet.write_string(r, c, value).map(|_| ()).map_err(excel_error)
}

fn excel_serial(micros: i64) -> Option<f64> {
    let day = micros.div_euclid(MICROS_PER_DAY);
    (FIRST_EXCEL_DAY..=LAST_EXCEL_DAY)
        .contains(&day)
        .then(|| micros as f64 / MICROS_PER_DAY as f64 + EXCEL_EPOCH_OFFSET_DAYS)
}

fn write_cell(
    sheet: &mut Worksheet,
    r: u32,
    c: u16,
    column: &ArrayRef,
    row: usize,
    date: &Format,
    datetime: &Format,
) -> Result<(), ExportError> {
    if column.is_null(row) {
        return Ok(());
    }
    let done = |res: Result<&mut Worksheet, XlsxError>| res.map(|_| ()).map_err(excel_error);
    match column.data_type() {
        DataType::Int64 => {
            let v = column.as_primitive::<Int64Type>().value(row);
            if v.unsigned_abs() > EXACT_INTEGER as u64 {
                text(sheet, r, c, &v.to_string())
            } else {
                done(sheet.write_number(r, c, v as f64))
            }
        }
        DataType::Float64 => {
            let v = column.as_primitive::<Float64Type>().value(row);
            if v.is_finite() {
                done(sheet.write_number(r, c, v))
            } else {
                text(sheet, r, c, if v > 0.0 { "inf" } else { "-inf" })
            }
        }
        DataType::Boolean => done(sheet.write_boolean(r, c, column.as_boolean().value(row))),
        DataType::Utf8 => text(sheet, r, c, column.as_string::<i32>().value(row)),
        DataType::Date32 => {
            let days = column.as_primitive::<Date32Type>().value(row);
            match excel_serial(i64::from(days) * MICROS_PER_DAY) {
                Some(serial) => {
                    let value = ExcelDateTime::from_serial_datetime(serial).map_err(excel_error)?;
                    done(sheet.write_datetime_with_format(r, c, &value, date))
                }
                None => text(sheet, r, c, &format_date(days)),
            }
        }
        DataType::Timestamp(_, tz) => {
            let micros = column.as_primitive::<TimestampMicrosecondType>().value(row);
            match excel_serial(micros) {
                Some(serial) => {
                    let value = ExcelDateTime::from_serial_datetime(serial).map_err(excel_error)?;
                    done(sheet.write_datetime_with_format(r, c, &value, datetime))
                }
                None => text(sheet, r, c, &format_timestamp(micros, tz.is_some())),
            }
        }
        other => text(sheet, r, c, &format!("<{other}>")),
    }
}
