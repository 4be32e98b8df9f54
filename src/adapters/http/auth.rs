//! Bearer-key authentication for every `/api` operation.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::app::{App, AppError};
use crate::domain::access::Principal;

/// `Authorization: Bearer KEY` with a key issued by `POST /api/users/{user_id}/api-keys` (or
/// the admin key printed at first start / set by `ADMIN_API_KEY`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "API key", checker = "check_key")]
pub struct BearerAuth(pub Principal);

async fn check_key(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let Some(app) = req.data::<App>() else {
        return Err(poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR));
    };
    match app.authenticate(&bearer.token).await {
        Ok(Some(principal)) => Ok(principal),
        Ok(None) => Err(poem_openapi::error::AuthorizationError.into()),
        Err(AppError::Unavailable(m)) => {
            tracing::warn!(error = %m, "cannot check an API key: the database is unavailable");
            Err(poem::Error::from_status(poem::http::StatusCode::SERVICE_UNAVAILABLE))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check an API key");
            Err(poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}
