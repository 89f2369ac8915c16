//! Errors as users and API clients see them: a stable snake_case code, a short message, and the
//! operation id that is also in the server log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rounds_store::StoreError;

/// Stable error codes of the web app and the JSON API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed (bad form, bad query).
    BadRequest,
    /// The JSON body does not parse or does not fit the schema.
    InvalidJson,
    /// A field failed validation.
    InvalidInput,
    /// Not signed in (or the token is unknown, revoked or the user disabled).
    Unauthenticated,
    /// Signed in, but the role does not allow this.
    Forbidden,
    /// The CSRF token is missing or wrong, or the request came from another site.
    CsrfFailed,
    /// Nothing at this address.
    NotFound,
    /// This address does not accept this method.
    MethodNotAllowed,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The body's content type is not accepted here.
    UnsupportedMediaType,
    /// The change conflicts with the current state (duplicate email, set-up already done).
    Conflict,
    /// Screening blocks the post and no valid written override was given.
    ScreeningBlocked,
    /// The social network refused the request (bad credentials, content it does not take).
    NetworkRefused,
    /// The social network could not be reached, had a server error or is rate limiting.
    NetworkUnavailable,
    /// Too many failed sign-ins; wait and retry.
    TooManyAttempts,
    /// The request took too long.
    Timeout,
    /// Something failed on our side; the operation id finds it in the log.
    Internal,
}

impl ErrorCode {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Conflict => "conflict",
            ErrorCode::ScreeningBlocked => "screening_blocked",
            ErrorCode::NetworkRefused => "network_refused",
            ErrorCode::NetworkUnavailable => "network_unavailable",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidJson | ErrorCode::InvalidInput => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::CsrfFailed => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::ScreeningBlocked => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NetworkRefused => StatusCode::BAD_REQUEST,
            ErrorCode::NetworkUnavailable => StatusCode::BAD_GATEWAY,
            ErrorCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code for a status produced outside our handlers (axum rejections, tower layers).
    pub fn from_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::CONFLICT => ErrorCode::Conflict,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::TooManyAttempts,
            StatusCode::REQUEST_TIMEOUT => ErrorCode::Timeout,
            s if s.is_server_error() => ErrorCode::Internal,
            _ => ErrorCode::BadRequest,
        }
    }

    /// What to tell a person when no more specific message exists.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "The request could not be understood.",
            ErrorCode::InvalidJson => "The request body is not valid JSON for this endpoint.",
            ErrorCode::InvalidInput => "Some of the input is not valid.",
            ErrorCode::Unauthenticated => "Please sign in.",
            ErrorCode::Forbidden => {
                "Your role does not allow this. Ask an administrator if you need it."
            }
            ErrorCode::CsrfFailed => {
                "The form expired or came from another site. Reload the page and try again."
            }
            ErrorCode::NotFound => "There is nothing at this address.",
            ErrorCode::MethodNotAllowed => "This address does not accept that kind of request.",
            ErrorCode::PayloadTooLarge => "The request is too large.",
            ErrorCode::UnsupportedMediaType => "This content type is not accepted here.",
            ErrorCode::Conflict => "That conflicts with the current state.",
            ErrorCode::ScreeningBlocked => "Screening blocks this post.",
            ErrorCode::NetworkRefused => "The social network refused the request.",
            ErrorCode::NetworkUnavailable => {
                "The social network could not be reached; try again later."
            }
            ErrorCode::TooManyAttempts => "Too many attempts. Wait a few minutes and try again.",
            ErrorCode::Timeout => "The request took too long.",
            ErrorCode::Internal => {
                "Something went wrong on our side. The operation id below helps your administrator find it."
            }
        }
    }
}

/// An error response, rendered as an HTML page or JSON by the error middleware, which knows the
/// operation id and whether the request was for the API.
#[derive(Debug, Clone)]
pub struct AppError {
    /// The stable code.
    pub code: ErrorCode,
    /// What to tell the person or client.
    pub message: String,
}

impl AppError {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> AppError {
        AppError {
            code,
            message: code.default_message().to_owned(),
        }
    }

    /// An error with a specific message.
    pub fn with(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
        }
    }

    /// An internal failure: the cause goes to the log, never to the client.
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        tracing::error!(%cause, "internal error");
        AppError::new(ErrorCode::Internal)
    }
}

/// A domain error message (lower-case, as `thiserror` messages are) as the start of a sentence.
pub(crate) fn capitalise(msg: &str) -> String {
    let mut chars = msg.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::NotFound(what) => {
                AppError::with(ErrorCode::NotFound, format!("{what} not found."))
            }
            StoreError::Conflict(msg) => AppError::with(ErrorCode::Conflict, msg),
            StoreError::Invalid(msg) => AppError::with(ErrorCode::InvalidInput, msg),
            // The post moved on (or the person is not the one to decide): say why, as a conflict, not a fault.
            StoreError::Transition(e) => {
                AppError::with(ErrorCode::Conflict, capitalise(&e.to_string()))
            }
            StoreError::Refused(e) => {
                AppError::with(ErrorCode::Forbidden, capitalise(&e.to_string()))
            }
            other => AppError::internal(other),
        }
    }
}

impl From<rounds_domain::InputError> for AppError {
    fn from(e: rounds_domain::InputError) -> AppError {
        AppError::with(ErrorCode::InvalidInput, e.to_string())
    }
}

impl From<rounds_domain::secret::SecretError> for AppError {
    fn from(e: rounds_domain::secret::SecretError) -> AppError {
        AppError::internal(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut res = self.code.status().into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// Shorthand for handler results.
pub type AppResult<T> = Result<T, AppError>;
