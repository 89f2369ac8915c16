//! Writing and editing posts: per-network previews with the screening findings marked in place,
//! one-click redaction of PHI, image upload with metadata stripped, and the checks that guard
//! submission. The checks are shared with the JSON API, so both refuse the same posts in the same
//! words.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use connectors::Network;
use jiff::tz::TimeZone;
use rounds_domain::Permission;
use rounds_domain::media::sanitize_image;
use rounds_store::{Channel, Media, NewMedia, NewPost, Post, PostEdit, PostStatus, StoreError};
use screen::{Attachments, Decision, Message, Report};

use crate::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::screening::{Screened, shape};
use crate::session::Viewer;
use crate::views::{Layout, render, render_status};

/// Longest post text accepted, in bytes (far above every network's limit, far below the engine's).
pub(crate) const MAX_TEXT: usize = 20_000;

/// Shortest written reason that may override a blocking screening decision, in characters.
pub(crate) const MIN_OVERRIDE_CHARS: usize = 20;

/// The content types a post can have: the values approval chains are scoped by, with their labels.
pub(crate) const CONTENT_TYPES: [(&str, &str); 5] = [
    ("general", "General"),
    ("brand_promotion", "Pharma brand promotion"),
    ("disease_awareness", "Disease awareness"),
    ("clinical_trial", "Clinical trial recruitment"),
    ("crisis_communication", "Crisis communication"),
];

/// What a post's author supplies, from the compose form or the API.
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub(crate) body: String,
    pub(crate) channel_ids: Vec<i64>,
    pub(crate) paid: bool,
    pub(crate) scheduled_at: Option<i64>,
    pub(crate) content_type: String,
    pub(crate) media_ids: Vec<i64>,
}

impl Draft {
    fn edit(&self) -> PostEdit {
        PostEdit {
            body: self.body.clone(),
            channel_ids: self.channel_ids.clone(),
            paid: self.paid,
            scheduled_at: self.scheduled_at,
            content_type: self.content_type.clone(),
            media_ids: self.media_ids.clone(),
        }
    }

    fn new_post(&self, author: i64) -> NewPost {
        NewPost {
            author_id: Some(author),
            body: self.body.clone(),
            channel_ids: self.channel_ids.clone(),
            status: PostStatus::Draft,
            scheduled_at: self.scheduled_at,
            paid: self.paid,
            content_type: self.content_type.clone(),
            media_ids: self.media_ids.clone(),
        }
    }
}

/// Store errors of the publishing calls in words: a move the post's life does not allow is a
/// conflict the author can understand, not a server failure.
pub(crate) fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::Transition(t) => AppError::with(
            ErrorCode::Conflict,
            format!("{}.", capitalize(&t.to_string())),
        ),
        StoreError::Refused(r) => AppError::with(
            ErrorCode::Forbidden,
            format!("{}.", capitalize(&r.to_string())),
        ),
        StoreError::Conflict(m) if m.starts_with("the post changed") => AppError::with(
            ErrorCode::Conflict,
            "This post changed since you opened it. Your text is kept below; reload the post to see the latest version.",
        ),
        other => other.into(),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The organization's time zone: the `time_zone` setting (an IANA name), UTC when unset.
pub(crate) async fn org_time_zone(state: &AppState, org_id: i64) -> AppResult<(String, TimeZone)> {
    let settings = state.store.settings(org_id).await?;
    let name = settings
        .get("time_zone")
        .map_or("UTC", String::as_str)
        .to_owned();
    let tz = time_zone(&name).map_err(|m| AppError::with(ErrorCode::InvalidInput, m))?;
    Ok((name, tz))
}

/// Validates an IANA time zone name such as `America/New_York`.
pub(crate) fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("{name:?} is not a time zone name this server knows (use an IANA name such as America/Chicago)."))
}

