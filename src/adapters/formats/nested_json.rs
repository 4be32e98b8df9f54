//! Nested Parquet values (lists, structs, maps) as JSON text, for `object` columns.
//!
//! Rules: a list (or fixed-size list) is a JSON array; a struct is a JSON object with its
//! fields in schema order; a map is a JSON object whose keys are the map keys' text (a repeated
//! key keeps its last value); booleans are JSON booleans; integers and floats are JSON numbers
//! (a non-finite float is the string `"NaN"`, `"inf"` or `"-inf"`); a decimal is a string of its
//! digits, exactly as scaled (JSON readers would round it to a double); a null is `null`;
//! every other value (text, dates, times, binary) is a JSON string of Arrow's display form.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Value};

/// A value renderer built once per array (and its children), then asked for each row.
pub struct JsonRender<'a> {
    array: &'a dyn Array,
    node: Node<'a>,
}

enum Node<'a> {
    Bool,
    Number(ArrayFormatter<'a>),
    Decimal(ArrayFormatter<'a>),
    Text(ArrayFormatter<'a>),
    List { offsets: Vec<usize>, child: Box<JsonRender<'a>> },
    Struct { fields: Vec<(String, JsonRender<'a>)> },
    Map { offsets: Vec<usize>, keys: Box<JsonRender<'a>>, values: Box<JsonRender<'a>> },
}

/// Whether values of `data_type` are rendered by this module.
pub fn is_nested(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::Struct(_)
            | DataType::Map(..)
    )
}

impl<'a> JsonRender<'a> {
    pub fn new(array: &'a dyn Array) -> Result<Self, ArrowError> {
        let options = FormatOptions::default();
        let node = match array.data_type() {
            DataType::Boolean => Node::Bool,
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                let offsets = list.value_offsets().iter().map(|&o| o as usize).collect();
                Node::List { offsets, child: Box::new(JsonRender::new(list.values().as_ref())?) }
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                let offsets = list.value_offsets().iter().map(|&o| o as usize).collect();
                Node::List { offsets, child: Box::new(JsonRender::new(list.values().as_ref())?) }
            }
            DataType::FixedSizeList(_, size) => {
                let list = array.as_fixed_size_list();
                let size = *size as usize;
                let offsets = (0..=list.len()).map(|i| i * size).collect();
                Node::List { offsets, child: Box::new(JsonRender::new(list.values().as_ref())?) }
            }
            DataType::Struct(fields) => {
                let parts = array.as_struct();
                let fields = fields
                    .iter()
                    .zip(parts.columns())
                    .map(|(field, column)| Ok((field.name().clone(), JsonRender::new(column.as_ref())?)))
                    .collect::<Result<_, ArrowError>>()?;
                Node::Struct { fields }
            }
            DataType::Map(..) => {
                let map = array.as_map();
                let offsets = map.value_offsets().iter().map(|&o| o as usize).collect();
                Node::Map {
                    offsets,
                    keys: Box::new(JsonRender::new(map.keys().as_ref())?),
                    values: Box::new(JsonRender::new(map.values().as_ref())?),
                }
            }
            DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
                Node::Decimal(ArrayFormatter::try_new(array, &options)?)
            }
            t if t.is_numeric() => Node::Number(ArrayFormatter::try_new(array, &options)?),
            _ => Node::Text(ArrayFormatter::try_new(array, &options)?),
        };
        Ok(Self { array, node })
    }

    /// The value of row `i` as JSON.
    pub fn value(&self, i: usize) -> Value {
        if self.array.is_null(i) {
            return Value::Null;
        }
        match &self.node {
            Node::Bool => Value::Bool(self.array.as_boolean().value(i)),
            Node::Number(format) => {
                let text = format.value(i).to_string();
                match serde_json::from_str::<serde_json::Number>(&text) {
                    Ok(number) => Value::Number(number),
                    Err(_) => Value::String(text),
                }
            }
            Node::Decimal(format) => Value::String(format.value(i).to_string()),
            Node::Text(format) => Value::String(format.value(i).to_string()),
            Node::List { offsets, child } => {
                Value::Array((offsets[i]..offsets[i + 1]).map(|j| child.value(j)).collect())
            }
            Node::Struct { fields } => {
                Value::Object(fields.iter().map(|(name, field)| (name.clone(), field.value(i))).collect())
            }
            Node::Map { offsets, keys, values } => {
                let mut object = Map::new();
                for j in offsets[i]..offsets[i + 1] {
                    let key = match keys.value(j) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    object.insert(key, values.value(j));
                }
                Value::Object(object)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Builder, ListArray, MapBuilder, StringArray,
        StringBuilder, StructArray,
    };
    use arrow::datatypes::{DataType, Field, Int32Type};

    use super::*;

    fn rendered(array: &dyn Array) -> Vec<String> {
        let render = JsonRender::new(array).unwrap();
        (0..array.len()).map(|i| render.value(i).to_string()).collect()
    }

    #[test]
    fn a_list_column_is_a_json_array_per_row_with_nulls_kept() {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
        ]);
        assert_eq!(rendered(&list), ["[1,null,3]", "null", "[]"]);
    }

    #[test]
    fn a_struct_is_an_object_in_field_order_with_typed_leaves() {
        let zeta: ArrayRef = Arc::new(StringArray::from(vec![Some("a \"quoted\" text"), None]));
        let alpha: ArrayRef = Arc::new(Float64Array::from(vec![1.5, f64::NAN]));
        let flag: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        let tags: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(7)]),
            Some(vec![Some(8), Some(9)]),
        ]));
        let s = StructArray::from(vec![
            (Arc::new(Field::new("zeta", DataType::Utf8, true)), zeta),
            (Arc::new(Field::new("alpha", DataType::Float64, false)), alpha),
            (Arc::new(Field::new("flag", DataType::Boolean, false)), flag),
            (Arc::new(Field::new_list("tags", Field::new_list_field(DataType::Int32, true), false)), tags),
        ]);
        assert_eq!(
            rendered(&s),
            [
                r#"{"zeta":"a \"quoted\" text","alpha":1.5,"flag":true,"tags":[7]}"#,
                r#"{"zeta":null,"alpha":"NaN","flag":false,"tags":[8,9]}"#,
            ]
        );
    }

    #[test]
    fn a_map_is_an_object_keyed_by_the_keys_text() {
        let mut builder = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
        builder.keys().append_value("b");
        builder.values().append_value(2);
        builder.keys().append_value("a");
        builder.values().append_value(1);
        builder.append(true).unwrap();
        builder.append(false).unwrap();
        let map = builder.finish();
        assert_eq!(rendered(&map), [r#"{"b":2,"a":1}"#, "null"]);
    }

    #[test]
    fn decimals_are_exact_digit_strings() {
        use arrow::array::Decimal128Array;
        let decimals = Decimal128Array::from(vec![Some(12345678901234567890123i128), Some(1250), None])
            .with_precision_and_scale(38, 2)
            .unwrap();
        assert_eq!(rendered(&decimals), [r#""123456789012345678901.23""#, r#""12.50""#, "null"]);
    }

    #[test]
    fn plain_numbers_render_as_numbers() {
        let ints = Int32Array::from(vec![Some(-4), None]);
        assert_eq!(rendered(&ints), ["-4", "null"]);
    }
}
