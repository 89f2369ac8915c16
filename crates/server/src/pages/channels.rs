//! The channels page: each social account with its token health, and the forms that connect,
//! check and disconnect them. Connecting asks the network first and stores the sealed credentials
//! only when it accepted them; secrets are never written back into a page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use connectors::{
    ConnectorError, Credentials, DEFAULT_BLUESKY_SERVICE, DEFAULT_FACEBOOK_GRAPH, NETWORKS, Network,
};
use rounds_domain::Permission;
use rounds_store::{Channel, ChannelHealth, ChannelStatus, NewChannel};
use serde::Deserialize;

use super::NoticeQuery;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::session::Viewer;
use crate::views::{Layout, render, render_status};
use crate::{AppState, now_ms};

/// The connect form's fields; which ones matter depends on the network.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConnectForm {
    #[serde(default)]
    pub(crate) network: String,
    /// Bluesky PDS URL.
    #[serde(default)]
    pub(crate) service: String,
    /// Bluesky handle or email.
    #[serde(default)]
    pub(crate) identifier: String,
    #[serde(default)]
    pub(crate) app_password: String,
    /// Mastodon instance URL.
    #[serde(default)]
    pub(crate) instance: String,
    #[serde(default)]
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) page_id: String,
    #[serde(default)]
    pub(crate) page_access_token: String,
}

impl ConnectForm {
    /// The credentials the fields describe, or what is missing in words.
    pub(crate) fn credentials(&self) -> Result<Credentials, String> {
        let need = |value: &str, what: &str| {
            if value.trim().is_empty() {
                Err(format!("Enter the {what}."))
            } else {
                Ok(value.trim().to_owned())
            }
        };
        match Network::parse(self.network.trim()) {
            Some(Network::Bluesky) => Ok(Credentials::Bluesky {
                service: if self.service.trim().is_empty() {
                    DEFAULT_BLUESKY_SERVICE.to_owned()
                } else {
                    self.service.trim().to_owned()
                },
                identifier: need(&self.identifier, "Bluesky handle")?,
                app_password: need(&self.app_password, "app password")?,
            }),
            Some(Network::Mastodon) => Ok(Credentials::Mastodon {
                instance: need(&self.instance, "Mastodon instance URL")?,
                access_token: need(&self.access_token, "access token")?,
            }),
            Some(Network::Facebook) => Ok(Credentials::Facebook {
                graph: DEFAULT_FACEBOOK_GRAPH.to_owned(),
                page_id: need(&self.page_id, "Facebook page id")?,
                page_access_token: need(&self.page_access_token, "page access token")?,
            }),
            None => Err(format!(
                "Choose a network: {}.",
                NETWORKS.map(Network::as_str).join(", ")
            )),
        }
    }
}

/// Why connecting failed: the input, the network (in its own words), or Rounds itself.
pub(crate) enum ConnectFailure {
    /// The form or body is incomplete.
    Input(String),
    /// The network refused or could not be reached.
    Network(ConnectorError),
    /// Storing failed.
    App(AppError),
}

impl From<ConnectFailure> for AppError {
    fn from(f: ConnectFailure) -> AppError {
        match f {
            ConnectFailure::Input(m) => AppError::with(ErrorCode::InvalidInput, m),
            ConnectFailure::Network(e) => network_error(&e),
            ConnectFailure::App(e) => e,
        }
    }
}

/// Asks the network whose account the credentials open; nothing is stored.
async fn verify(state: &AppState, creds: &Credentials) -> Result<ChannelHealth, ConnectFailure> {
    let address = match creds {
        Credentials::Bluesky { service, .. } => service,
        Credentials::Mastodon { instance, .. } => instance,
        Credentials::Facebook { graph, .. } => graph,
    };
    connectors::check_destination(
        address,
        connectors::Reach::allowing_private(state.config.publishing.allow_private_hosts),
    )
    .await
    .map_err(ConnectFailure::Input)?;
    let connector = connectors::connect(creds, &state.http).map_err(ConnectFailure::Network)?;
    let health = connector.health().await.map_err(ConnectFailure::Network)?;
    Ok(ChannelHealth {
        handle: health.handle,
        display_name: health.display_name,
        token_expires_at: health.token_expires_at_ms,
    })
}

