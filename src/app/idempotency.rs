//! Idempotency keys: claiming a user's key for a request, holding it while the request runs,
//! then recording the answer for replay or letting the key go (rules in
//! `domain::idempotency`).

use std::sync::Arc;

use crate::app::errors::ErrorChain;
use crate::app::{App, AppError};
use crate::domain::idempotency::{KeyClaim, KeyOwner, KeyState, LEASE, LEASE_RENEWAL, StoredAnswer, is_replayable};
use crate::ports::metadata::MetadataStore;

/// What a keyed request is to do.
pub enum Admission {
    /// Run: the request holds the key; [`KeyHold::finish`] records its answer.
    Run(KeyHold),
    /// Another request with the key is running: answer 409 and ask to retry later.
    Running { retry_after: std::time::Duration },
    /// The key was answered: replay that answer if the request is the same one.
    Answered(StoredAnswer),
}

/// A running request's hold on a key. Its lease is renewed in the background until
/// [`KeyHold::finish`]; dropped without it (the request was cancelled), the key is let go.
pub struct KeyHold {
    owner: KeyOwner,
    token: uuid::Uuid,
    metadata: Arc<dyn MetadataStore>,
    renewal: tokio::task::JoinHandle<()>,
    finished: bool,
}

impl App {
    /// Claims `owner`'s key for a new request.
    pub async fn admit_keyed(&self, owner: KeyOwner) -> Result<Admission, AppError> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(60));
        let ttl = chrono::Duration::from_std(self.settings.idempotency_ttl).unwrap_or(chrono::Duration::days(1));
        let claim = KeyClaim { owner, token: self.ids.new_id(), now, lease_until: now + lease, expires_at: now + ttl };
        Ok(match self.metadata.claim_idempotency_key(&claim).await? {
            KeyState::Claimed => Admission::Run(KeyHold::start(claim.owner, claim.token, &self.metadata)),
            KeyState::Running { lease_until } => {
                // Retry when the holder is likely done, and at most a lease from now.
                let left = (lease_until - now).to_std().unwrap_or_default();
                Admission::Running { retry_after: left.clamp(std::time::Duration::from_secs(1), LEASE_RENEWAL) }
            }
            KeyState::Done(answer) => Admission::Answered(answer),
        })
    }

    /// Forgets expired keys; returns how many.
    pub async fn sweep_idempotency_keys(&self) -> Result<u64, AppError> {
        Ok(self.metadata.delete_expired_idempotency_keys(self.clock.now()).await?)
    }
}

impl KeyHold {
    fn start(owner: KeyOwner, token: uuid::Uuid, metadata: &Arc<dyn MetadataStore>) -> Self {
        let (renewing, metadata) = (owner.clone(), Arc::clone(metadata));
        let store = Arc::clone(&metadata);
        let renewal = tokio::spawn(async move {
            let lease = chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(60));
            loop {
                tokio::time::sleep(LEASE_RENEWAL).await;
                match store.renew_idempotency_lease(&renewing, token, chrono::Utc::now() + lease).await {
                    Ok(true) => {}
                    Ok(false) => return, // taken over or forgotten: nothing left to renew
                    Err(e) => tracing::warn!(error = %ErrorChain(&e), "renewing an idempotency lease failed"),
                }
            }
        });
        Self { owner, token, metadata, renewal, finished: false }
    }

    /// Records the request's answer for replay when `answer` is one to replay
    /// ([`is_replayable`]); otherwise, or with no answer (the body was not read whole, so
    /// the request is not known), lets the key go so that a retry runs.
    pub async fn finish(mut self, answer: Option<StoredAnswer>) -> Result<(), AppError> {
        self.finished = true;
        self.renewal.abort();
        match answer.filter(|a| is_replayable(a.status)) {
            Some(answer) => {
                if !self.metadata.complete_idempotency_key(&self.owner, self.token, &answer).await? {
                    tracing::warn!(
                        key = self.owner.key.as_str(),
                        "an idempotency key was taken over while its request ran; its answer is not recorded"
                    );
                }
            }
            None => self.metadata.release_idempotency_key(&self.owner, self.token).await?,
        }
        Ok(())
    }
}

impl Drop for KeyHold {
    fn drop(&mut self) {
        self.renewal.abort();
        if self.finished {
            return;
        }
        let (owner, token, metadata) = (self.owner.clone(), self.token, Arc::clone(&self.metadata));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = metadata.release_idempotency_key(&owner, token).await {
                    tracing::warn!(error = %ErrorChain(&e), "letting an idempotency key go failed; its lease will run out");
                }
            });
        }
    }
}
