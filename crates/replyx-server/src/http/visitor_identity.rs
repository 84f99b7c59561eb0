//! Who a visitor is when they open a dialog: a verified user (their site's backend
//! signed an identity token with one of the assistant's keys) or an anonymous guest
//! (the id their browser kept). A verified user gets their own guest id from the store,
//! the same on every device; an anonymous visitor may not borrow it. In `enforce`
//! mode only verified users get in, and dialogs of anonymous guests from before the
//! switch are closed to them.

use crate::auth::identity;
use crate::error::ApiError;
use crate::state::AppState;
use replyx_core::model::DialogRecord;
use replyx_core::{Assistant, IdentityMode};
use replyx_protocol::{ErrorCode, GuestId, VisitorIdentity};

/// The guest to open dialogs as, and the verified user behind it, if any.
pub(super) struct Visitor {
    /// Whose dialogs to open.
    pub guest: GuestId,
    /// Who signed in, when an identity token was given.
    pub identity: Option<VisitorIdentity>,
}

fn required(state: &AppState, message: &str) -> ApiError {
    state.metrics.identity_checked("required");
    ApiError::new(ErrorCode::IdentityRequired, message)
}

/// Resolves the visitor of a dialog open from the body's `guest_id` and
/// `identity_token`.
///
/// # Errors
/// `identity_invalid` for a token that does not verify, `identity_required` in enforce
/// mode without one or for a verified user's guest id without their token, 422 for a
/// malformed guest id, store failures.
pub(super) async fn resolve(
    state: &AppState,
    assistant: &Assistant,
    guest_id: Option<String>,
    identity_token: Option<String>,
) -> Result<Visitor, ApiError> {
    if let Some(token) = identity_token {
        let keys = state.store.identity_keys(assistant.id).await?;
        let (identity, _kid) = identity::verify(&token, &keys).map_err(|e| {
            state.metrics.identity_checked(e.outcome());
            tracing::debug!(assistant = %assistant.id, reason = e.message(), "identity token refused");
            ApiError::new(ErrorCode::IdentityInvalid, e.message())
        })?;
        state.metrics.identity_checked("verified");
        // The browser's anonymous guest id is set aside: the user's own one opens
        // the dialogs they started on any device.
        let guest = state
            .store
            .identify_visitor(assistant.id, &identity)
            .await?;
        return Ok(Visitor {
            guest,
            identity: Some(identity),
        });
    }
    if assistant.identity_mode == IdentityMode::Enforce {
        return Err(required(
            state,
            "this assistant talks to signed-in users only: open with an identity token",
        ));
    }
    let guest = match guest_id {
        Some(g) => GuestId::parse(&g).ok_or_else(|| {
            ApiError::invalid("guest_id must be 8 to 64 characters of A-Z a-z 0-9 _ -")
        })?,
        None => GuestId::generate(),
    };
    if state
        .store
        .verified_visitor(assistant.id, &guest)
        .await?
        .is_some()
    {
        return Err(required(
            state,
            "this guest id belongs to a signed-in user: open with their identity token",
        ));
    }
    Ok(Visitor {
        guest,
        identity: None,
    })
}

/// Refuses an anonymous visitor's dialog when the assistant enforces identity: the
/// guest tokens of dialogs opened before the switch stop working.
///
/// # Errors
/// `identity_required`.
pub(super) fn check_enforced(
    state: &AppState,
    mode: IdentityMode,
    dialog: &DialogRecord,
) -> Result<(), ApiError> {
    if mode == IdentityMode::Enforce && dialog.visitor.is_none() {
        return Err(required(
            state,
            "this assistant talks to signed-in users only",
        ));
    }
    Ok(())
}