fn sealed_json(creds: &Credentials) -> Result<String, ConnectFailure> {
    serde_json::to_string(creds).map_err(|e| ConnectFailure::App(AppError::internal(e)))
}

/// Connects a new channel: the network must accept the credentials before anything is stored.
pub(crate) async fn connect_new(
    state: &AppState,
    viewer: &Viewer,
    form: &ConnectForm,
) -> Result<Channel, ConnectFailure> {
    let creds = form.credentials().map_err(ConnectFailure::Input)?;
    let health = verify(state, &creds).await?;
    let json = sealed_json(&creds)?;
    let new = NewChannel {
        network: creds.network().as_str().to_owned(),
        handle: health.handle.clone(),
        display_name: health.display_name.clone(),
    };
    state
        .store
        .create_connected_channel(viewer.org.id, &new, &json, &health, &viewer.actor())
        .await
        .map_err(|e| ConnectFailure::App(e.into()))
}

/// One channel as a table row.
struct ChannelRow {
    id: i64,
    network: String,
    network_label: &'static str,
    handle: String,
    display_name: String,
    status: &'static str,
    tone: &'static str,
    expires: String,
    last_success: String,
    last_error: String,
    last_error_at: String,
    connected: bool,
}

impl ChannelRow {
    fn new(c: &Channel) -> ChannelRow {
        let when = |ms: Option<i64>| ms.map(super::account::when).unwrap_or_default();
        ChannelRow {
            id: c.id,
            network_label: Network::parse(&c.network).map_or("Other", Network::label),
            network: c.network.clone(),
            handle: c.handle.clone(),
            display_name: c.display_name.clone(),
            status: c.status.label(),
            tone: match c.status {
                ChannelStatus::Connected => "ok",
                ChannelStatus::NotConnected => "review",
                ChannelStatus::Error | ChannelStatus::Expired => "block",
            },
            expires: match (c.status, c.token_expires_at) {
                (ChannelStatus::NotConnected, _) => String::new(),
                (_, None) => "does not expire".to_owned(),
                (_, Some(at)) => super::account::when(at),
            },
            last_success: when(c.last_success_at),
            last_error: c.last_error.clone().unwrap_or_default(),
            last_error_at: when(c.last_error_at),
            connected: c.status != ChannelStatus::NotConnected,
        }
    }
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage {
    layout: Layout,
    rows: Vec<ChannelRow>,
    can_manage: bool,
    /// The network whose form shows the error, and the error.
    error: Option<(String, String)>,
    /// Non-secret fields typed into the failed form.
    service: String,
    identifier: String,
    instance: String,
    page_id: String,
    default_service: &'static str,
}

async fn channels_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<(String, String)>,
    form: &ConnectForm,
) -> AppResult<ChannelsPage> {
    let channels = state.store.channels(viewer.org.id).await?;
    Ok(ChannelsPage {
        layout: Layout::new(viewer, "Channels", "/channels"),
        rows: channels.iter().map(ChannelRow::new).collect(),
        can_manage: viewer.can(Permission::ManageChannels),
        error,
        service: form.service.clone(),
        identifier: form.identifier.clone(),
        instance: form.instance.clone(),
        page_id: form.page_id.clone(),
        default_service: DEFAULT_BLUESKY_SERVICE,
    })
}

/// The organization's channels with their token health.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> AppResult<Response> {
    let mut page = channels_page(&state, &viewer, None, &ConnectForm::default()).await?;
    page.layout = page.layout.with_notice(q.notice.as_deref());
    Ok(render(&page))
}

