//! The JSON API under `/api/v1`, described by the OpenAPI document at `/api/v1/openapi.json`.
//!
//! Authenticate with a personal API token (`Authorization: Bearer rnd_…`) or a browser session
//! (then state-changing calls need the `x-csrf-token` header). Errors are
//! `{"error": code, "message": text, "operation_id": id}` with stable snake_case codes. Lists are
//! newest first and paged with an opaque `cursor` (the `next_cursor` of the previous page).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use rounds_domain::secret::{random_token, sha256_hex};
use rounds_domain::{Email, Role};
use rounds_store::{AuditFilter, NewInvitation, Page, PostStatus};
use screen::{Attachments, Direction, Message};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::error::{AppError, AppResult, ErrorCode};
use crate::pages::channels::{ConnectForm, connect_new};
use crate::pages::compose::{
    Draft, media_of_post, parse_rfc3339, screen_post, store_error, submit_checked, validate_draft,
};
use crate::session::Viewer;
use crate::{AppState, now_ms, pages};

/// A JSON body whose every rejection (bad syntax, wrong shape, invalid UTF-8, wrong content type)
/// becomes a 400 `invalid_json` error naming the problem.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::with(
                ErrorCode::InvalidJson,
                "Send the body as JSON with Content-Type: application/json.",
            )),
            Err(JsonRejection::BytesRejection(r))
                if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(AppError::new(ErrorCode::PayloadTooLarge))
            }
            Err(e) => Err(AppError::with(ErrorCode::InvalidJson, e.body_text())),
        }
    }
}

/// The error body every endpoint returns on failure.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// Stable snake_case code, e.g. `forbidden`, `invalid_json`.
    error: String,
    /// What went wrong, for people.
    message: String,
    /// Quote this to an administrator: it finds the request in the server log.
    operation_id: String,
}

/// The signed-in user.
#[derive(Serialize, ToSchema)]
pub(crate) struct Me {
    id: i64,
    email: String,
    display_name: String,
    /// Role identifier, e.g. `social_manager`.
    role: String,
    /// Permission identifiers the role holds.
    permissions: Vec<String>,
    mfa_enabled: bool,
    org: OrgOut,
}

/// An organization.
#[derive(Serialize, ToSchema)]
pub(crate) struct OrgOut {
    id: i64,
    name: String,
    /// `hospital`, `health_system`, `pharma`, `biotech` or `other`.
    kind: String,
    is_demo: bool,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "account", security(("token" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
/// Who the token or session belongs to.
pub(crate) async fn me(viewer: Viewer) -> Json<Me> {
    Json(Me {
        id: viewer.user.id,
        email: viewer.user.email.clone(),
        display_name: viewer.user.display_name.clone(),
        role: viewer.user.role.as_str().to_owned(),
        permissions: viewer
            .user
            .role
            .permissions()
            .map(|p| p.as_str().to_owned())
            .collect(),
        mfa_enabled: viewer.user.mfa_enabled,
        org: OrgOut {
            id: viewer.org.id,
            name: viewer.org.name.clone(),
            kind: viewer.org.kind.as_str().to_owned(),
            is_demo: viewer.org.is_demo,
        },
    })
}

/// A screening rule.
#[derive(Serialize, ToSchema)]
pub(crate) struct RuleOut {
    /// Stable id, `<category>.<name>`.
    id: String,
    category: String,
    severity: String,
    /// Default action on incoming messages; absent when the rule does not apply to them.
    incoming: Option<String>,
    /// Default action on outgoing messages; absent when the rule does not apply to them.
    outgoing: Option<String>,
    summary: String,
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "screening", security(("token" = [])),
    responses((status = 200, body = Vec<RuleOut>), (status = 401, body = ErrorBody)))]
/// Every screening rule with its defaults.
pub(crate) async fn rules() -> Json<Vec<RuleOut>> {
    Json(
        screen::rules::all()
            .map(|r| RuleOut {
                id: r.id.to_owned(),
                category: r.category.as_str().to_owned(),
                severity: r.severity.as_str().to_owned(),
                incoming: r.incoming.map(|a| a.as_str().to_owned()),
                outgoing: r.outgoing.map(|a| a.as_str().to_owned()),
                summary: r.summary.to_owned(),
            })
            .collect(),
    )
}

/// Text to screen.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScreenIn {
    /// The text exactly as it will be (or was) published.
    text: String,
    /// `incoming` (a comment we received, the default) or `outgoing` (a post or reply we would publish).
    #[serde(default)]
    direction: Option<String>,
    /// The network, e.g. `facebook`; informational.
    #[serde(default)]
    channel: Option<String>,
    /// Paid or advocacy content (needs a disclosure).
    #[serde(default)]
    paid: bool,
    /// An image is attached.
    #[serde(default)]
    has_image: bool,
    /// The image's alt text, screened too.
    #[serde(default)]
    alt_text: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/screen", tag = "screening", security(("token" = [])), request_body = ScreenIn,
    responses((status = 200, description = "The screening report: decision, findings with byte spans, PHI entities, adverse-event candidate", body = Object),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
/// Screens one text and returns the full report.
pub(crate) async fn screen(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ScreenIn>,
) -> AppResult<Json<Value>> {
    let direction = match input.direction.as_deref() {
        None | Some("incoming") => Direction::Incoming,
        Some("outgoing") => Direction::Outgoing,
        Some(other) => {
            return Err(AppError::with(
                ErrorCode::InvalidInput,
                format!("direction must be incoming or outgoing, not {other:?}"),
            ));
        }
    };
    let msg = Message {
        text: input.text,
        direction,
        channel: input.channel,
        attachments: Attachments {
            has_image: input.has_image,
            alt_text: input.alt_text,
            ..Attachments::default()
        },
        paid: input.paid,
    };
    let report = state
        .screener
        .screen(&msg)
        .map_err(|e| AppError::with(ErrorCode::InvalidInput, e.to_string()))?;
    Ok(Json(
        serde_json::to_value(report).map_err(AppError::internal)?,
    ))
}

/// A user of the organization.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserOut {
    id: i64,
    email: String,
    display_name: String,
    role: String,
    mfa_enabled: bool,
    disabled: bool,
    /// Unix milliseconds.
    created_at: i64,
    /// Unix milliseconds.
    last_login_at: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("token" = [])),
    responses((status = 200, body = Vec<UserOut>), (status = 403, body = ErrorBody)))]
