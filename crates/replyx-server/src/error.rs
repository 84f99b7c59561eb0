//! `ApiError`: the one HTTP error shape `{"error": {"code", "message"}}`, and `AppJson`,
//! a JSON extractor whose rejections use that shape (400 syntax, 422 shape, 413 size).

use axum::extract::rejection::JsonRejection;
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use replyx_core::{HandoffError, StoreError};
use replyx_protocol::ErrorCode;
use serde::Serialize;

/// The body of every HTTP error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The code and message of an error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for programs (it fixes the status).
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

/// An HTTP error with its code.
#[derive(Debug)]
pub struct ApiError {
    /// The code (fixes the status).
    pub code: ErrorCode,
    /// Human-readable detail; never internal details for 500s.
    pub message: String,
    /// Seconds for `Retry-After`, on 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// 401.
    pub fn unauthorized(message: &str) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 422.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidShape, message)
    }

    /// 500, logging the cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("dialog"),
            StoreError::DialogClosed => {
                ApiError::new(ErrorCode::DialogClosed, "the dialog is closed")
            }
            StoreError::StatusChanged => {
                ApiError::new(ErrorCode::InvalidTransition, "the dialog changed status")
            }
            StoreError::Conflict(what) => {
                ApiError::new(ErrorCode::Conflict, format!("already exists: {what}"))
            }
            StoreError::Handoff(h) => match h {
                HandoffError::AlreadyTaken => ApiError::new(
                    ErrorCode::AlreadyTaken,
                    "another operator holds this dialog",
                ),
                HandoffError::OperatorCapacity => ApiError::new(
                    ErrorCode::OperatorCapacity,
                    "you hold the maximum number of dialogs; release or close one first",
                ),
                HandoffError::DialogClosed => {
                    ApiError::new(ErrorCode::DialogClosed, "the dialog is closed")
                }
                HandoffError::InvalidTransition => ApiError::new(
                    ErrorCode::InvalidTransition,
                    "this action does not apply to the dialog's current status",
                ),
            },
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(
                        ErrorCode::Unavailable,
                        "the store is unavailable; retry (with the same client_msg_id)",
                    )
                }
            }
            StoreError::Backend(cause) => ApiError::internal(cause),
        }
    }
}

/// `Json<T>` whose rejections are `ApiError`s, and which takes a JSON object only:
/// serde lets a struct be read from an array of its fields in order (`["a@b", "pw"]`
/// as a login), which is no body the API documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(Object(value)) = axum::Json::<Object<T>>::from_request(req, state).await?;
        Ok(AppJson(value))
    }
}

/// `T` read from a JSON object and nothing else.
struct Object<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        d.deserialize_map(ObjectVisitor(std::marker::PhantomData))
            .map(Object)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => ApiError::invalid(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::new(ErrorCode::BadRequest, e.body_text())
            }
            JsonRejection::MissingJsonContentType(e) => {
                ApiError::new(ErrorCode::UnsupportedMediaType, e.body_text())
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(ErrorCode::TooLarge, "request body too large")
            }
            other => ApiError::new(ErrorCode::BadRequest, other.body_text()),
        }
    }
}

/// `Path<T>` whose rejections are `ApiError`s (axum's own are plain text).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

/// `Query<T>` whose rejections are `ApiError`s (axum's own are plain text).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::new(ErrorCode::BadRequest, r.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::new(ErrorCode::BadRequest, r.body_text())
    }
}

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Login {
        email: String,
        password: String,
    }

    async fn extract(body: &'static str) -> Result<Login, ApiError> {
        let request = axum::http::Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        AppJson::<Login>::from_request(request, &())
            .await
            .map(|j| j.0)
    }

    /// A body is a JSON object: serde would read a struct from an array of its fields
    /// too. Found by the `http_body` fuzz target
    /// (fuzz/corpus/http_body/crash-array-for-an-object).
    #[tokio::test]
    async fn a_body_must_be_an_object_not_an_array_of_its_fields() {
        let refused = extract(r#"["a@b.example", "pw"]"#).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidShape, "{}", refused.message);
        let ok = extract(r#"{"email": "a@b.example", "password": "pw"}"#)
            .await
            .unwrap();
        assert_eq!(
            (ok.email.as_str(), ok.password.as_str()),
            ("a@b.example", "pw")
        );
        let unknown = extract(r#"{"email": "a", "password": "b", "x": 1}"#)
            .await
            .unwrap_err();
        assert_eq!(unknown.code, ErrorCode::InvalidShape);
        let syntax = extract(r#"{"email": "#).await.unwrap_err();
        assert_eq!(syntax.code, ErrorCode::BadRequest);
    }
}