fn failure_page_status(f: &ConnectFailure) -> StatusCode {
    match f {
        ConnectFailure::Network(e) if e.is_retryable() => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Connects a new channel from the "Add channel" form.
pub(crate) async fn add(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<ConnectForm>,
) -> AppResult<Response> {
    match connect_new(&state, &viewer, &form).await {
        Ok(_) => Ok(Redirect::to("/channels?notice=channel_connected").into_response()),
        Err(ConnectFailure::App(e)) => Err(e),
        Err(f) => {
            let status = failure_page_status(&f);
            let message = AppError::from(f).message;
            let page = channels_page(
                &state,
                &viewer,
                Some((form.network.clone(), message)),
                &form,
            )
            .await?;
            Ok(render_status(status, &page))
        }
    }
}

/// Connects an existing channel again with new credentials (same network).
pub(crate) async fn reconnect(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    axum::Form(mut form): axum::Form<ConnectForm>,
) -> AppResult<Response> {
    let channel = state
        .store
        .channel(viewer.org.id, id)
        .await?
        .ok_or(AppError::with(ErrorCode::NotFound, "channel not found."))?;
    form.network.clone_from(&channel.network);
    let result = async {
        let creds = form.credentials().map_err(ConnectFailure::Input)?;
        let health = verify(&state, &creds).await?;
        let json = sealed_json(&creds)?;
        state
            .store
            .connect_channel(viewer.org.id, id, &json, &health, &viewer.actor())
            .await
            .map_err(|e| ConnectFailure::App(e.into()))
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to("/channels?notice=channel_connected").into_response()),
        Err(ConnectFailure::App(e)) => Err(e),
        Err(f) => {
            let status = failure_page_status(&f);
            let message = format!(
                "{} ({}): {}",
                channel.display_name,
                channel.handle,
                AppError::from(f).message
            );
            let page = channels_page(
                &state,
                &viewer,
                Some((format!("channel-{id}"), message)),
                &form,
            )
            .await?;
            Ok(render_status(status, &page))
        }
    }
}

/// A network's refusal as an error response, in its own words.
pub(crate) fn network_error(e: &ConnectorError) -> AppError {
    let code = if e.is_retryable() {
        ErrorCode::NetworkUnavailable
    } else {
        ErrorCode::NetworkRefused
    };
    AppError::with(code, format!("{e}."))
}

/// How a failed call leaves the channel: expired when someone must connect it again.
pub(crate) fn failed_status(e: &ConnectorError) -> ChannelStatus {
    if e.token_lost() {
        ChannelStatus::Expired
    } else {
        ChannelStatus::Error
    }
}

/// Builds the connector of a stored channel.
pub(crate) async fn connector_for(
    state: &AppState,
    org_id: i64,
    channel_id: i64,
) -> AppResult<Box<dyn connectors::Connector>> {
    let json = state
        .store
        .channel_credentials(org_id, channel_id)
        .await?
        .ok_or(AppError::with(
            ErrorCode::Conflict,
            "The channel is not connected; connect it first.",
        ))?;
    let creds: Credentials = serde_json::from_str(&json)
        .map_err(|_| AppError::internal("stored channel credentials do not parse"))?;
    connectors::connect(&creds, &state.http).map_err(|e| network_error(&e))
}

/// "Check now": asks the network and records the answer (success, or its error in its own words).
pub(crate) async fn check(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    state
        .store
        .channel(viewer.org.id, id)
        .await?
        .ok_or(AppError::with(ErrorCode::NotFound, "channel not found."))?;
    let connector = connector_for(&state, viewer.org.id, id).await?;
    match connector.health().await {
        Ok(_) => state.store.record_channel_success(id, now_ms()).await?,
        Err(e) => {
            state
                .store
                .record_channel_error(id, failed_status(&e), &e.to_string(), now_ms())
                .await?
        }
    }
    Ok(Redirect::to("/channels?notice=channel_checked").into_response())
}

/// Forgets a channel's credentials; its history stays.
pub(crate) async fn disconnect(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    state
        .store
        .disconnect_channel(viewer.org.id, id, &viewer.actor())
        .await?;
    Ok(Redirect::to("/channels?notice=channel_disconnected").into_response())
}