/// The organization's users.
pub(crate) async fn users(
    State(state): State<AppState>,
    viewer: Viewer,
) -> AppResult<Json<Vec<UserOut>>> {
    let users = state.store.users(viewer.org.id).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| UserOut {
                id: u.id,
                email: u.email,
                display_name: u.display_name,
                role: u.role.as_str().to_owned(),
                mfa_enabled: u.mfa_enabled,
                disabled: u.disabled,
                created_at: u.created_at,
                last_login_at: u.last_login_at,
            })
            .collect(),
    ))
}

/// An invitation to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvitationIn {
    email: String,
    /// Role identifier, e.g. `responder`.
    role: String,
}

/// A created invitation; the link is returned only now.
#[derive(Serialize, ToSchema)]
pub(crate) struct InvitationOut {
    id: i64,
    email: String,
    role: String,
    /// Unix milliseconds.
    expires_at: i64,
    /// Send this to the person through a channel you trust.
    link: String,
}

#[utoipa::path(post, path = "/api/v1/invitations", tag = "users", security(("token" = [])), request_body = InvitationIn,
    responses((status = 200, body = InvitationOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
/// Invites someone with a role.
pub(crate) async fn invite(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(input): ApiJson<InvitationIn>,
) -> AppResult<Json<InvitationOut>> {
    let email = Email::parse(&input.email)?;
    let role: Role = input
        .role
        .parse()
        .map_err(|e: rounds_domain::access::UnknownRole| {
            AppError::with(ErrorCode::InvalidInput, e.to_string())
        })?;
    if role == Role::Admin && viewer.user.role != Role::Admin {
        return Err(AppError::with(
            ErrorCode::Forbidden,
            "Only an administrator can grant the Admin role.",
        ));
    }
    let token = random_token()?;
    let new = NewInvitation {
        org_id: viewer.org.id,
        email,
        role,
        token_hash: sha256_hex(token.as_bytes()),
        expires_at: now_ms() + 7 * 86_400_000,
    };
    let inv = state.store.create_invitation(&new, &viewer.actor()).await?;
    Ok(Json(InvitationOut {
        id: inv.id,
        email: inv.email,
        role: inv.role.as_str().to_owned(),
        expires_at: inv.expires_at,
        link: format!("{}/invite/{token}", state.config.public_url()),
    }))
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct PageQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<u32>,
}

impl PageQuery {
    fn page(&self) -> AppResult<Page> {
        Ok(Page {
            before_id: cursor(self.cursor.as_deref())?,
            limit: self.limit.unwrap_or(50).clamp(1, 500),
        })
    }
}

fn cursor(raw: Option<&str>) -> AppResult<Option<i64>> {
    raw.map(|c| {
        c.parse::<i64>().map_err(|_| {
            AppError::with(
                ErrorCode::BadRequest,
                "The cursor is not one this API returned.",
            )
        })
    })
    .transpose()
}

/// One page of a list.
#[derive(Serialize, ToSchema)]
pub(crate) struct Paged<T> {
    items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    next_cursor: Option<String>,
}

fn paged<T>(items: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Paged<T> {
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|i| id(i).to_string()))
        .flatten();
    Paged { items, next_cursor }
}

/// Audit list parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct AuditQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// Only actions starting with this, e.g. `auth.`.
    action: Option<String>,
}

/// An audit event with its chain link.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditOut {
    seq: i64,
    /// Unix milliseconds.
    at_ms: i64,
    actor: String,
    action: String,
    target: String,
    /// JSON object with the details of the change.
    #[schema(value_type = Object)]
    detail: Value,
    ip: Option<String>,
    /// Hex SHA-256 of the previous event.
    prev_hash: String,
    /// Hex SHA-256 of this event.
    hash: String,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("token" = [])), params(AuditQuery),
    responses((status = 200, body = Paged<AuditOut>), (status = 403, body = ErrorBody)))]
