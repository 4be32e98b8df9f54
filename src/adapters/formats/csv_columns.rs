//! The typed columns a CSV becomes: the Arrow type of each inferred column type, the builders
//! that append a column's cells as parsed during inference, and a block's columns batched and
//! encoded into row groups.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::digest_relay::DigestRelay;
use super::sink::{EncodedRowGroup, RowGroupEncoder, batch_rows, group_rows};
use crate::domain::dtype::{DType, TemporalKind};
use crate::domain::inference::{InferredType, Observed, Temporal, parse_float};
use crate::domain::preview::{PREVIEW_ROWS, PreviewRow, extend_preview};
use crate::domain::quality::QualityAccumulator;
use crate::ports::tables::IngestError;

pub(super) fn canonical_schema(names: &[String], types: &[InferredType]) -> SchemaRef {
    let fields: Vec<Field> = names.iter().zip(types).map(|(name, t)| Field::new(name, arrow_type(t), true)).collect();
    Arc::new(Schema::new(fields))
}

pub(super) fn arrow_type(t: &InferredType) -> DataType {
    match t.dtype {
        DType::Int64 => DataType::Int64,
        DType::Float64 => DataType::Float64,
        DType::Bool => DataType::Boolean,
        DType::Datetime64 => t.temporal.unwrap_or(TemporalKind::Naive).arrow_type(),
        DType::Object | DType::Category => DataType::Utf8,
    }
}

pub(super) enum ColumnBuilder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Text(StringBuilder),
}

impl ColumnBuilder {
    pub(super) fn new(t: &InferredType, capacity: usize) -> Self {
        match (t.dtype, t.temporal) {
            (DType::Int64, _) => Self::Int(Int64Builder::with_capacity(capacity)),
            (DType::Float64, _) => Self::Float(Float64Builder::with_capacity(capacity)),
            (DType::Bool, _) => Self::Bool(BooleanBuilder::with_capacity(capacity)),
            (DType::Datetime64, Some(TemporalKind::Date)) => Self::Date(Date32Builder::with_capacity(capacity)),
            (DType::Datetime64, kind) => {
                let builder = TimestampMicrosecondBuilder::with_capacity(capacity);
                Self::Timestamp(if kind == Some(TemporalKind::Utc) { builder.with_timezone("UTC") } else { builder })
            }
            (DType::Object | DType::Category, _) => Self::Text(StringBuilder::with_capacity(capacity, capacity * 8)),
        }
    }

    /// Appends one cell, given what inference read it as; false when it does not fit the
    /// column's type (nothing is appended then).
    pub(super) fn append(&mut self, cell: &str, observed: Observed) -> bool {
        match (self, observed) {
            (Self::Int(b), Observed::Missing) => b.append_null(),
            (Self::Float(b), Observed::Missing) => b.append_null(),
            (Self::Bool(b), Observed::Missing) => b.append_null(),
            (Self::Date(b), Observed::Missing) => b.append_null(),
            (Self::Timestamp(b), Observed::Missing) => b.append_null(),
            (Self::Text(b), Observed::Missing) => b.append_null(),
            (Self::Int(b), Observed::Int(v)) => b.append_value(v),
            (Self::Float(b), Observed::Float(v)) => b.append_value(v),
            // Parsed from the text (not converted from the integer) so that `-0` stays `-0.0`; an
            // integer beyond int64 is a float too when the column is given `float64` (inferred,
            // such a column is text, so that no digit is lost).
            (Self::Float(b), Observed::Int(_) | Observed::BigInt) => match parse_float(cell) {
                Some(v) => b.append_value(v),
                None => return false,
            },
            (Self::Bool(b), Observed::Bool(v)) => b.append_value(v),
            (Self::Date(b), Observed::Datetime(Temporal::Date(d))) => b.append_value(d),
            (Self::Timestamp(b), Observed::Datetime(Temporal::Micros(t))) => b.append_value(t),
            (Self::Text(b), _) => b.append_value(cell),
            _ => return false,
        }
        true
    }

