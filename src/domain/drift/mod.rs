//! Drift between two versions of a dataset (`GET /api/datasets/{id}/compare`): the PSI and
//! the category changes ([`psi`]), the statistical tests and distances ([`ks`],
//! [`categorical`], [`distances`]) and the rule that picks one per column and decides
//! ([`rule`]). Every definition is in its module and in `docs/compare.md`; the tests equal
//! SciPy's (`scipy_fixtures`).

pub mod categorical;
pub mod distances;
pub mod hashed_categories;
pub mod kolmogorov;
pub mod ks;
pub mod psi;
pub mod rule;
#[cfg(test)]
mod scipy_fixtures;
mod sorted_merge;
pub mod special;

pub use psi::*;

/// A test's statistic and its p-value (none for a distance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub statistic: f64,
    pub p_value: Option<f64>,
}