/// Audit events, newest first.
pub(crate) async fn audit(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> AppResult<Json<Paged<AuditOut>>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = AuditFilter {
        org_id: Some(viewer.org.id),
        action_prefix: q.action.clone(),
        before_seq: cursor(q.cursor.as_deref())?,
        limit,
        ..AuditFilter::default()
    };
    let events = state.store.audit_page(&filter).await?;
    let items = events
        .into_iter()
        .map(|e| AuditOut {
            seq: e.seq,
            at_ms: e.at_ms,
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
            ip: e.ip,
            prev_hash: hex::encode(e.prev_hash),
            hash: hex::encode(e.hash),
        })
        .collect();
    Ok(Json(paged(items, limit, |e: &AuditOut| e.seq)))
}

/// An inbox item.
#[derive(Serialize, ToSchema)]
pub(crate) struct InboxOut {
    id: i64,
    channel_id: i64,
    /// `comment`, `mention` or `message`.
    kind: String,
    author_handle: String,
    author_name: String,
    body: String,
    /// Unix milliseconds.
    received_at: i64,
    status: String,
    /// The screening decision for this item: `allow`, `hold_for_review`, `hide`, `block` or `escalate`.
    decision: String,
}

#[utoipa::path(get, path = "/api/v1/inbox", tag = "inbox", security(("token" = [])), params(PageQuery),
    responses((status = 200, body = Paged<InboxOut>), (status = 403, body = ErrorBody)))]
/// Inbox items, newest first, each with its screening decision.
pub(crate) async fn inbox(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Paged<InboxOut>>> {
    let page = q.page()?;
    let items = state.store.inbox_items(viewer.org.id, &page).await?;
    let items = items
        .into_iter()
        .map(|i| {
            let decision = state
                .screener
                .screen(&Message::incoming(i.body.as_str()))
                .map(|r| r.decision.as_str().to_owned())
                .unwrap_or_else(|_| "hold_for_review".into());
            InboxOut {
                id: i.id,
                channel_id: i.channel_id,
                kind: i.kind,
                author_handle: i.author_handle,
                author_name: i.author_name,
                body: i.body,
                received_at: i.received_at,
                status: i.status,
                decision,
            }
        })
        .collect();
    Ok(Json(paged(items, page.limit, |i: &InboxOut| i.id)))
}

/// Post list parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct PostsQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<u32>,
    /// Only posts in this status: `draft`, `in_review`, `approved`, `scheduled`, `published`, `rejected`.
    status: Option<String>,
}

/// A post.
#[derive(Serialize, ToSchema)]
pub(crate) struct PostOut {
    id: i64,
    body: String,
    channel_ids: Vec<i64>,
    status: String,
    /// Unix milliseconds.
    scheduled_at: Option<i64>,
    paid: bool,
    /// Unix milliseconds.
    updated_at: i64,
}

#[utoipa::path(get, path = "/api/v1/posts", tag = "posts", security(("token" = [])), params(PostsQuery),
    responses((status = 200, body = Paged<PostOut>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// Posts, newest first.
pub(crate) async fn posts(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PostsQuery>,
) -> AppResult<Json<Paged<PostOut>>> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            [
                PostStatus::Draft,
                PostStatus::InReview,
                PostStatus::Approved,
                PostStatus::Scheduled,
                PostStatus::Published,
                PostStatus::Rejected,
            ]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                AppError::with(ErrorCode::InvalidInput, format!("unknown status {s:?}"))
            })?,
        ),
    };
    let page = Page {
        before_id: cursor(q.cursor.as_deref())?,
        limit: q.limit.unwrap_or(50).clamp(1, 500),
    };
    let posts = state.store.posts(viewer.org.id, status, &page).await?;
    let items = posts
        .into_iter()
        .map(|p| PostOut {
            id: p.id,
            body: p.body,
            channel_ids: p.channel_ids,
            status: p.status.as_str().to_owned(),
            scheduled_at: p.scheduled_at,
            paid: p.paid,
            updated_at: p.updated_at,
        })
        .collect();
    Ok(Json(paged(items, page.limit, |p: &PostOut| p.id)))
}

/// A social account with the health of its sign-in.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChannelOut {
    id: i64,
    /// `bluesky`, `mastodon` or `facebook`.
    network: String,
    handle: String,
    display_name: String,
    /// `not_connected`, `connected`, `error` or `expired`.
    status: String,
    /// When the token expires, Unix milliseconds; absent when it does not.
    token_expires_at: Option<i64>,
    /// The last call to the network that worked, Unix milliseconds.
    last_success_at: Option<i64>,
    /// The last failure, in the network's own words.
    last_error: Option<String>,
    /// When it failed, Unix milliseconds.
    last_error_at: Option<i64>,
}

