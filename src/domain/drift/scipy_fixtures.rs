//! The drift tests against SciPy's own numbers: `tests/fixtures/drift_tests.json`, written by
//! `make_drift_fixtures.py` beside it (the samples are generators both sides compute exactly).

use serde::Deserialize;

use super::categorical::{PairedCounts, chi_squared, jensen_shannon, z_test};
use super::distances::{population_std, wasserstein};
use super::kolmogorov::two_sided_sf;
use super::ks::ks_two_sample;

#[derive(Deserialize)]
struct Fixture {
    scipy: String,
    kstwo: Vec<KsTwo>,
    ks_2samp: Vec<KsCase>,
    chisquare: Vec<CountsCase>,
    ztest: Vec<CountsCase>,
    jensenshannon: Vec<CountsCase>,
    wasserstein: Vec<WassersteinCase>,
}

#[derive(Deserialize)]
struct KsTwo {
    n: u64,
    x: f64,
    sf: f64,
}

#[derive(Deserialize, Debug)]
struct Generator {
    n: i64,
    mult: i64,
    modulus: i64,
    scale: f64,
    offset: f64,
}

impl Generator {
    /// `((i · mult) mod modulus) / scale + offset` for i in 0..n, sorted.
    fn sorted(&self) -> Vec<f64> {
        let mut out: Vec<f64> =
            (0..self.n).map(|i| ((i * self.mult) % self.modulus) as f64 / self.scale + self.offset).collect();
        out.sort_by(f64::total_cmp);
        out
    }
}

#[derive(Deserialize)]
struct KsCase {
    name: String,
    a: Generator,
    b: Generator,
    statistic: f64,
    p_value: f64,
}

#[derive(Deserialize)]
struct CountsCase {
    v1: Vec<u64>,
    v2: Vec<u64>,
    statistic: f64,
    p_value: Option<f64>,
}

#[derive(Deserialize)]
struct WassersteinCase {
    a: Generator,
    b: Generator,
    distance: f64,
    std_a: f64,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../../../tests/fixtures/drift_tests.json")).expect("the fixture is valid")
}

/// Within 1e-6 of SciPy's p-value, and within a relative 1e-6 of it while it is not tiny.
fn assert_p_value(got: f64, expected: f64, context: &str) {
    assert!((got - expected).abs() <= 1e-6, "{context}: {got} vs SciPy's {expected}");
    if expected > 1e-200 {
        assert!((got - expected).abs() <= 1e-6 * expected, "{context}: {got} vs SciPy's {expected} (relative)");
    }
}

fn assert_close(got: f64, expected: f64, relative: f64, context: &str) {
    assert!((got - expected).abs() <= relative * expected.abs().max(1e-300), "{context}: {got} vs SciPy's {expected}");
}

#[test]
fn the_kolmogorov_distribution_equals_scipy_s_kstwo_on_every_method_s_domain() {
    let fixture = fixture();
    for case in &fixture.kstwo {
        let context = format!("kstwo.sf({}, {}) of SciPy {}", case.x, case.n, fixture.scipy);
        assert_p_value(two_sided_sf(case.n, case.x), case.sf, &context);
    }
    assert!(fixture.kstwo.len() > 200);
}

#[test]
fn two_sample_ks_equals_scipy_s_ks_2samp_statistic_and_p_value() {
    let fixture = fixture();
    for case in &fixture.ks_2samp {
        let got = ks_two_sample(&case.a.sorted(), &case.b.sorted()).expect("two samples");
        let context = format!("{} ({:?} / {:?}, SciPy {})", case.name, case.a, case.b, fixture.scipy);
        assert_close(got.statistic, case.statistic, 1e-12, &context);
        assert_p_value(got.p_value, case.p_value, &context);
    }
}

#[test]
fn chi_squared_z_and_jensen_shannon_equal_scipy_s() {
    let fixture = fixture();
    let counts = |c: &CountsCase| PairedCounts { v1: c.v1.clone(), v2: c.v2.clone() };
    for case in &fixture.chisquare {
        let got = chi_squared(&counts(case)).expect("counts");
        let context = format!("chisquare {:?} {:?}", case.v1, case.v2);
        assert_close(got.statistic, case.statistic, 1e-12, &context);
        assert_p_value(got.p_value.unwrap(), case.p_value.unwrap(), &context);
    }
    for case in &fixture.ztest {
        let got = z_test(&counts(case)).expect("two categories");
        let context = format!("z-test {:?} {:?}", case.v1, case.v2);
        assert!((got.statistic - case.statistic).abs() <= 1e-12 * case.statistic.abs().max(1.0), "{context}");
        assert_p_value(got.p_value.unwrap(), case.p_value.unwrap(), &context);
    }
    for case in &fixture.jensenshannon {
        let got = jensen_shannon(&counts(case)).expect("counts");
        assert_close(got.statistic, case.statistic, 1e-12, &format!("jensenshannon {:?} {:?}", case.v1, case.v2));
        assert_eq!(got.p_value, None);
    }
}

#[test]
fn wasserstein_and_the_reference_s_spread_equal_scipy_and_numpy() {
    let fixture = fixture();
    for case in &fixture.wasserstein {
        let (u, v) = (case.a.sorted(), case.b.sorted());
        let context = format!("wasserstein {:?} {:?}", case.a, case.b);
        assert_close(wasserstein(&u, &v).unwrap(), case.distance, 1e-9, &context);
        let std = population_std(&u).unwrap();
        assert!((std - case.std_a).abs() <= 1e-12 * case.std_a.max(1.0), "{context}: σ {std} vs {}", case.std_a);
    }
}
