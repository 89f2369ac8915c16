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
    check_destination(address, state.config.publishing.allow_private_hosts)
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

/// Refuses a channel address that would have the server call into its own network (a PDS or
/// instance URL of `http://169.254.169.254/` or an intranet host): https, and every address the
/// name resolves to on the public internet, unless `allow_private` (a test network on this machine).
pub(crate) async fn check_destination(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| format!("{url:?} is not a web address ({e})."))?;
    if allow_private {
        return Ok(());
    }
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if parsed.scheme() != "https" || host.is_empty() {
        return Err(format!("Use an https:// address, not {url:?}."));
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("{host} cannot be found ({e})."))?;
    for address in addresses {
        if !is_public(address.ip()) {
            return Err(format!(
                "{host} points to a private or local address ({}); Rounds connects only to channels on the public internet.",
                address.ip()
            ));
        }
    }
    Ok(())
}

/// An address on the public internet: not loopback, private, link-local, shared (CGNAT),
/// unique-local, multicast, documentation or reserved.
fn is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (b & 0xC0) == 64))
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(std::net::IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::check_destination;

    #[tokio::test]
    async fn channel_addresses_must_be_public_https() {
        for url in [
            "http://bsky.social",
            "https://127.0.0.1:2583",
            "https://localhost/",
            "https://10.0.0.5/",
            "https://192.168.1.20/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "not a url",
        ] {
            let refused = check_destination(url, false).await;
            assert!(refused.is_err(), "{url} was allowed");
        }
        let message = check_destination("https://169.254.169.254/", false)
            .await
            .unwrap_err();
        assert!(
            message.contains("private or local address (169.254.169.254)"),
            "{message}"
        );
        assert_eq!(
            check_destination("https://93.184.215.14/", false).await,
            Ok(())
        );
        assert_eq!(
            check_destination("https://[2606:4700::6810:84e5]/", false).await,
            Ok(())
        );
        assert_eq!(
            check_destination("http://127.0.0.1:2583", true).await,
            Ok(()),
            "a test network on this machine when allowed"
        );
    }
}
