//! Data contracts (rules in `domain::contracts`, docs/contracts.md): set, read and remove a
//! dataset's contract, check a stored version against it, suggest one from a version, and
//! check every new version while it is ingested. Editors and owners set and remove a
//! contract; whoever may read the dataset reads, checks and asks for suggestions.

use std::sync::Arc;

use futures_util::StreamExt;

use crate::app::{App, AppError};
use crate::domain::access::{Action, Principal};
use crate::domain::contracts::check::{TableCheck, Violation, check_shape, checked_columns};
use crate::domain::contracts::suggest::{MAX_SUGGESTED_VALUES, ObservedColumn, suggest};
use crate::domain::contracts::{Contract, ContractDraft, ContractResult, StoredContract};
use crate::domain::dtype::DType;
use crate::domain::ids::DatasetId;
use crate::domain::records::Version;
use crate::domain::statistics::{ColumnValues, Scalar};
use crate::domain::version_ref::VersionRef;
use crate::ports::tables::IngestedTable;

/// A stored version checked against its dataset's contract.
#[derive(Debug, Clone)]
pub struct ContractCheck {
    pub version: Version,
    pub contract: Contract,
    pub result: ContractResult,
}

fn validated(draft: &ContractDraft) -> Result<Contract, AppError> {
    Contract::validate(draft).map_err(|e| AppError::Invalid(e.0))
}

fn number(scalar: &Option<Scalar>) -> Option<f64> {
    match scalar {
        Some(Scalar::Int(i)) => Some(*i as f64),
        Some(Scalar::Float(f)) => Some(*f),
        None => None,
    }
}

impl App {
    /// Sets the dataset's contract (replacing the one it had); answers it as stored.
    pub async fn set_contract(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        draft: &ContractDraft,
    ) -> Result<StoredContract, AppError> {
        let contract = validated(draft)?;
        self.visible_dataset(principal, dataset, Action::Write).await?;
        let stored = StoredContract {
            dataset,
            document: contract.to_draft(),
            updated_at: self.clock.now(),
            updated_by: principal.user_id,
        };
        self.metadata.put_contract(&stored).await?;
        Ok(stored)
    }

    /// The dataset's contract; `404` when it has none.
    pub async fn contract(&self, principal: &Principal, dataset: DatasetId) -> Result<StoredContract, AppError> {
        self.visible_dataset(principal, dataset, Action::Read).await?;
        self.metadata.find_contract(dataset).await?.ok_or(AppError::NotFound("contract"))
    }

    /// Removes the dataset's contract; `404` when it has none.
    pub async fn remove_contract(&self, principal: &Principal, dataset: DatasetId) -> Result<(), AppError> {
        self.visible_dataset(principal, dataset, Action::Write).await?;
        if self.metadata.delete_contract(dataset).await? { Ok(()) } else { Err(AppError::NotFound("contract")) }
    }

    /// Checks the version `which` names against the dataset's contract, on every row.
    pub async fn check_contract(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        which: &VersionRef,
    ) -> Result<ContractCheck, AppError> {
        let (_, version) = self.dataset_version(principal, dataset, which).await?;
        let stored = self.metadata.find_contract(dataset).await?.ok_or(AppError::NotFound("contract"))?;
        let contract = Arc::new(validated(&stored.document)?);
        let names: Vec<String> = version.columns.iter().map(|c| c.name.clone()).collect();
        let mut violations = shape_of(&contract, &version.columns, version.summary.row_count);
        let indices = checked_columns(&contract, &names);
        if !indices.is_empty() {
            let mut stream = self.tables.batches(&version.normalized.storage_key, Some(indices.clone())).await?;
            let projected: Vec<String> = indices.iter().map(|&i| names[i].clone()).collect();
            let handle = tokio::runtime::Handle::current();
            let rules = Arc::clone(&contract);
            let found = tokio::task::spawn_blocking(move || {
                let mut check = TableCheck::new(&rules, &projected);
                while let Some(batch) = handle.block_on(stream.next()) {
                    check.observe(&batch?);
                }
                Ok::<_, AppError>(check.finish())
            })
            .await
            .map_err(|e| AppError::internal_caused_by("a contract check failed", e))??;
            violations.extend(found);
        }
        let contract = Arc::try_unwrap(contract).unwrap_or_else(|shared| (*shared).clone());
        Ok(ContractCheck { version, contract, result: ContractResult::of(violations) })
    }

    /// A contract describing the version `which` names (`domain::contracts::suggest`).
    pub async fn suggest_contract(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        which: &VersionRef,
    ) -> Result<(Version, ContractDraft), AppError> {
        let (_, version) = self.dataset_version(principal, dataset, which).await?;
        let stats = self.statistics_of(&version).await?;
        let mut observed = Vec::with_capacity(stats.columns.len());
        for (index, column) in stats.columns.iter().enumerate() {
            let few = column.dtype == DType::Category && column.unique as usize <= MAX_SUGGESTED_VALUES;
            let values = if few {
                match self.read_column(&version.normalized.storage_key, index).await?.0 {
                    Some(ColumnValues::Text(counts)) => Some(counts.into_keys().collect()),
                    _ => None,
                }
            } else {
                None
            };
            let numeric = column.numeric.as_ref();
            observed.push(ObservedColumn {
                name: column.name.clone(),
                dtype: column.dtype,
                rows: stats.row_count,
                missing: column.missing,
                distinct: column.unique,
                min: numeric.and_then(|n| number(&n.min)),
                max: numeric.and_then(|n| number(&n.max)),
                values,
            });
        }
        Ok((version, suggest(&observed)))
    }

    /// The dataset's contract, for a new version to be checked against (none without one).
    pub(crate) async fn contract_for_upload(&self, dataset: DatasetId) -> Result<Option<Arc<Contract>>, AppError> {
        let Some(stored) = self.metadata.find_contract(dataset).await? else { return Ok(None) };
        Ok(Some(Arc::new(validated(&stored.document)?)))
    }

    /// Checks a freshly ingested table (its normalized file at `normalized`) against
    /// `contract`, reading only the columns it checks the values of.
    pub(crate) async fn check_ingested(
        &self,
        contract: Arc<Contract>,
        table: &IngestedTable,
        normalized: &std::path::Path,
    ) -> Result<ContractResult, AppError> {
        let mut violations = shape_of(&contract, &table.columns, table.row_count);
        let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let indices = checked_columns(&contract, &names);
        if !indices.is_empty() {
            let projected: Vec<String> = indices.iter().map(|&i| names[i].clone()).collect();
            let (ingestor, path) = (self.ingestor.clone(), normalized.to_path_buf());
            let found =
                tokio::task::spawn_blocking(move || ingestor.check_values(&path, &contract, &indices, &projected))
                    .await
                    .map_err(|e| AppError::internal_caused_by("a contract check failed", e))??;
            violations.extend(found);
        }
        Ok(ContractResult::of(violations))
    }
}

fn shape_of(contract: &Contract, columns: &[crate::domain::dtype::ColumnSchema], rows: u64) -> Vec<Violation> {
    let typed: Vec<(String, DType)> = columns.iter().map(|c| (c.name.clone(), c.dtype)).collect();
    check_shape(contract, &typed, rows)
}