/// A `datetime-local` value (`2026-11-26T09:30`) in `tz` as Unix milliseconds.
pub(crate) fn parse_local(value: &str, tz: &TimeZone) -> Result<i64, String> {
    let bad = || format!("{value:?} is not a date and time (expected e.g. 2026-11-26T09:30).");
    let civil: jiff::civil::DateTime = value.trim().parse().map_err(|_| bad())?;
    let zoned = civil.to_zoned_datetime(tz.clone()).map_err(|_| bad())?;
    Ok(zoned.timestamp().as_millisecond())
}

/// Unix milliseconds as a `datetime-local` value in `tz`.
pub(crate) fn format_local(ms: i64, tz: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| String::new(),
        |t| {
            t.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        },
    )
}

/// Unix milliseconds in words, in `tz`.
pub(crate) fn when_local(ms: i64, tz: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| "?".into(),
        |t| {
            t.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        },
    )
}

/// An RFC 3339 time (`2026-11-26T09:30:00Z`) as Unix milliseconds.
pub(crate) fn parse_rfc3339(value: &str) -> AppResult<i64> {
    value
        .trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            AppError::with(
                ErrorCode::InvalidInput,
                format!("{value:?} is not an RFC 3339 time such as 2026-11-26T09:30:00Z."),
            )
        })
}

/// Checks what a draft refers to and how big it is; returns the chosen channels.
pub(crate) async fn validate_draft(
    state: &AppState,
    org_id: i64,
    draft: &Draft,
) -> AppResult<Vec<Channel>> {
    let invalid = |m: String| AppError::with(ErrorCode::InvalidInput, m);
    if draft.body.trim().is_empty() && draft.media_ids.is_empty() {
        return Err(invalid("Write something first.".into()));
    }
    if draft.body.len() > MAX_TEXT {
        return Err(invalid(format!(
            "The text is longer than {MAX_TEXT} bytes."
        )));
    }
    if !CONTENT_TYPES.iter().any(|(v, _)| *v == draft.content_type) {
        let known = CONTENT_TYPES
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(invalid(format!(
            "Unknown content type {:?}; use one of {known}.",
            draft.content_type
        )));
    }
    let all = state.store.channels(org_id).await?;
    let mut chosen = Vec::new();
    for id in &draft.channel_ids {
        match all.iter().find(|c| c.id == *id) {
            Some(c) => chosen.push(c.clone()),
            None => return Err(invalid(format!("Channel {id} does not exist."))),
        }
    }
    for id in &draft.media_ids {
        if state.store.media(org_id, *id).await?.is_none() {
            return Err(invalid(format!("Image {id} does not exist.")));
        }
    }
    Ok(chosen)
}

/// The distinct networks of the channels `ids` picks out of `all`, in channel order.
fn networks_of(all: &[Channel], ids: &[i64]) -> Vec<Network> {
    let mut networks = Vec::new();
    for n in all
        .iter()
        .filter(|c| ids.contains(&c.id))
        .filter_map(|c| Network::parse(&c.network))
    {
        if !networks.contains(&n) {
            networks.push(n);
        }
    }
    networks
}

/// The per-network length problems of a text, one sentence each.
pub(crate) fn length_problems(text: &str, networks: &[Network]) -> Vec<String> {
    networks
        .iter()
        .filter_map(|network| {
            network
                .check_text(text)
                .err()
                .map(|e| format!("Too long for {network}: {e}."))
        })
        .collect()
}

