//! Operator accounts, managed by admins: list, add, change name / role / status,
//! remove. Disabling or removing an operator ends their sessions, so their open
//! sockets close with 4001 on every process; a role change takes effect on their next
//! request. The last active admin cannot be demoted, disabled or removed.

use super::extract::AdminAuth;
use super::session::{hashing, validate_password};
use crate::auth::password;
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use replyx_core::{AccountStatus, NewOperator, Operator, OperatorPatch, Role};
use replyx_protocol::{ErrorCode, OperatorId};
use serde::{Deserialize, Serialize};

fn parse_id(id: &str) -> Result<OperatorId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("operator"))
}

/// A store error, "not found" naming the operator (the shared mapping names a dialog).
fn store_error(e: replyx_core::StoreError) -> ApiError {
    match e {
        replyx_core::StoreError::NotFound => ApiError::not_found("operator"),
        other => other.into(),
    }
}

fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    Ok(())
}

/// The operators.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OperatorList {
    /// Every operator not removed.
    operators: Vec<Operator>,
}

/// `GET /api/operators`.
#[utoipa::path(
    get,
    path = "/api/operators",
    tag = "operators",
    security(("operator" = [])),
    responses(
        (status = 200, description = "The operators (removed ones are not listed)", body = OperatorList),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list_operators(
    State(state): State<AppState>,
    _: AdminAuth,
) -> Result<AppJson<OperatorList>, ApiError> {
    let operators = state.store.list_operators().await?;
    Ok(AppJson(OperatorList { operators }))
}

/// New operator body; `role` defaults to `agent`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewOperatorBody {
    /// Login e-mail, unique.
    #[schema(pattern = "@", max_length = 254)]
    email: String,
    /// Display name, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    /// `agent` unless given.
    #[serde(default = "agent")]
    role: Role,
}

fn agent() -> Role {
    Role::Agent
}

/// `POST /api/operators`.
#[utoipa::path(
    post,
    path = "/api/operators",
    tag = "operators",
    request_body = NewOperatorBody,
    security(("operator" = [])),
    responses(
        (status = 201, description = "The new operator", body = Operator),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 409, description = "The e-mail is taken", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, or an invalid e-mail, name or password", body = ErrorBody),
        (status = 503, description = "Password hashing is busy, or the store is unavailable", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn create_operator(
    State(state): State<AppState>,
    _: AdminAuth,
    AppJson(body): AppJson<NewOperatorBody>,
) -> Result<(StatusCode, AppJson<Operator>), ApiError> {
    let email = body.email.trim().to_owned();
    if !email.contains('@') || email.len() > 254 {
        return Err(ApiError::invalid("email must be an e-mail address"));
    }
    validate_name(&body.name)?;
    validate_password(&body.password)?;
    let secret = body.password;
    let hash = hashing(&state, move || password::hash(&secret))
        .await?
        .map_err(ApiError::internal)?;
    let created = state
        .store
        .create_operator(NewOperator {
            email,
            name: body.name,
            password_hash: hash,
            role: body.role,
        })
        .await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

/// Operator change body: every field optional.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct OperatorChange {
    /// New display name, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// New role.
    role: Option<Role>,
    /// `active` or `disabled` (removal is `DELETE`).
    status: Option<AccountStatus>,
    /// How many dialogs this operator may hold at once (0 to 1,000); `null` goes back
    /// to the server's `REPLYX_MAX_DIALOGS_PER_OPERATOR`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, maximum = 1000)]
    max_dialogs: Option<Option<u32>>,
}

/// Absent → `None`, `null` → `Some(None)`, a value → `Some(Some(it))`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

/// Refuses a change that would leave no active admin.
async fn keep_an_admin(
    state: &AppState,
    target: OperatorId,
    role: Role,
    status: AccountStatus,
) -> Result<(), ApiError> {
    if role == Role::Admin && status == AccountStatus::Active {
        return Ok(());
    }
    let others = state
        .store
        .list_operators()
        .await?
        .into_iter()
        .filter(|o| o.id != target && o.role == Role::Admin && o.status == AccountStatus::Active)
        .count();
    if others == 0 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this is the last active admin; make another operator admin first",
        ));
    }
    Ok(())
}