impl From<rounds_store::Channel> for ChannelOut {
    fn from(c: rounds_store::Channel) -> ChannelOut {
        ChannelOut {
            id: c.id,
            network: c.network,
            handle: c.handle,
            display_name: c.display_name,
            status: c.status.as_str().to_owned(),
            token_expires_at: c.token_expires_at,
            last_success_at: c.last_success_at,
            last_error: c.last_error,
            last_error_at: c.last_error_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", security(("token" = [])),
    responses((status = 200, body = Vec<ChannelOut>), (status = 403, body = ErrorBody)))]
/// The organization's channels.
pub(crate) async fn channels(
    State(state): State<AppState>,
    viewer: Viewer,
) -> AppResult<Json<Vec<ChannelOut>>> {
    let channels = state.store.channels(viewer.org.id).await?;
    Ok(Json(channels.into_iter().map(ChannelOut::from).collect()))
}

/// The credentials of a channel to connect; which fields are needed depends on `network`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChannelIn {
    /// `bluesky`, `mastodon` or `facebook`.
    network: String,
    /// Bluesky: the PDS URL (default `https://bsky.social`).
    #[serde(default)]
    service: Option<String>,
    /// Bluesky: the handle or email address.
    #[serde(default)]
    identifier: Option<String>,
    /// Bluesky: an app password, never the account password.
    #[serde(default)]
    app_password: Option<String>,
    /// Mastodon: the instance URL.
    #[serde(default)]
    instance: Option<String>,
    /// Mastodon: an access token with the read and write scopes.
    #[serde(default)]
    access_token: Option<String>,
    /// Facebook: the page id.
    #[serde(default)]
    page_id: Option<String>,
    /// Facebook: a page access token.
    #[serde(default)]
    page_access_token: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", security(("token" = [])), request_body = ChannelIn,
    responses((status = 200, description = "Connected: the network accepted the credentials, which are now stored sealed", body = ChannelOut),
              (status = 400, description = "`invalid_input`, or `network_refused` with the network's own message; nothing is stored", body = ErrorBody),
              (status = 403, body = ErrorBody),
              (status = 502, description = "`network_unavailable`: the network could not be reached; nothing is stored", body = ErrorBody)))]
/// Connects a channel: the network checks the credentials before anything is stored.
pub(crate) async fn connect_channel(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(input): ApiJson<ChannelIn>,
) -> AppResult<Json<ChannelOut>> {
    let form = ConnectForm {
        network: input.network,
        service: input.service.unwrap_or_default(),
        identifier: input.identifier.unwrap_or_default(),
        app_password: input.app_password.unwrap_or_default(),
        instance: input.instance.unwrap_or_default(),
        access_token: input.access_token.unwrap_or_default(),
        page_id: input.page_id.unwrap_or_default(),
        page_access_token: input.page_access_token.unwrap_or_default(),
    };
    let channel = connect_new(&state, &viewer, &form)
        .await
        .map_err(AppError::from)?;
    Ok(Json(channel.into()))
}

/// One screening finding of a post.
#[derive(Serialize, ToSchema)]
pub(crate) struct FindingOut {
    /// Stable rule id, e.g. `phi.phone`.
    rule: String,
    severity: String,
    action: String,
    /// Byte offsets into `body`.
    start: usize,
    end: usize,
    matched: String,
    explanation: String,
    suggestion: Option<String>,
}

/// A post with its current version's screening.
#[derive(Serialize, ToSchema)]
pub(crate) struct PostDetail {
    id: i64,
    /// Send it back as `expected_version` when editing or submitting.
    version: i64,
    body: String,
    channel_ids: Vec<i64>,
    /// `draft`, `in_review`, `changes_requested`, `rejected`, `approved`, `scheduled`, `published`, `failed` or `needs_reschedule`.
    status: String,
    /// Why the post is in its status, when that needs saying.
    status_note: Option<String>,
    content_type: String,
    paid: bool,
    media_ids: Vec<i64>,
    /// Unix milliseconds.
    scheduled_at: Option<i64>,
    /// Unix milliseconds.
    updated_at: i64,
    /// The screening decision for the current text: `allow`, `hold_for_review`, `hide`, `block` or `escalate`.
    decision: String,
    findings: Vec<FindingOut>,
}

async fn post_detail(
    state: &AppState,
    org_id: i64,
    post: rounds_store::Post,
) -> AppResult<PostDetail> {
    let media = media_of_post(state, org_id, &post).await?;
    let report = screen_post(state, &post.body, post.paid, &media)?;
    Ok(PostDetail {
        id: post.id,
        version: post.version,
        status: post.status.as_str().to_owned(),
        status_note: post.status_note,
        content_type: post.content_type,
        paid: post.paid,
        media_ids: post.media_ids,
        scheduled_at: post.scheduled_at,
        updated_at: post.updated_at,
        channel_ids: post.channel_ids,
        decision: report.decision.as_str().to_owned(),
        findings: report
            .findings
            .iter()
            .filter(|f| f.field.is_text())
            .map(|f| FindingOut {
                rule: f.rule_id.to_string(),
                severity: f.severity.as_str().to_owned(),
                action: f.action.as_str().to_owned(),
                start: f.span.start,
                end: f.span.end,
                matched: f.matched.clone(),
                explanation: f.explanation.to_string(),
                suggestion: f.suggestion.as_deref().map(str::to_owned),
            })
            .collect(),
        body: post.body,
    })
}