/// What each chosen network would refuse about a post's images (count, type, size, alt text
/// length), one sentence each, so the author learns it while composing and not at publish time.
pub(crate) fn image_problems(networks: &[Network], media: &[Media]) -> Vec<String> {
    let mut problems = Vec::new();
    if media.is_empty() {
        return problems;
    }
    for &network in networks {
        let limits = network.limits();
        if media.len() > limits.max_images {
            problems.push(format!(
                "{network} takes at most {} images in a post; this one has {}.",
                limits.max_images,
                media.len()
            ));
        }
        for (i, m) in media.iter().enumerate() {
            let n = i + 1;
            if !limits.image_types.contains(&m.mime.as_str()) {
                problems.push(format!(
                    "{network} does not take image {n} ({}); it takes {}.",
                    m.mime,
                    limits.image_types.join(", ")
                ));
            }
            let size = usize::try_from(m.size).unwrap_or(usize::MAX);
            if size > limits.max_image_bytes {
                problems.push(format!(
                    "Image {n} is {} and {network} takes images up to {}: attach a smaller copy (e.g. resized to 2,000 pixels on the long side).",
                    human_bytes(size),
                    human_bytes(limits.max_image_bytes)
                ));
            }
            let alt = m.alt_text.chars().count();
            if alt > limits.max_alt_chars {
                problems.push(format!(
                    "The alt text of image {n} has {alt} characters; {network} takes up to {}.",
                    limits.max_alt_chars
                ));
            }
        }
    }
    problems
}

/// A byte count as people read it: "1.0 MB", "950 KB".
fn human_bytes(n: usize) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a size shown to one decimal")]
    let f = n as f64;
    if n >= 1_000_000 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.0} KB", f / 1e3)
    }
}

/// Screens a post as it will go out: outgoing, with its paid flag and its images' alt text.
pub(crate) fn screen_post(
    state: &AppState,
    body: &str,
    paid: bool,
    media: &[Media],
) -> AppResult<Report> {
    let alt = media
        .iter()
        .map(|m| m.alt_text.trim())
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let msg = Message {
        attachments: Attachments {
            has_image: !media.is_empty(),
            alt_text: (!alt.is_empty()).then_some(alt),
            ..Attachments::default()
        },
        paid,
        ..Message::outgoing(body)
    };
    state
        .screener
        .screen(&msg)
        .map_err(|e| AppError::with(ErrorCode::InvalidInput, e.to_string()))
}

/// Whether a decision stops a post unless someone overrides it in writing.
pub(crate) fn is_blocking(decision: Decision) -> bool {
    matches!(decision, Decision::Block | Decision::Escalate)
}

async fn media_of(state: &AppState, org_id: i64, ids: &[i64]) -> AppResult<Vec<Media>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(state.store.media(org_id, *id).await?);
    }
    Ok(out)
}

/// The images of a post, in order.
pub(crate) async fn media_of_post(
    state: &AppState,
    org_id: i64,
    post: &Post,
) -> AppResult<Vec<Media>> {
    media_of(state, org_id, &post.media_ids).await
}

