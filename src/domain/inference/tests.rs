//! Tests of the typing rules (the literal parsers have their own, beside them).

use super::*;

fn infer(values: &[&str]) -> InferredType {
    let mut c = ColumnInference::default();
    values.iter().for_each(|v| {
        c.observe(v);
    });
    c.decide()
}

fn dtype(values: &[&str]) -> DType {
    infer(values).dtype
}

#[test]
fn merging_the_inferences_of_two_parts_equals_inferring_the_whole_column() {
    let columns: [&[&str]; 10] = [
        &["1", "2", "NA", "3", "x"],
        &["1", "2.5", "", "7"],
        &["2024-01-01", "2024-01-02", "2024-01-03T10:00"],
        &["2024-01-01", "", "2024/01/02"],
        &["01/02/2020", "13/02/2020", "", "05/05/2020"],
        &["01/02/2020", "02/13/2020", "1/1/2020"],
        &["01/02/2020", "13/02/2020", "02/13/2020"],
        &["yes", "no", "TRUE", "maybe"],
        &["a", "b", "a", "b", "a", "c"],
        &["a", "b", "c", "d"],
    ];
    let many: Vec<String> = (0..120).map(|i| format!("v{}", i % 60)).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for values in columns.iter().copied().chain([many.as_slice()]) {
        let mut whole = ColumnInference::default();
        values.iter().for_each(|v| {
            whole.observe(v);
        });
        for split in 0..=values.len() {
            let (mut left, mut right) = (ColumnInference::default(), ColumnInference::default());
            values[..split].iter().for_each(|v| {
                left.observe(v);
            });
            values[split..].iter().for_each(|v| {
                right.observe(v);
            });
            left.merge(&right);
            assert_eq!(left.decide(), whole.decide(), "{values:?} split at {split}");
            assert_eq!(left.mixed("c"), whole.mixed("c"), "{values:?} split at {split}");
            assert_eq!(left.missing(), whole.missing());
        }
    }
}

#[test]
fn missing_tokens_are_recognised_exactly_among_all_short_strings() {
    let alphabet: Vec<char> = "NAn/auLlOoeE#<>x 0".chars().collect();
    let mut strings = vec![String::new()];
    for _ in 0..4 {
        let longer: Vec<String> =
            strings.iter().flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}"))).collect();
        strings.extend(longer.into_iter().filter(|s| s.len() <= 4));
        strings.sort();
        strings.dedup();
    }
    assert!(strings.len() > 50_000);
    for s in &strings {
        assert_eq!(is_missing(s), MISSING_TOKENS.contains(&trim(s)), "{s:?}");
    }
}

/// Cells of one kind (integers, huge integers, floats, booleans, dates in two families,
/// datetimes, missing tokens, words, codes with leading zeros).
fn cells_of_kind(kind: usize) -> proptest::strategy::BoxedStrategy<String> {
    use proptest::strategy::Strategy;
    let patterns = [
        "-?[1-9][0-9]{0,3}",
        "[1-9][0-9]{18,20}",
        "-?[0-9]{1,2}\\.[0-9]{1,3}",
        "(true|FALSE|yes|No)",
        "20[0-9]{2}-0[1-9]-1[0-9]",
        "20[0-9]{2}/0[1-9]/1[0-9]",
        "2024-01-01T10:00:00(Z)?",
        "(NA|| null |N/A)",
        "[a-c]{1,2}",
        "0[0-9]{3}",
    ];
    proptest::string::string_regex(patterns[kind % patterns.len()]).unwrap().boxed()
}