#[utoipa::path(get, path = "/api/v1/posts/{id}", tag = "posts", security(("token" = [])), params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, body = PostDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// One post with its current version's screening.
pub(crate) async fn post(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Json<PostDetail>> {
    let post = state.store.post(viewer.org.id, id).await?;
    Ok(Json(post_detail(&state, viewer.org.id, post).await?))
}

/// A draft's content.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DraftIn {
    body: String,
    #[serde(default)]
    channel_ids: Vec<i64>,
    #[serde(default)]
    paid: bool,
    /// `general` (default), `brand_promotion`, `disease_awareness`, `clinical_trial` or `crisis_communication`: picks the approval chain.
    #[serde(default)]
    content_type: Option<String>,
    /// When to publish once approved, RFC 3339 (e.g. `2026-11-26T09:30:00Z`); absent: as soon as approved.
    #[serde(default)]
    scheduled_at: Option<String>,
    /// Uploaded images, in order.
    #[serde(default)]
    media_ids: Vec<i64>,
}

impl DraftIn {
    fn draft(self) -> AppResult<Draft> {
        Ok(Draft {
            body: self.body.trim().to_owned(),
            channel_ids: self.channel_ids,
            paid: self.paid,
            scheduled_at: self
                .scheduled_at
                .as_deref()
                .map(parse_rfc3339)
                .transpose()?,
            content_type: self.content_type.unwrap_or_else(|| "general".into()),
            media_ids: self.media_ids,
        })
    }
}

#[utoipa::path(post, path = "/api/v1/posts", tag = "posts", security(("token" = [])), request_body = DraftIn,
    responses((status = 200, body = PostDetail), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// Creates a draft.
pub(crate) async fn create_post(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(input): ApiJson<DraftIn>,
) -> AppResult<Json<PostDetail>> {
    let draft = input.draft()?;
    validate_draft(&state, viewer.org.id, &draft).await?;
    let new = rounds_store::NewPost {
        author_id: Some(viewer.user.id),
        body: draft.body,
        channel_ids: draft.channel_ids,
        status: PostStatus::Draft,
        scheduled_at: draft.scheduled_at,
        paid: draft.paid,
        content_type: draft.content_type,
        media_ids: draft.media_ids,
    };
    let post = state
        .store
        .create_post(viewer.org.id, &new, &viewer.actor())
        .await
        .map_err(store_error)?;
    Ok(Json(post_detail(&state, viewer.org.id, post).await?))
}

/// A new version of a post: [`DraftIn`]'s fields and the version the client read. The fields are
/// repeated rather than `#[serde(flatten)]`ed because serde cannot deny unknown fields through a
/// flatten, and a misspelt field must be refused, not silently dropped from the new version.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditIn {
    /// The `version` you read; a post changed since then is refused with `conflict`.
    expected_version: i64,
    body: String,
    #[serde(default)]
    channel_ids: Vec<i64>,
    #[serde(default)]
    paid: bool,
    #[serde(default)]
    content_type: Option<String>,
    /// RFC 3339; absent: as soon as approved.
    #[serde(default)]
    scheduled_at: Option<String>,
    #[serde(default)]
    media_ids: Vec<i64>,
}

#[utoipa::path(put, path = "/api/v1/posts/{id}", tag = "posts", security(("token" = [])), params(("id" = i64, Path, description = "Post id")), request_body = EditIn,
    responses((status = 200, description = "The new version; the post is a draft again (approvals were for the old text)", body = PostDetail),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "`conflict`: the post changed since `expected_version`, or was published", body = ErrorBody)))]
/// Edits a post: a new version, checked against the version the client read.
pub(crate) async fn edit_post(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<EditIn>,
) -> AppResult<Json<PostDetail>> {
    let expected = input.expected_version;
    let draft = DraftIn {
        body: input.body,
        channel_ids: input.channel_ids,
        paid: input.paid,
        content_type: input.content_type,
        scheduled_at: input.scheduled_at,
        media_ids: input.media_ids,
    }
    .draft()?;
    validate_draft(&state, viewer.org.id, &draft).await?;
    let edit = rounds_store::PostEdit {
        body: draft.body,
        channel_ids: draft.channel_ids,
        paid: draft.paid,
        scheduled_at: draft.scheduled_at,
        content_type: draft.content_type,
        media_ids: draft.media_ids,
    };
    let post = state
        .store
        .update_post(viewer.org.id, id, expected, &edit, &viewer.actor())
        .await
        .map_err(store_error)?;
    Ok(Json(post_detail(&state, viewer.org.id, post).await?))
}

/// Submission for approval.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitIn {
    /// The `version` you read; absent: the current one.
    #[serde(default)]
    expected_version: Option<i64>,
    /// Overrides a blocking screening decision: at least 20 characters, only for roles that may publish; audited.
    #[serde(default)]
    override_reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/posts/{id}/submit", tag = "posts", security(("token" = [])), params(("id" = i64, Path, description = "Post id")), request_body = SubmitIn,
    responses((status = 200, body = PostDetail),
              (status = 400, description = "`invalid_input`: no channel, too long for a chosen network, an image without alt text", body = ErrorBody),
              (status = 403, description = "`forbidden`, also when a role that may not publish gives an override reason", body = ErrorBody),
              (status = 409, body = ErrorBody),
              (status = 422, description = "`screening_blocked`: a blocking finding and no valid override", body = ErrorBody)))]