/// Submits the post's current version for approval after checking it again on the server: at
/// least one channel, within every chosen network's length, alt text on every image, and a
/// screening decision that does not block — or a written override of at least
/// [`MIN_OVERRIDE_CHARS`] characters by a role that may publish.
pub(crate) async fn submit_checked(
    state: &AppState,
    viewer: &Viewer,
    post: &Post,
    override_reason: Option<&str>,
) -> AppResult<Post> {
    let invalid = |m: String| AppError::with(ErrorCode::InvalidInput, m);
    if post.channel_ids.is_empty() {
        return Err(invalid(
            "Choose at least one channel before submitting for approval.".into(),
        ));
    }
    let networks = networks_of(
        &state.store.channels(viewer.org.id).await?,
        &post.channel_ids,
    );
    let too_long = length_problems(&post.body, &networks);
    if !too_long.is_empty() {
        return Err(invalid(too_long.join(" ")));
    }
    let media = media_of(state, viewer.org.id, &post.media_ids).await?;
    let image_refusals = image_problems(&networks, &media);
    if !image_refusals.is_empty() {
        return Err(invalid(image_refusals.join(" ")));
    }
    if let Some(pos) = media.iter().position(|m| m.alt_text.trim().is_empty()) {
        return Err(invalid(format!(
            "Image {} has no alt text; describe it for people who use screen readers before submitting.",
            pos + 1
        )));
    }
    let report = screen_post(state, &post.body, post.paid, &media)?;
    let reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
    if is_blocking(report.decision) {
        let rules = report
            .findings
            .iter()
            .map(|f| &*f.rule_id)
            .collect::<Vec<_>>()
            .join(", ");
        match reason {
            None => {
                return Err(AppError::with(
                    ErrorCode::ScreeningBlocked,
                    format!(
                        "Screening blocks this post ({rules}). Fix the findings, or ask someone who may publish to override them with a written reason."
                    ),
                ));
            }
            Some(_) if !viewer.can(Permission::Publish) => {
                return Err(AppError::with(
                    ErrorCode::Forbidden,
                    "Your role cannot override a blocking screening decision; fix the findings or ask a social media manager.",
                ));
            }
            Some(r) if r.chars().count() < MIN_OVERRIDE_CHARS => {
                return Err(AppError::with(
                    ErrorCode::ScreeningBlocked,
                    format!(
                        "Screening blocks this post ({rules}). An override needs a written reason of at least {MIN_OVERRIDE_CHARS} characters."
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let recorded = if is_blocking(report.decision) {
        reason
    } else {
        None
    };
    let report_json = serde_json::to_value(&report).map_err(AppError::internal)?;
    state
        .store
        .submit_post(
            viewer.org.id,
            post.id,
            post.version,
            report_json,
            recorded,
            &viewer.actor(),
        )
        .await
        .map_err(store_error)
}

/// A channel with its box ticked or not.
struct ChannelChoice {
    id: i64,
    label: String,
    checked: bool,
}

/// An attached image in the form.
pub(crate) struct MediaView {
    id: i64,
    alt: String,
    summary: String,
}

impl MediaView {
    fn new(m: &Media, removed: &[String]) -> MediaView {
        let kind = m.mime.trim_start_matches("image/").to_uppercase();
        let mut summary = format!(
            "{kind}, {}×{} px, {} KB",
            m.width,
            m.height,
            (m.size + 1023) / 1024
        );
        if !removed.is_empty() {
            summary.push_str(&format!("; removed: {}", removed.join(", ")));
        }
        MediaView {
            id: m.id,
            alt: m.alt_text.clone(),
            summary,
        }
    }
}

/// A run of preview text with its marks.
struct PreviewSegment {
    text: String,
    class: String,
    title: String,
}

/// The text as one network will show it, with its counter.
struct NetworkPreview {
    label: &'static str,
    length: usize,
    limit: usize,
    over: bool,
    segments: Vec<PreviewSegment>,
}

/// A PHI finding that one click can replace with its redaction.
struct Redaction {
    start: usize,
    end: usize,
    matched: String,
    replacement: String,
}

#[derive(Template)]
#[template(path = "compose_preview.html")]
struct Preview {
    result: Screened,
    networks: Vec<NetworkPreview>,
    redactions: Vec<Redaction>,
    blocking: bool,
    image_problems: Vec<String>,
}

/// The byte index where `text` passes `network`'s limit, if it does.
fn over_limit_at(network: Network, text: &str) -> Option<usize> {
    let limit = network.limits().max_chars;
    if network.text_length(text) <= limit {
        return None;
    }
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    // The shortest prefix that is too long; length grows with the prefix, so bisect.
    let (mut lo, mut hi) = (0, bounds.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if network.text_length(&text[..bounds[mid]]) > limit {
            hi = mid
        } else {
            lo = mid + 1
        }
    }
    Some(bounds[lo.saturating_sub(1)])
}

fn build_preview(text: &str, report: &Report, networks: &[Network]) -> Preview {
    let result = shape(text, report);
    let previews = networks
        .iter()
        .map(|n| {
            let cut = over_limit_at(*n, text);
            let mut segments = Vec::new();
            let mut at = 0;
            for s in &result.segments {
                let end = at + s.text.len();
                let pieces: Vec<(usize, usize)> = match cut {
                    Some(c) if c > at && c < end => vec![(at, c), (c, end)],
                    _ => vec![(at, end)],
                };
                for (a, b) in pieces {
                    let over = cut.is_some_and(|c| a >= c);
                    let mut class = s.class.to_owned();
                    if over {
                        class.push_str(if class.is_empty() { "over" } else { " over" });
                    }
                    let mut title = s.rules.clone();
                    if over {
                        title.push_str(if title.is_empty() {
                            "over the length limit"
                        } else {
                            "; over the length limit"
                        });
                    }
                    segments.push(PreviewSegment {
                        text: text.get(a..b).unwrap_or_default().to_owned(),
                        class,
                        title,
                    });
                }
                at = end;
            }
            NetworkPreview {
                label: n.label(),
                length: n.text_length(text),
                limit: n.limits().max_chars,
                over: cut.is_some(),
                segments,
            }
        })
        .collect();
    let redactions = report
        .findings
        .iter()
        .filter(|f| f.field.is_text())
        .filter_map(|f| {
            f.phi_category.map(|c| Redaction {
                start: f.span.start,
                end: f.span.end,
                matched: f.matched.clone(),
                replacement: format!("[{}]", c.label()),
            })
        })
        .collect();
    Preview {
        result,
        networks: previews,
        redactions,
        blocking: is_blocking(report.decision),
        image_problems: Vec::new(),
    }
}

/// The form fields of compose, edit and redact; `channel` and `media` repeat.
#[derive(Debug, Default)]
struct ComposeForm {
    text: String,
    channels: Vec<i64>,
    paid: bool,
    content_type: String,
    scheduled: String,
    media: Vec<i64>,
    alts: HashMap<i64, String>,
    intent: String,
    override_reason: String,
    version: Option<i64>,
    start: Option<usize>,
    end: Option<usize>,
}

impl ComposeForm {
    /// Repeated fields need the pair decoder: serde_urlencoded into a struct keeps only the last.
    fn parse(body: &[u8]) -> AppResult<ComposeForm> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| AppError::new(ErrorCode::BadRequest))?;
        let mut f = ComposeForm {
            content_type: "general".into(),
            ..ComposeForm::default()
        };
        for (k, v) in pairs {
            match k.as_str() {
                "text" => f.text = v,
                "channel" => f.channels.extend(v.parse::<i64>().ok()),
                "paid" => f.paid = true,
                "content_type" => f.content_type = v,
                "scheduled" => f.scheduled = v,
                "media" => f.media.extend(v.parse::<i64>().ok()),
                "intent" => f.intent = v,
                "override_reason" => f.override_reason = v,
                "version" => f.version = v.parse().ok(),
                "start" => f.start = v.parse().ok(),
                "end" => f.end = v.parse().ok(),
                _ => {
                    if let Some(id) = k.strip_prefix("alt_").and_then(|id| id.parse::<i64>().ok()) {
                        f.alts.insert(id, v);
                    }
                }
            }
        }
        // A browser sends CRLF line breaks; the networks and the byte spans expect LF.
        f.text = f.text.replace("\r\n", "\n");
        Ok(f)
    }

    fn draft(&self, tz: &TimeZone) -> Result<Draft, String> {
        let scheduled_at = if self.scheduled.trim().is_empty() {
            None
        } else {
            Some(parse_local(&self.scheduled, tz)?)
        };
        Ok(Draft {
            body: self.text.trim().to_owned(),
            channel_ids: self.channels.clone(),
            paid: self.paid,
            scheduled_at,
            content_type: self.content_type.clone(),
            media_ids: self.media.clone(),
        })
    }
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage {
    layout: Layout,
    /// Set while the organization's publishing is paused: who paused it and why.
    paused: Option<String>,
    post_id: Option<i64>,
    version: i64,
    action: String,
    channels: Vec<ChannelChoice>,
    text: String,
    paid: bool,
    content_types: Vec<(&'static str, &'static str, bool)>,
    scheduled: String,
    tz_name: String,
    media: Vec<MediaView>,
    can_override: bool,
    override_reason: String,
    preview: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "compose_text.html")]
struct ComposeText {
    text: String,
}

#[derive(Template)]
#[template(path = "compose_media.html")]
struct MediaItem {
    m: MediaView,
}

/// The screening result and per-network previews of the form's text; `None` before any text.
async fn preview_html(
    state: &AppState,
    viewer: &Viewer,
    form: &ComposeForm,
    all: &[Channel],
) -> AppResult<Option<String>> {
    if form.text.trim().is_empty() {
        return Ok(None);
    }
    let networks = networks_of(all, &form.channels);
    let stored = media_of(state, viewer.org.id, &form.media).await?;
    let report = screen_post(state, &form.text, form.paid, &stored)?;
    let mut preview = build_preview(&form.text, &report, &networks);
    preview.image_problems = image_problems(&networks, &stored);
    Ok(Some(preview.render().map_err(AppError::internal)?))
}

/// Everything the compose page needs besides the form values.
async fn compose_page(
    state: &AppState,
    viewer: &Viewer,
    post_id: Option<i64>,
    version: i64,
    form: &ComposeForm,
    error: Option<String>,
) -> AppResult<ComposePage> {
    let (tz_name, _) = org_time_zone(state, viewer.org.id).await?;
    let all = state.store.channels(viewer.org.id).await?;
    let mut media = Vec::new();
    for m in media_of(state, viewer.org.id, &form.media).await? {
        let mut view = MediaView::new(&m, &[]);
        if let Some(alt) = form.alts.get(&m.id) {
            view.alt.clone_from(alt);
        }
        media.push(view);
    }
    let preview = preview_html(state, viewer, form, &all).await?;
    let action = post_id.map_or_else(|| "/compose".to_owned(), |id| format!("/posts/{id}/edit"));
    let title = if post_id.is_some() {
        "Edit post"
    } else {
        "Compose"
    };
    Ok(ComposePage {
        layout: Layout::new(viewer, title, "/compose"),
        post_id,
        version,
        action,
        channels: all.iter().map(|c| ChannelChoice { id: c.id, label: format!("{} ({})", c.display_name, c.network), checked: form.channels.contains(&c.id) }).collect(),
        text: form.text.clone(),
        paid: form.paid,
        content_types: CONTENT_TYPES.iter().map(|(v, l)| (*v, *l, *v == form.content_type)).collect(),
        scheduled: form.scheduled.clone(),
        tz_name,
        paused: state.store.publishing_pause(viewer.org.id).await?.map(|p| format!("Publishing is paused by {}: \u{201c}{}\u{201d}. You can write and submit posts; nothing is published until someone resumes publishing on the Calendar page.", p.by, p.reason)),
        media,
        can_override: viewer.can(Permission::Publish),
        override_reason: form.override_reason.clone(),
        preview,
        error,
    })
}

/// The compose page for a new post.
pub(crate) async fn compose(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let form = ComposeForm {
        content_type: "general".into(),
        ..ComposeForm::default()
    };
    Ok(render(
        &compose_page(&state, &viewer, None, 0, &form, None).await?,
    ))
}

/// The compose page filled with a post's current version.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let post = state.store.post(viewer.org.id, id).await?;
    let (_, tz) = org_time_zone(&state, viewer.org.id).await?;
    let media = media_of(&state, viewer.org.id, &post.media_ids).await?;
    let form = ComposeForm {
        text: post.body.clone(),
        channels: post.channel_ids.clone(),
        paid: post.paid,
        content_type: post.content_type.clone(),
        scheduled: post
            .scheduled_at
            .map(|t| format_local(t, &tz))
            .unwrap_or_default(),
        media: post.media_ids.clone(),
        alts: media.iter().map(|m| (m.id, m.alt_text.clone())).collect(),
        ..ComposeForm::default()
    };
    Ok(render(
        &compose_page(&state, &viewer, Some(post.id), post.version, &form, None).await?,
    ))
}

/// Saves a new post (draft, or submitted for approval).
pub(crate) async fn compose_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    save(&state, &viewer, None, &body).await
}

/// Saves an edit of a post (a new version), and submits it when asked.
pub(crate) async fn edit_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    save(&state, &viewer, Some(id), &body).await
}

async fn save(
    state: &AppState,
    viewer: &Viewer,
    post_id: Option<i64>,
    body: &[u8],
) -> AppResult<Response> {
    let form = ComposeForm::parse(body)?;
    let version = form.version.unwrap_or(0);
    let form = &form;
    let refuse = |status: StatusCode, post_id: Option<i64>, version: i64, message: String| async move {
        let page = compose_page(state, viewer, post_id, version, form, Some(message)).await?;
        Ok::<Response, AppError>(render_status(status, &page))
    };
    let (_, tz) = org_time_zone(state, viewer.org.id).await?;
    let draft = match form.draft(&tz) {
        Ok(d) => d,
        Err(m) => return refuse(StatusCode::BAD_REQUEST, post_id, version, m).await,
    };
    if let Err(e) = validate_draft(state, viewer.org.id, &draft).await {
        return refuse(e.code.status(), post_id, version, e.message).await;
    }
    for id in &draft.media_ids {
        if let Some(alt) = form.alts.get(id)
            && let Err(e) = state
                .store
                .set_media_alt(viewer.org.id, *id, alt.trim(), &viewer.actor())
                .await
        {
            let e = store_error(e);
            return refuse(e.code.status(), post_id, version, e.message).await;
        }
    }
    let saved = match post_id {
        None => state
            .store
            .create_post(
                viewer.org.id,
                &draft.new_post(viewer.user.id),
                &viewer.actor(),
            )
            .await
            .map_err(store_error),
        Some(id) => state
            .store
            .update_post(viewer.org.id, id, version, &draft.edit(), &viewer.actor())
            .await
            .map_err(store_error),
    };
    let post = match saved {
        Ok(p) => p,
        Err(e) => return refuse(e.code.status(), post_id, version, e.message).await,
    };
    if form.intent == "submit" {
        let reason = Some(form.override_reason.as_str());
        if let Err(e) = submit_checked(state, viewer, &post, reason).await {
            // The text is saved as a draft; the form keeps it and now edits that post.
            let message = format!("Saved as a draft, not submitted: {}", e.message);
            return refuse(e.code.status(), Some(post.id), post.version, message).await;
        }
        return Ok(Redirect::to(&format!("/posts/{}?notice=submitted", post.id)).into_response());
    }
    Ok(Redirect::to(&format!("/posts/{}?notice=draft_saved", post.id)).into_response())
}

/// The live preview: screening with findings marked in place, one preview and counter per chosen network.
pub(crate) async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let form = ComposeForm::parse(&body)?;
    if form.text.len() > MAX_TEXT {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            format!("The text is longer than {MAX_TEXT} bytes."),
        ));
    }
    let channels = state.store.channels(viewer.org.id).await?;
    match preview_html(&state, &viewer, &form, &channels).await? {
        Some(html) => Ok(axum::response::Html(html).into_response()),
        None => Ok(axum::response::Html(
            "<p class=\"muted\">Start typing to see findings and previews.</p>",
        )
        .into_response()),
    }
}