/// A column mostly of one kind of cell with about one cell in eight of another kind.
fn column() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
    use proptest::strategy::Strategy;
    (0usize..10, 0usize..10).prop_flat_map(|(main, other)| {
        proptest::collection::vec((cells_of_kind(main), cells_of_kind(other), 0u8..8), 1..60)
            .prop_map(|cells| cells.into_iter().map(|(a, b, pick)| if pick == 0 { b } else { a }).collect())
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

    #[test]
    fn observing_as_a_guess_from_a_prefix_decides_like_observing_every_value(
        column in column(),
        prefix in 0usize..60,
    ) {
        let mut guessed = ColumnInference::default();
        column[..prefix.min(column.len())].iter().for_each(|v| {
            guessed.observe(v);
        });
        let guess = guessed.decide();
        let (mut full, mut fast) = (ColumnInference::default(), ColumnInference::default());
        for v in &column {
            full.observe(v);
            fast.observe_as(v, &guess);
        }
        let (full_type, fast_type) = (full.decide(), fast.decide());
        proptest::prop_assert_eq!(fast.missing(), full.missing());
        if fast_type == guess || guess.dtype.is_text() {
            // Confirmed guesses (and text guesses, observed in full) are exact.
            let both_text = full_type.dtype.is_text() && fast_type.dtype.is_text();
            proptest::prop_assert!(fast_type == full_type || both_text, "{:?} vs {:?}", fast_type, full_type);
            if guess.dtype.is_text() {
                proptest::prop_assert_eq!(fast_type, full_type);
                proptest::prop_assert_eq!(fast.mixed("c"), full.mixed("c"));
            }
        } else {
            // Otherwise the decision differs from the guess, so the caller reads again.
            proptest::prop_assert!(full_type != guess);
        }
    }
}

#[test]
fn every_missing_token_is_missing_after_trimming() {
    for token in MISSING_TOKENS {
        assert!(is_missing(&format!("  {token} ")), "{token:?}");
    }
    assert!(!is_missing("0"));
    assert!(!is_missing("none of these"));
}

#[test]
fn missing_tokens_are_at_most_as_long_as_is_missing_assumes() {
    assert!(MISSING_TOKENS.iter().all(|t| t.len() <= 8));
}

#[test]
fn none_null_and_nan_in_other_cases_are_values_as_in_pandas() {
    // pandas' default na_values, and only those (R's `none` categories are real values).
    for value in ["none", "NONE", "Null", "NAN", "nil", "-", "n.a."] {
        assert!(!is_missing(value), "{value:?}");
    }
    assert_eq!(dtype(&["none", "full", "none", "partial", "none", "full"]), DType::Category);
    assert_eq!(MISSING_TOKENS.len(), 19);
}

#[test]
fn integers_with_missing_values_stay_int64() {
    assert_eq!(dtype(&["1", "", "-3", "NA", "+7"]), DType::Int64);
}

#[test]
fn codes_with_leading_zeros_stay_text() {
    assert_eq!(parse_int("02134"), IntLiteral::NotAnInteger);
    assert_eq!(parse_float("02134"), None);
    assert_eq!(dtype(&["02134", "10001", "94105", "02139", "60601"]), DType::Object);
}

#[test]
fn int64_extremes_are_exact_and_beyond_them_the_column_is_text() {
    assert_eq!(parse_int("9223372036854775807"), IntLiteral::Value(i64::MAX));
    assert_eq!(parse_int("-9223372036854775808"), IntLiteral::Value(i64::MIN));
    assert_eq!(parse_int("9223372036854775808"), IntLiteral::OutOfRange);
    assert_eq!(dtype(&["1", "9223372036854775808"]), DType::Object);
    assert_eq!(dtype(&["1.5", "9223372036854775808"]), DType::Object);
}

#[test]
fn integers_and_floats_together_are_float64() {
    assert_eq!(dtype(&["1", "2.5", "", "3"]), DType::Float64);
}

#[test]
fn booleans_accept_true_false_yes_no_in_any_case() {
    assert_eq!(dtype(&["true", "FALSE", "Yes", "no", "NA"]), DType::Bool);
    assert_eq!(dtype(&["true", "1"]), DType::Object);
    assert_eq!(dtype(&["0", "1", "1"]), DType::Int64);
}

#[test]
fn iso_dates_and_datetimes_are_datetime64() {
    assert_eq!(
        infer(&["2025-01-02", "2024-02-29"]),
        InferredType { dtype: DType::Datetime64, temporal: Some(TemporalKind::Date), order: None }
    );
    assert_eq!(infer(&["2025-01-02T10:00:00", "2025-01-02 11:30"]).temporal, Some(TemporalKind::Naive));
    assert_eq!(infer(&["2025-01-02T10:00:00Z", "2025-01-02T10:00:00+02:00"]).temporal, Some(TemporalKind::Utc));
    assert_eq!(infer(&["2025/01/02", "2025/12/31"]).temporal, Some(TemporalKind::Date));
}

#[test]
fn a_value_past_12_decides_the_day_month_order_and_a_column_that_never_decides_stays_text() {
    let day_first = infer(&["01/02/2020", "13/02/2020", "", "5/5/2020"]);
    assert_eq!(
        day_first,
        InferredType {
            dtype: DType::Datetime64,
            temporal: Some(TemporalKind::Date),
            order: Some(DayMonthOrder::DayFirst)
        }
    );
    let month_first = infer(&["01/02/2020 10:00", "02/13/2020 23:59:59"]);
    assert_eq!((month_first.order, month_first.temporal), (Some(DayMonthOrder::MonthFirst), Some(TemporalKind::Naive)));
    assert_eq!(dtype(&["01/02/2020", "03/04/2020", "12/12/2020"]), DType::Object, "ambiguous throughout");
    assert_eq!(dtype(&["13/01/2020", "01/13/2020", "02/03/2020"]), DType::Object, "contradictory");
    assert_eq!(dtype(&["13/01/2020", "2020-01-14"]), DType::Object, "two families");
    assert_eq!(dtype(&["13/01/2020", "13/01/2020 10:00"]), DType::Object, "with and without times");
}

#[test]
fn a_column_converted_in_its_decided_order_reads_every_value_in_that_order() {
    let day_first = infer(&["13/02/2020", "01/02/2020"]);
    let mut c = ColumnInference::default();
    let read: Vec<Observed> = ["01/02/2020", "13/02/2020"].iter().map(|v| c.observe_as(v, &day_first)).collect();
    let days = |d: i32| Observed::Datetime(Temporal::Date(d));
    // 2020-02-01 and 2020-02-13: 18293 and 18305 days after 1970-01-01.
    assert_eq!(read, [days(18_293), days(18_305)]);
    assert_eq!(c.decide(), day_first);
    // Read alone, an ambiguous value has no value.
    assert_eq!(ColumnInference::default().observe("01/02/2020"), Observed::AmbiguousDate);
}

#[test]
fn cells_taken_as_text_by_their_first_byte_fit_no_other_type() {
    let tails = [
        "", "a", "1", "A", "/A", "a/a", "aN", "ULL", "ull", "one", "rue", "alse", "es", "o", "nf", "nfinity", "-01-01",
        "23",
    ];
    let firsts: Vec<String> =
        (0u8..128).map(|b| (b as char).to_string()).chain(["é", "ß", "\u{feff}"].map(String::from)).collect();
    let mut shortcut = 0;
    for first in &firsts {
        for tail in tails {
            let cell = format!("{first}{tail}");
            if plainly_text(&cell) {
                shortcut += 1;
                assert!(!is_missing(&cell), "{cell:?}");
                assert_eq!(parse_int(&cell), IntLiteral::NotAnInteger, "{cell:?}");
                assert_eq!(parse_float(&cell), None, "{cell:?}");
                assert_eq!(parse_bool(&cell), None, "{cell:?}");
                assert_eq!(parse_datetime(&cell), None, "{cell:?}");
            }
        }
    }
    assert!(shortcut > 500, "most letters take the shortcut: {shortcut}");
    // Every token that another type accepts begins with a byte the shortcut leaves alone.
    for token in MISSING_TOKENS.iter().chain(&["true", "FALSE", "Yes", "no", "inf", "-Infinity", "Infinity"]) {
        assert!(!plainly_text(token), "{token}");
    }
}

#[test]
fn mixed_formats_or_a_non_date_make_the_column_text() {
    assert_eq!(dtype(&["2025-01-02", "2025-01-02T10:00:00"]), DType::Object);
    assert_eq!(dtype(&["2025-01-02", "2025/01/03"]), DType::Object);
    assert_eq!(dtype(&["2025-01-02T10:00:00", "2025-01-02T10:00:00Z"]), DType::Object);
    assert_eq!(dtype(&["2025-01-02", "2025-01-03", "soon"]), DType::Object);
}

#[test]
fn low_cardinality_text_is_category() {
    let values: Vec<&str> = ["red", "green", "blue"].iter().cycle().take(30).copied().collect();
    assert_eq!(dtype(&values), DType::Category);
}

#[test]
fn text_with_many_or_mostly_unique_values_is_object() {
    assert_eq!(dtype(&["a", "b", "c"]), DType::Object);
    let many: Vec<String> = (0..200).map(|i| format!("v{}", i % 51)).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(dtype(&refs), DType::Object);
    let fifty: Vec<String> = (0..200).map(|i| format!("v{}", i % 50)).collect();
    let refs: Vec<&str> = fifty.iter().map(String::as_str).collect();
    assert_eq!(dtype(&refs), DType::Category);
}

#[test]
fn category_rule_needs_half_as_many_distinct_values_as_values() {
    assert!(is_category(2, 4));
    assert!(!is_category(3, 5));
    assert!(!is_category(51, 1000));
    assert!(!is_category(0, 0));
}

#[test]
fn a_text_column_of_mostly_numbers_is_reported_as_mixed() {
    let mut c = ColumnInference::default();
    ["1", "2", "3", "n/a?", "4.5"].iter().for_each(|v| {
        c.observe(v);
    });
    assert_eq!(c.decide().dtype, DType::Object);
    let mixed = c.mixed("amount").unwrap();
    assert_eq!((mixed.mostly, mixed.non_fitting, mixed.non_missing), (DType::Float64, 1, 5));
    let mut words = ColumnInference::default();
    ["a", "b", "1"].iter().for_each(|v| {
        words.observe(v);
    });
    assert_eq!(words.mixed("w"), None, "only a third are numbers");
    let mut clean = ColumnInference::default();
    ["1", "2"].iter().for_each(|v| {
        clean.observe(v);
    });
    assert_eq!(clean.mixed("n"), None, "an int64 column is not mixed");
}

#[test]
fn an_all_missing_column_is_object() {
    assert_eq!(dtype(&["", "NA", "null"]), DType::Object);
}

#[test]
fn surrounding_white_space_does_not_change_the_type() {
    assert_eq!(dtype(&[" 1", "2 ", "\t3"]), DType::Int64);
}