/// Submits the current version for approval; the server screens it again first.
pub(crate) async fn submit_post(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<SubmitIn>,
) -> AppResult<Json<PostDetail>> {
    let post = state.store.post(viewer.org.id, id).await?;
    if input.expected_version.is_some_and(|v| v != post.version) {
        return Err(AppError::with(
            ErrorCode::Conflict,
            "The post changed since you read it; read it again before submitting.",
        ));
    }
    let post = submit_checked(&state, &viewer, &post, input.override_reason.as_deref()).await?;
    Ok(Json(post_detail(&state, viewer.org.id, post).await?))
}

/// A new time for an approved post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleIn {
    /// RFC 3339, e.g. `2026-11-26T09:30:00-05:00`.
    at: String,
}

#[utoipa::path(post, path = "/api/v1/posts/{id}/schedule", tag = "posts", security(("token" = [])), params(("id" = i64, Path, description = "Post id")), request_body = ScheduleIn,
    responses((status = 200, body = PostDetail), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "`conflict`: the post is not approved, scheduled, late or failed", body = ErrorBody)))]
/// Schedules an approved (or late, or failed) post for a new time; for its author or a role that may publish.
pub(crate) async fn schedule_post(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ScheduleIn>,
) -> AppResult<Json<PostDetail>> {
    let at = parse_rfc3339(&input.at)?;
    let post = state.store.post(viewer.org.id, id).await?;
    let post = crate::pages::posts::schedule_post(&state, &viewer, &post, at).await?;
    Ok(Json(post_detail(&state, viewer.org.id, post).await?))
}

/// Whether the organization publishes, and if not who paused it, when and why.
#[derive(Serialize, ToSchema)]
pub(crate) struct PublishingOut {
    /// `true` while nothing is published.
    paused: bool,
    /// Who paused it (display name).
    by: Option<String>,
    /// Since when, Unix milliseconds.
    since: Option<i64>,
    /// Their written reason.
    reason: Option<String>,
    /// Posts whose time passed during the pause, sent back for a new time (only in the answer to resume).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sent_back: Vec<i64>,
}

impl PublishingOut {
    fn of(pause: Option<rounds_store::PublishingPause>, sent_back: Vec<i64>) -> PublishingOut {
        match pause {
            Some(p) => PublishingOut {
                paused: true,
                by: Some(p.by),
                since: Some(p.at_ms),
                reason: Some(p.reason),
                sent_back,
            },
            None => PublishingOut {
                paused: false,
                by: None,
                since: None,
                reason: None,
                sent_back,
            },
        }
    }
}

/// Why publishing stops.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PauseIn {
    /// Shown to everyone and audited, e.g. "Mass-casualty incident: all promotion on hold".
    reason: String,
}

#[utoipa::path(get, path = "/api/v1/publishing", tag = "posts", security(("token" = [])), responses((status = 200, body = PublishingOut)))]
/// Whether the organization's publishing is paused.
pub(crate) async fn publishing(
    State(state): State<AppState>,
    viewer: Viewer,
) -> AppResult<Json<PublishingOut>> {
    Ok(Json(PublishingOut::of(
        state.store.publishing_pause(viewer.org.id).await?,
        Vec::new(),
    )))
}

#[utoipa::path(post, path = "/api/v1/publishing/pause", tag = "posts", security(("token" = [])), request_body = PauseIn,
    responses((status = 200, body = PublishingOut), (status = 400, description = "`invalid_input`: no reason", body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, description = "`conflict`: already paused", body = ErrorBody)))]
/// Stops every publish of the organization, on every channel, until it is resumed (a crisis, an incident).
pub(crate) async fn pause_publishing(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(input): ApiJson<PauseIn>,
) -> AppResult<Json<PublishingOut>> {
    if input.reason.trim().is_empty() || input.reason.len() > 500 {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            "Give a reason of 1 to 500 bytes; it is shown to everyone and audited.",
        ));
    }
    let pause = state
        .store
        .pause_publishing(
            viewer.org.id,
            &viewer.user.display_name,
            &input.reason,
            &viewer.actor(),
        )
        .await?;
    Ok(Json(PublishingOut::of(Some(pause), Vec::new())))
}

#[utoipa::path(post, path = "/api/v1/publishing/resume", tag = "posts", security(("token" = [])),
    responses((status = 200, body = PublishingOut), (status = 403, body = ErrorBody), (status = 409, description = "`conflict`: not paused", body = ErrorBody)))]
/// Starts publishing again; scheduled posts whose time passed meanwhile wait for a new time (listed in `sent_back`).
pub(crate) async fn resume_publishing(
    State(state): State<AppState>,
    viewer: Viewer,
) -> AppResult<Json<PublishingOut>> {
    let sent_back = state
        .store
        .resume_publishing(viewer.org.id, &viewer.actor())
        .await?;
    Ok(Json(PublishingOut::of(None, sent_back)))
}

// Approvals, calendar and archive.