/// Replaces one PHI finding (by its byte span) with its redaction and returns the text field,
/// which screens itself again when it loads.
pub(crate) async fn redact(
    State(state): State<AppState>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let form = ComposeForm::parse(&body)?;
    let (Some(start), Some(end)) = (form.start, form.end) else {
        return Err(AppError::with(
            ErrorCode::BadRequest,
            "Say which finding to redact.",
        ));
    };
    let media = media_of(&state, viewer.org.id, &form.media).await?;
    let report = screen_post(&state, &form.text, form.paid, &media)?;
    let finding = report.findings.iter().find(|f| {
        f.field.is_text() && f.span.start == start && f.span.end == end && f.phi_category.is_some()
    });
    let text = match finding.and_then(|f| f.phi_category.map(|c| (f, c))) {
        Some((f, c)) => match (form.text.get(..f.span.start), form.text.get(f.span.end..)) {
            (Some(before), Some(after)) => format!("{before}[{}]{after}", c.label()),
            _ => form.text.clone(),
        },
        // The text changed since the finding was shown: leave it as the author has it.
        None => form.text.clone(),
    };
    Ok(render(&ComposeText { text }))
}

/// Receives one image (multipart `file`, optional `alt`), strips its metadata and stores it.
/// An htmx request gets the form's list entry (or the refusal in words); others get 400 on refusal.
pub(crate) async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let htmx = headers.contains_key("hx-request");
    let mut multipart = multipart.map_err(|e| {
        AppError::with(
            ErrorCode::BadRequest,
            format!("Send the image as multipart/form-data ({}).", e.body_text()),
        )
    })?;
    let (mut file, mut alt) = (None, String::new());
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| AppError::with(ErrorCode::BadRequest, e.body_text()))?
    {
        match field.name() {
            Some("file") => {
                file = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| AppError::with(ErrorCode::BadRequest, e.body_text()))?,
                )
            }
            Some("alt") => {
                alt = field
                    .text()
                    .await
                    .map_err(|e| AppError::with(ErrorCode::BadRequest, e.body_text()))?
            }
            _ => {}
        }
    }
    let refused = |message: String| -> AppResult<Response> {
        if htmx {
            Ok(render(&UploadRefused { message }))
        } else {
            Err(AppError::with(ErrorCode::InvalidInput, message))
        }
    };
    let Some(file) = file else {
        return refused("Choose an image file to attach.".into());
    };
    let clean = match sanitize_image(&file) {
        Ok(c) => c,
        Err(e) => return refused(format!("The image was not attached: {}.", e)),
    };
    let removed = clean.removed.clone();
    let media = match state
        .store
        .add_media(
            viewer.org.id,
            &NewMedia::from_clean(clean, alt.trim().to_owned()),
            &viewer.actor(),
        )
        .await
    {
        Ok(m) => m,
        Err(StoreError::Invalid(m)) => return refused(format!("The image was not attached: {m}.")),
        Err(e) => return Err(e.into()),
    };
    Ok(render(&MediaItem {
        m: MediaView::new(&media, &removed),
    }))
}

#[derive(Template)]
#[template(
    source = "<li class=\"alert\" role=\"alert\">{{ message }}</li>",
    ext = "html"
)]
struct UploadRefused {
    message: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    #[test]
    fn the_cut_lies_where_the_network_stops_counting() {
        let text = format!("{}tail", "a".repeat(300));
        assert_eq!(over_limit_at(Network::Bluesky, &text), Some(300));
        assert_eq!(over_limit_at(Network::Bluesky, &"é".repeat(300)), None);
        assert_eq!(
            over_limit_at(Network::Bluesky, &"é".repeat(301)),
            Some(600),
            "a byte index on a character boundary"
        );
    }

    #[test]
    fn local_times_follow_the_organization_zone() {
        let chicago = time_zone("America/Chicago").unwrap();
        let ms = parse_local("2026-07-01T09:30", &chicago).unwrap();
        assert_eq!(ms, parse_rfc3339("2026-07-01T14:30:00Z").unwrap());
        assert_eq!(format_local(ms, &chicago), "2026-07-01T09:30");
        assert!(time_zone("Mars/Olympus_Mons").is_err());
        assert!(parse_local("next tuesday", &chicago).is_err());
    }
}