    /// The column built so far; the builder starts again with room for `rows` values (and, for
    /// text, as many bytes as this batch's values took), since Arrow's builders give their
    /// buffers away and would otherwise grow them again from nothing for every batch.
    pub(super) fn finish(&mut self, rows: usize) -> ArrayRef {
        match self {
            Self::Int(b) => Arc::new(std::mem::replace(b, Int64Builder::with_capacity(rows)).finish()),
            Self::Float(b) => Arc::new(std::mem::replace(b, Float64Builder::with_capacity(rows)).finish()),
            Self::Bool(b) => Arc::new(std::mem::replace(b, BooleanBuilder::with_capacity(rows)).finish()),
            Self::Date(b) => Arc::new(std::mem::replace(b, Date32Builder::with_capacity(rows)).finish()),
            Self::Timestamp(b) => {
                let array = b.finish();
                *b = TimestampMicrosecondBuilder::with_capacity(rows).with_data_type(array.data_type().clone());
                Arc::new(array)
            }
            Self::Text(b) => {
                let bytes = b.values_slice().len();
                Arc::new(std::mem::replace(b, StringBuilder::with_capacity(rows, bytes + bytes / 8)).finish())
            }
        }
    }
}

/// Record batches being built and encoded into row groups for one block (number `block`),
/// and handed to the relay that digests the columns.
pub(super) struct BlockEncoding<'a> {
    pub(super) builders: Vec<ColumnBuilder>,
    pub(super) pending: usize,
    pub(super) per_batch: usize,
    rows_per_group: usize,
    encoder: &'a RowGroupEncoder,
    relay: &'a DigestRelay,
    block: usize,
    group: super::sink::RowGroupWriter,
    groups: Vec<EncodedRowGroup>,
    preview: Vec<PreviewRow>,
}

impl<'a> BlockEncoding<'a> {
    pub(super) fn new(
        types: &[InferredType],
        encoder: &'a RowGroupEncoder,
        relay: &'a DigestRelay,
        block: usize,
    ) -> Result<Self, IngestError> {
        let per_batch = batch_rows(types.len());
        Ok(Self {
            builders: types.iter().map(|t| ColumnBuilder::new(t, per_batch)).collect(),
            pending: 0,
            per_batch,
            rows_per_group: group_rows(types.len()),
            encoder,
            relay,
            block,
            group: encoder.row_group()?,
            groups: Vec::new(),
            preview: Vec::new(),
        })
    }

    /// Encodes the rows appended since the last batch; the builders then have room for
    /// `next_rows` rows.
    pub(super) fn flush(
        &mut self,
        schema: &SchemaRef,
        quality: &mut QualityAccumulator,
        next_rows: usize,
    ) -> Result<(), IngestError> {
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(|b| b.finish(next_rows)).collect();
        let batch = RecordBatch::try_new(Arc::clone(schema), columns)
            .map_err(|e| IngestError::Io(format!("building a record batch: {e}")))?;
        self.pending = 0;
        quality.observe(&batch);
        extend_preview(&mut self.preview, &batch, PREVIEW_ROWS);
        self.group.write(&batch)?;
        self.relay.add(self.block, batch);
        if self.group.rows() >= self.rows_per_group {
            let full = std::mem::replace(&mut self.group, self.encoder.row_group()?);
            self.groups.push(full.finish()?);
        }
        Ok(())
    }

    /// Encodes the last rows and tells the relay the block ended.
    pub(super) fn finish(
        mut self,
        schema: &SchemaRef,
        quality: &mut QualityAccumulator,
    ) -> Result<(Vec<EncodedRowGroup>, Vec<PreviewRow>), IngestError> {
        if self.pending > 0 {
            self.flush(schema, quality, 0)?;
        }
        self.relay.end(self.block);
        if self.group.rows() > 0 {
            self.groups.push(self.group.finish()?);
        }
        Ok((self.groups, self.preview))
    }
}