/// A post waiting for the caller's decision.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApprovalOut {
    post_id: i64,
    /// Decide on this version (send it as `expected_version`).
    version: i64,
    body: String,
    channel_ids: Vec<i64>,
    /// Unix milliseconds.
    scheduled_at: Option<i64>,
    /// Its slot is less than 24 hours away (or already passed).
    approval_due: bool,
    /// Where the chain stands, in words.
    summary: String,
    /// The chain's steps: `[{"role": "legal_reviewer", "mode": "any"}, …]`.
    #[schema(value_type = Object)]
    chain: Value,
    /// `{"state": "awaiting_step", "step": 0, "waiting_on": [user ids]}` and the like.
    #[schema(value_type = Object)]
    progress: Value,
}

#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", security(("token" = [])),
    responses((status = 200, body = Vec<ApprovalOut>), (status = 403, body = ErrorBody)))]
/// The caller's approval queue: posts whose current step waits for them, oldest first.
pub(crate) async fn approvals(
    State(state): State<AppState>,
    viewer: Viewer,
) -> AppResult<Json<Vec<ApprovalOut>>> {
    let org = viewer.org.id;
    let members = pages::approvals::role_members(&state.store.users(org).await?);
    let now = now_ms();
    let mut out = Vec::new();
    for post in state.store.approval_queue(org, viewer.user.id).await? {
        let cs = pages::approvals::chain_state(&state, org, &post, &members).await?;
        out.push(ApprovalOut {
            post_id: post.id,
            version: post.version,
            approval_due: pages::calendar::approval_due(&post, now),
            summary: pages::approvals::progress_summary(&cs.chain, &cs.progress),
            chain: serde_json::to_value(&cs.chain).map_err(AppError::internal)?,
            progress: serde_json::to_value(&cs.progress).map_err(AppError::internal)?,
            body: post.body,
            channel_ids: post.channel_ids,
            scheduled_at: post.scheduled_at,
        });
    }
    Ok(Json(out))
}

/// A reviewer's decision on one version of a post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionIn {
    /// `approve`, `request_changes` or `reject`.
    kind: String,
    /// Required for `request_changes` and `reject`.
    #[serde(default)]
    comment: Option<String>,
    /// The version the reviewer read; a decision on an older version is refused with 409.
    expected_version: i64,
}

/// The post after the decision.
#[derive(Serialize, ToSchema)]
pub(crate) struct DecisionOut {
    post_id: i64,
    /// The post's status now, e.g. `in_review`, `scheduled`, `needs_reschedule`, `rejected`.
    status: String,
    /// Where the chain stands, in words.
    summary: String,
    #[schema(value_type = Object)]
    progress: Value,
}

#[utoipa::path(post, path = "/api/v1/posts/{id}/decisions", tag = "approvals", security(("token" = [])), request_body = DecisionIn,
    params(("id" = i64, Path, description = "The post")),
    responses((status = 200, body = DecisionOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not this user's step (their own post, another role, already decided)"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The post changed since that version was read")))]
/// Approves, rejects or requests changes on the version the reviewer read.
pub(crate) async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<DecisionIn>,
) -> AppResult<Json<DecisionOut>> {
    let (kind, comment) = pages::approvals::check_decision(&input.kind, input.comment.as_deref())?;
    let progress = state
        .store
        .decide(
            viewer.org.id,
            id,
            input.expected_version,
            kind,
            comment.as_deref(),
            viewer.user.id,
            &viewer.actor(),
        )
        .await
        .map_err(pages::approvals::decision_error)?;
    let post = state.store.post(viewer.org.id, id).await?;
    let chain = pages::approvals::chain_state(
        &state,
        viewer.org.id,
        &post,
        &pages::approvals::role_members(&state.store.users(viewer.org.id).await?),
    )
    .await?
    .chain;
    Ok(Json(DecisionOut {
        post_id: id,
        status: post.status.as_str().to_owned(),
        summary: pages::approvals::progress_summary(&chain, &progress),
        progress: serde_json::to_value(&progress).map_err(AppError::internal)?,
    }))
}

/// Calendar range, RFC 3339 instants.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct CalendarQuery {
    /// Start, inclusive, e.g. `2026-11-01T00:00:00Z`.
    from: String,
    /// End, exclusive; at most 100 days after `from`.
    to: String,
}

/// Where a post was published.
#[derive(Serialize, ToSchema)]
pub(crate) struct PublicationOut {
    channel_id: i64,
    version: i64,
    url: Option<String>,
    /// Unix milliseconds.
    published_at: i64,
    /// Unix milliseconds; set once it was deleted from the network.
    deleted_at: Option<i64>,
}

/// A post on the calendar.
#[derive(Serialize, ToSchema)]
pub(crate) struct CalendarOut {
    post_id: i64,
    /// `in_review`, `approved`, `scheduled`, `needs_reschedule`, `failed` or `published`.
    status: String,
    channel_ids: Vec<i64>,
    /// Unix milliseconds.
    scheduled_at: Option<i64>,
    /// Still in review less than 24 hours before its slot.
    approval_due: bool,
    /// Why it is in its status, when that needs saying (a missed slot, the network's error).
    status_note: Option<String>,
    publications: Vec<PublicationOut>,
}

