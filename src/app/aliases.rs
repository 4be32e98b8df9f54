//! Aliases of versions: set or move, remove, list, history (rules in `domain::aliases`).
//! Editors and owners change aliases; whoever may read the dataset reads them.

use crate::app::datasets::required_revision;
use crate::app::{App, AppError};
use crate::domain::access::{Action, Principal};
use crate::domain::aliases::{Alias, AliasChange, AliasMove, AliasName};
use crate::domain::ids::DatasetId;
use crate::domain::records::Dataset;
use crate::ports::StoreError;

fn alias_name(text: &str) -> Result<AliasName, AppError> {
    AliasName::parse(text).map_err(|e| AppError::Invalid(e.to_string()))
}

impl App {
    /// Points `name` at version number `version` of the dataset (creating the alias, or
    /// moving it). `if_match`: the `If-Match` header, when sent.
    pub async fn set_alias(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        name: &str,
        version: i64,
        if_match: Option<&str>,
    ) -> Result<Alias, AppError> {
        let name = alias_name(name)?;
        let found = self.visible_dataset(principal, dataset, Action::Write).await?;
        let if_revision = required_revision(&found, if_match)?;
        let target = self.metadata.find_version_by_number(dataset, version).await?;
        let target = target.ok_or_else(|| AppError::Invalid(format!("the dataset has no version {version}")))?;
        let change = AliasChange {
            dataset_id: dataset,
            name,
            target: Some((target.summary.id, version)),
            by: principal.user_id,
            at: self.clock.now(),
            if_revision,
        };
        match self.metadata.change_alias(&change).await {
            Ok(Some(alias)) => Ok(alias),
            // Removed by a concurrent request right after this change.
            Ok(None) => Err(AppError::Conflict("the alias was removed meanwhile; set it again".into())),
            Err(StoreError::NotFound) => Err(AppError::NotFound("dataset")),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the alias (its history stays).
    pub async fn remove_alias(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        name: &str,
        if_match: Option<&str>,
    ) -> Result<(), AppError> {
        let name = alias_name(name)?;
        let found = self.visible_dataset(principal, dataset, Action::Write).await?;
        let if_revision = required_revision(&found, if_match)?;
        let change = AliasChange {
            dataset_id: dataset,
            name,
            target: None,
            by: principal.user_id,
            at: self.clock.now(),
            if_revision,
        };
        match self.metadata.change_alias(&change).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => Err(AppError::NotFound("alias")),
            Err(e) => Err(e.into()),
        }
    }

    /// The dataset (for its tag) and its aliases by name.
    pub async fn list_aliases(
        &self,
        principal: &Principal,
        dataset: DatasetId,
    ) -> Result<(Dataset, Vec<Alias>), AppError> {
        let found = self.visible_dataset(principal, dataset, Action::Read).await?;
        let aliases = self.metadata.list_aliases(dataset).await?;
        Ok((found, aliases))
    }

    /// Every change of the alias, oldest first; `not_found` for an alias that never existed.
    pub async fn alias_history(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        name: &str,
    ) -> Result<Vec<AliasMove>, AppError> {
        let name = alias_name(name)?;
        self.visible_dataset(principal, dataset, Action::Read).await?;
        let moves = self.metadata.alias_history(dataset, &name).await?;
        if moves.is_empty() {
            return Err(AppError::NotFound("alias"));
        }
        Ok(moves)
    }
}