/// Ends the operator's sessions when the account can no longer be used, and forgets
/// cached answers about them on this process either way (a role change counts at once).
async fn apply_effects(state: &AppState, operator: &Operator) -> Result<(), ApiError> {
    if operator.status != AccountStatus::Active {
        state.sessions.end_all(operator.id, None).await?;
    } else {
        state.sessions.forget_operator(operator.id).await;
    }
    Ok(())
}

/// `PATCH /api/operators/{id}`.
#[utoipa::path(
    patch,
    path = "/api/operators/{id}",
    tag = "operators",
    params(("id" = OperatorId, Path, description = "The operator")),
    request_body = OperatorChange,
    security(("operator" = [])),
    responses(
        (status = 200, description = "The operator as changed", body = Operator),
        (status = 400, description = "The body is not JSON, or a malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 404, description = "No such operator", body = ErrorBody),
        (status = 409, description = "The change would leave no active admin", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Wrong shape, an invalid name, status `removed`, or max_dialogs over 1000", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn update_operator(
    State(state): State<AppState>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
    AppJson(change): AppJson<OperatorChange>,
) -> Result<AppJson<Operator>, ApiError> {
    let id = parse_id(&id)?;
    if let Some(name) = &change.name {
        validate_name(name)?;
    }
    if change.status == Some(AccountStatus::Removed) {
        return Err(ApiError::invalid(
            "status must be active or disabled; remove with DELETE",
        ));
    }
    if change.max_dialogs.flatten().is_some_and(|n| n > 1000) {
        return Err(ApiError::invalid("max_dialogs must be 0 to 1000"));
    }
    let current = state
        .store
        .operator(id)
        .await?
        .filter(|o| o.status != AccountStatus::Removed)
        .ok_or_else(|| ApiError::not_found("operator"))?;
    keep_an_admin(
        &state,
        id,
        change.role.unwrap_or(current.role),
        change.status.unwrap_or(current.status),
    )
    .await?;
    let updated = state
        .store
        .update_operator(
            id,
            OperatorPatch {
                name: change.name,
                role: change.role,
                status: change.status,
                password_hash: None,
                max_dialogs: change.max_dialogs,
            },
        )
        .await
        .map_err(store_error)?;
    apply_effects(&state, &updated).await?;
    // A larger capacity (or an operator enabled again) may make room in the queue.
    crate::queue::assign_pending(&state).await;
    Ok(AppJson(updated))
}

/// `DELETE /api/operators/{id}`: the account is removed (kept as a row, because
/// dialogs and events name it) and its sessions end.
#[utoipa::path(
    delete,
    path = "/api/operators/{id}",
    tag = "operators",
    params(("id" = OperatorId, Path, description = "The operator")),
    security(("operator" = [])),
    responses(
        (status = 204, description = "Removed; their sessions have ended"),
        (status = 400, description = "A malformed path", body = ErrorBody),
        (status = 401, description = "No, bad, expired or ended operator token", body = ErrorBody),
        (status = 403, description = "This needs the admin role", body = ErrorBody),
        (status = 404, description = "No such operator", body = ErrorBody),
        (status = 409, description = "The operator is the last active admin", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn remove_operator(
    State(state): State<AppState>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    keep_an_admin(&state, id, Role::Agent, AccountStatus::Removed).await?;
    let removed = state
        .store
        .update_operator(
            id,
            OperatorPatch {
                status: Some(AccountStatus::Removed),
                ..Default::default()
            },
        )
        .await
        .map_err(store_error)?;
    apply_effects(&state, &removed).await?;
    Ok(StatusCode::NO_CONTENT)
}