fn rfc3339(name: &str, raw: &str) -> AppResult<i64> {
    raw.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            AppError::with(
                ErrorCode::InvalidInput,
                format!(
                    "{name} must be an RFC 3339 time such as 2026-11-01T00:00:00Z, not {raw:?}"
                ),
            )
        })
}

/// The longest range one calendar request covers.
const CALENDAR_MAX_MS: i64 = 100 * 86_400_000;

#[utoipa::path(get, path = "/api/v1/calendar", tag = "approvals", security(("token" = [])), params(CalendarQuery),
    responses((status = 200, body = Vec<CalendarOut>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
/// Posts in review or scheduled in the range, and posts published in it, by time.
pub(crate) async fn calendar(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<CalendarQuery>,
) -> AppResult<Json<Vec<CalendarOut>>> {
    let (from, to) = (rfc3339("from", &q.from)?, rfc3339("to", &q.to)?);
    if to <= from || to - from > CALENDAR_MAX_MS {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            "to must come after from, at most 100 days later.",
        ));
    }
    let org = viewer.org.id;
    let now = now_ms();
    let mut entries: Vec<(i64, CalendarOut)> = Vec::new();
    let out =
        |post: rounds_store::Post, publications: Vec<rounds_store::Publication>| CalendarOut {
            post_id: post.id,
            status: post.status.as_str().to_owned(),
            approval_due: pages::calendar::approval_due(&post, now),
            publications: publications
                .into_iter()
                .map(|p| PublicationOut {
                    channel_id: p.channel_id,
                    version: p.version,
                    url: p.url,
                    published_at: p.published_at,
                    deleted_at: p.deleted_at,
                })
                .collect(),
            channel_ids: post.channel_ids,
            scheduled_at: post.scheduled_at,
            status_note: post.status_note,
        };
    for e in state.store.posts_between(org, from, to).await? {
        let at = e
            .publications
            .iter()
            .map(|p| p.published_at)
            .min()
            .or(e.post.scheduled_at)
            .unwrap_or(e.post.created_at);
        entries.push((at, out(e.post, e.publications)));
    }
    for status in [PostStatus::InReview, PostStatus::Approved] {
        for post in state
            .store
            .posts(
                org,
                Some(status),
                &Page {
                    before_id: None,
                    limit: 500,
                },
            )
            .await?
        {
            if let Some(at) = post.scheduled_at.filter(|t| (from..to).contains(t)) {
                entries.push((at, out(post, Vec::new())));
            }
        }
    }
    entries.sort_by_key(|(at, e)| (*at, e.post_id));
    Ok(Json(entries.into_iter().map(|(_, e)| e).collect()))
}

/// An archived item.
#[derive(Serialize, ToSchema)]
pub(crate) struct ArchiveOut {
    id: i64,
    /// `post`, `deletion` or `edit`.
    kind: String,
    post_id: Option<i64>,
    channel_id: Option<i64>,
    /// The item's address on the network.
    url: Option<String>,
    /// The text as published.
    body: String,
    /// `{"version", "approvals": [{version, step, user_id, user_name, user_email, decision, comment, at_ms}], "report", "override_reason", "network"}`.
    #[schema(value_type = Object)]
    record: Value,
    /// Unix milliseconds.
    at_ms: i64,
}

#[utoipa::path(get, path = "/api/v1/archive", tag = "approvals", security(("token" = [])), params(PageQuery),
    responses((status = 200, body = Paged<ArchiveOut>), (status = 403, body = ErrorBody)))]
/// Archived items, newest first, each with its approval record and screening report.
pub(crate) async fn archive(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Paged<ArchiveOut>>> {
    let page = q.page()?;
    let items = state.store.archive_items(viewer.org.id, &page).await?;
    let items = items
        .into_iter()
        .map(|i| ArchiveOut {
            id: i.id,
            kind: i.kind,
            post_id: i.post_id,
            channel_id: i.channel_id,
            url: i.url,
            body: i.body,
            record: i.record,
            at_ms: i.at_ms,
        })
        .collect();
    Ok(Json(paged(items, page.limit, |i: &ArchiveOut| i.id)))
}

// End of approvals, calendar and archive.

#[derive(OpenApi)]
#[openapi(
    info(title = "Rounds API", version = "1", description = "Screening, users, audit log, inbox, channels, posts, approvals, calendar and archive of a Rounds organization."),
    paths(me, rules, screen, users, invite, audit, inbox, posts, channels, connect_channel, post, create_post, edit_post, submit_post, schedule_post, publishing, pause_publishing, resume_publishing, approvals, decide, calendar, archive),
    modifiers(&TokenAuth)
)]
struct ApiDoc;

struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A personal API token from the account page."))
                .build(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("token", scheme);
    }
}

/// The OpenAPI 3.1 document.
pub(crate) async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// The paths the OpenAPI document describes (a test checks they match the route table).
#[cfg(test)]
pub(crate) fn documented_paths() -> Vec<String> {
    ApiDoc::openapi().paths.paths.keys().cloned().collect()
}
