//! The content calendar: month and week views in the organization's time zone, per channel, with a
//! re-scheduling form on each scheduled item (a plain form: no script needed).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use rounds_domain::Permission;
use rounds_store::{Channel, Page, Post, PostStatus};
use serde::Deserialize;

use crate::error::{AppError, AppResult, ErrorCode};
use crate::session::Viewer;
use crate::views::{Layout, render};
use crate::{AppState, now_ms};

/// The organization's time zone, for showing and reading times.
pub(crate) struct Clock {
    tz: TimeZone,
    /// The IANA name shown next to the times.
    pub(crate) name: String,
}

impl Clock {
    /// The `time_zone` setting of the organization (IANA name); UTC when unset or unknown.
    pub(crate) async fn of(state: &AppState, org_id: i64) -> AppResult<Clock> {
        let settings = state.store.settings(org_id).await?;
        let named = settings
            .get("time_zone")
            .and_then(|name| TimeZone::get(name).ok().map(|tz| (tz, name.clone())));
        let (tz, name) = named.unwrap_or_else(|| (TimeZone::UTC, "UTC".to_owned()));
        Ok(Clock { tz, name })
    }

    /// `2026-11-26 14:05 CET`; a time out of range is shown as its raw milliseconds.
    pub(crate) fn format(&self, ms: i64) -> String {
        Timestamp::from_millisecond(ms).map_or_else(
            |_| ms.to_string(),
            |t| {
                t.to_zoned_datetime(self.tz.clone())
                    .strftime("%Y-%m-%d %H:%M %Z")
                    .to_string()
            },
        )
    }

    fn civil(&self, ms: i64) -> Option<DateTime> {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned_datetime(self.tz.clone()).datetime())
    }

    /// The local day of an instant.
    fn day(&self, ms: i64) -> Option<Date> {
        self.civil(ms).map(|d| d.date())
    }

    /// The instant a local day starts.
    pub(crate) fn start_of(&self, date: Date) -> AppResult<i64> {
        date.to_zoned_datetime(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| AppError::with(ErrorCode::InvalidInput, e.to_string()))
    }

    /// A local date and time as typed in a `datetime-local` field (`2026-11-26T14:05`).
    fn read_local(&self, raw: &str) -> AppResult<i64> {
        let dt: DateTime = raw.trim().parse().map_err(|_| {
            AppError::with(
                ErrorCode::InvalidInput,
                "Give the new time as a date and a time, e.g. 2026-11-26T14:05.",
            )
        })?;
        dt.to_zoned_datetime(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| AppError::with(ErrorCode::InvalidInput, e.to_string()))
    }

    /// The value a `datetime-local` field shows for an instant.
    fn local_input(&self, ms: i64) -> String {
        self.civil(ms)
            .map(|d| d.strftime("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    }
}

/// A date as `?date=` carries it; `None` when absent or malformed.
pub(crate) fn parse_date(raw: Option<&str>) -> Option<Date> {
    raw.map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
}

/// Channel id → "Name (network)".
pub(crate) fn channel_names(channels: &[Channel]) -> HashMap<i64, String> {
    channels
        .iter()
        .map(|c| (c.id, format!("{} ({})", c.display_name, c.network)))
        .collect()
}

/// The channels of a post, by name.
pub(crate) fn channel_list(ids: &[i64], names: &HashMap<i64, String>) -> String {
    ids.iter()
        .map(|id| {
            names
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("channel {id}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a post still in review is due to go out within a day (or already late).
pub(crate) fn approval_due(post: &Post, now: i64) -> bool {
    post.status == PostStatus::InReview
        && post.scheduled_at.is_some_and(|t| {
            t.saturating_sub(now) <= rounds_domain::publishing::APPROVAL_WARNING_MS
        })
}

/// Whether a network-supplied address is a web link (anything else is not made a link).
pub(crate) fn is_web_link(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Calendar parameters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CalendarQuery {
    /// `month` (default) or `week`.
    view: Option<String>,
    /// Any day of the month or week shown, `YYYY-MM-DD`; default today.
    date: Option<String>,
    /// Only this channel.
    channel: Option<String>,
    notice: Option<String>,
}

/// One post on the calendar.
struct EntryView {
    id: i64,
    link: String,
    time: String,
    channels: String,
    excerpt: String,
    status: &'static str,
    /// CSS class: the status, so a post that needs a new time stands out.
    class: &'static str,
    note: String,
    due: bool,
    urls: Vec<String>,
    /// Pre-filled value of the re-scheduling form; `None` when the post cannot be moved.
    reschedule: Option<String>,
}

/// One day cell.
struct DayView {
    iso: String,
    label: String,
    in_range: bool,
    today: bool,
    entries: Vec<EntryView>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    layout: Layout,
    view: &'static str,
    heading: String,
    tz: String,
    date: String,
    prev: String,
    next: String,
    other_view: String,
    channel: Option<i64>,
    /// Id, name, whether the filter shows it.
    channels: Vec<(i64, String, bool)>,
    weeks: Vec<Vec<DayView>>,
    weekdays: [&'static str; 7],
    total: usize,
    /// Some post on the page can be moved (the drag hint is shown).
    movable: bool,
    /// Who paused publishing, when and why; empty while publishing runs.
    paused: String,
    /// The viewer may pause and resume publishing.
    can_pause: bool,
}

fn status_class(status: PostStatus) -> &'static str {
    match status {
        PostStatus::NeedsReschedule => "needs-reschedule",
        PostStatus::Failed => "failed",
        PostStatus::Published => "published",
        PostStatus::InReview => "in-review",
        _ => "scheduled",
    }
}

fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(Span::new().days(days)).unwrap_or(date)
}

fn add_months(date: Date, months: i64) -> Date {
    date.checked_add(Span::new().months(months)).unwrap_or(date)
}

/// Month or week view of scheduled, in-review and published posts.
pub(crate) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<CalendarQuery>,
) -> AppResult<Response> {
    let org = viewer.org.id;
    let clock = Clock::of(&state, org).await?;
    let now = now_ms();
    let today = clock.day(now).unwrap_or_default();
    let date = parse_date(q.date.as_deref()).unwrap_or(today);
    let week = q.view.as_deref() == Some("week");
    let monday = |d: Date| add_days(d, -i64::from(d.weekday().to_monday_zero_offset()));
    let (first, last, grid_start, grid_end) = if week {
        let start = monday(date);
        (start, add_days(start, 6), start, add_days(start, 7))
    } else {
        let (first, last) = (date.first_of_month(), date.last_of_month());
        (first, last, monday(first), add_days(monday(last), 7))
    };
    let from_ms = clock.start_of(grid_start)?;
    let to_ms = clock.start_of(grid_end)?;
    let channels = state.store.channels(org).await?;
    let names = channel_names(&channels);
    let channel = q.channel.as_deref().and_then(|c| c.parse::<i64>().ok());
    let can_move = viewer.can(Permission::Publish);

    // Each post with the instant it sits at: its first publication, else its slot.
    let mut placed: Vec<(i64, Post, Vec<String>)> = Vec::new();
    for entry in state.store.posts_between(org, from_ms, to_ms).await? {
        let at = entry
            .publications
            .iter()
            .map(|p| p.published_at)
            .min()
            .or(entry.post.scheduled_at)
            .unwrap_or(entry.post.created_at);
        let urls = entry
            .publications
            .iter()
            .filter(|p| p.deleted_at.is_none())
            .filter_map(|p| p.url.clone())
            .filter(|u| is_web_link(u))
            .collect();
        placed.push((at, entry.post, urls));
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
            if let Some(at) = post.scheduled_at.filter(|t| (from_ms..to_ms).contains(t)) {
                placed.push((at, post, Vec::new()));
            }
        }
    }
    placed.retain(|(_, p, _)| channel.is_none_or(|c| p.channel_ids.contains(&c)));
    placed.sort_by_key(|(at, p, _)| (*at, p.id));

    let mut by_day: HashMap<Date, Vec<EntryView>> = HashMap::new();
    let total = placed.len();
    for (at, post, urls) in placed {
        let Some(day) = clock.day(at) else { continue };
        let movable = matches!(
            post.status,
            PostStatus::Approved
                | PostStatus::Scheduled
                | PostStatus::NeedsReschedule
                | PostStatus::Failed
        );
        let view = EntryView {
            id: post.id,
            link: if post.status == PostStatus::InReview {
                format!("/approvals/{}", post.id)
            } else {
                format!("/posts/{}", post.id)
            },
            time: clock
                .civil(at)
                .map(|d| d.strftime("%H:%M").to_string())
                .unwrap_or_default(),
            channels: channel_list(&post.channel_ids, &names),
            excerpt: post.body.chars().take(80).collect(),
            status: post.status.label(),
            class: status_class(post.status),
            note: post.status_note.clone().unwrap_or_default(),
            due: approval_due(&post, now),
            urls,
            reschedule: (movable && can_move)
                .then(|| clock.local_input(post.scheduled_at.unwrap_or(at).max(now))),
        };
        by_day.entry(day).or_default().push(view);
    }
    let mut weeks = Vec::new();
    let mut day = grid_start;
    while day < grid_end {
        let mut row = Vec::with_capacity(7);
        for _ in 0..7 {
            row.push(DayView {
                iso: day.to_string(),
                label: if week {
                    day.strftime("%a %e %b").to_string()
                } else {
                    day.day().to_string()
                },
                in_range: day >= first && day <= last,
                today: day == today,
                entries: by_day.remove(&day).unwrap_or_default(),
            });
            day = add_days(day, 1);
        }
        weeks.push(row);
    }
    let view = if week { "week" } else { "month" };
    let (prev, next) = if week {
        (add_days(date, -7), add_days(date, 7))
    } else {
        (add_months(first, -1), add_months(first, 1))
    };
    let heading = if week {
        format!("Week of {}", first.strftime("%e %B %Y").to_string().trim())
    } else {
        first.strftime("%B %Y").to_string()
    };
    let page = CalendarPage {
        layout: Layout::new(&viewer, "Calendar", "/calendar").with_notice(q.notice.as_deref()),
        view,
        heading,
        tz: clock.name.clone(),
        date: date.to_string(),
        prev: prev.to_string(),
        next: next.to_string(),
        other_view: if week { "month".into() } else { "week".into() },
        channel,
        channels: channels.iter().map(|c| (c.id, format!("{} ({})", c.display_name, c.network), channel == Some(c.id))).collect(),
        movable: weeks.iter().flatten().flat_map(|d| &d.entries).any(|e| e.reschedule.is_some()),
        paused: state
            .store
            .publishing_pause(viewer.org.id)
            .await?
            .map(|p| format!("Publishing is paused since {} by {}: \u{201c}{}\u{201d}. Nothing is published until someone resumes it.", clock.format(p.at_ms), p.by, p.reason))
            .unwrap_or_default(),
        can_pause: viewer.can(Permission::Publish),
        weeks,
        weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        total,
    };
    Ok(render(&page))
}

/// Re-scheduling form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct RescheduleForm {
    #[serde(default)]
    at: String,
    #[serde(default)]
    view: String,
}

/// Gives an approved or scheduled post a new time (organization time zone); the calendar then shows
/// the week or month of the new time.
pub(crate) async fn reschedule(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(post_id): Path<i64>,
    axum::Form(form): axum::Form<RescheduleForm>,
) -> AppResult<Response> {
    let clock = Clock::of(&state, viewer.org.id).await?;
    let at = clock.read_local(&form.at)?;
    if at < now_ms() {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            "Pick a time in the future.",
        ));
    }
    state
        .store
        .reschedule(viewer.org.id, post_id, at, &viewer.actor())
        .await
        .map_err(super::approvals::decision_error)?;
    let view = if form.view == "week" { "week" } else { "month" };
    let date = clock.day(at).map(|d| d.to_string()).unwrap_or_default();
    Ok(Redirect::to(&format!(
        "/calendar?view={view}&date={date}&notice=rescheduled#post-{post_id}"
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::{Clock, parse_date};
    use jiff::tz::TimeZone;

    #[test]
    fn local_times_round_trip_in_the_organization_zone() {
        let clock = Clock {
            tz: TimeZone::get("Europe/Berlin").unwrap(),
            name: "Europe/Berlin".into(),
        };
        let at = clock.read_local("2026-07-01T14:05").unwrap();
        assert_eq!(at, 1_782_907_500_000, "14:05 CEST is 12:05 UTC");
        assert_eq!(clock.local_input(at), "2026-07-01T14:05");
        assert_eq!(clock.format(at), "2026-07-01 14:05 CEST");
        assert_eq!(
            clock
                .start_of(parse_date(Some("2026-07-01")).unwrap())
                .unwrap(),
            1_782_856_800_000
        );
        assert!(clock.read_local("tomorrow").is_err());
        assert!(parse_date(Some("2026-13-01")).is_none());
    }
}

/// The pause form's field.
#[derive(Debug, Deserialize)]
pub(crate) struct PauseForm {
    #[serde(default)]
    reason: String,
}

/// Stops all publishing of the organization (a crisis, a security incident), with a written reason.
pub(crate) async fn pause(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::Form(form): axum::Form<PauseForm>,
) -> AppResult<Response> {
    if form.reason.trim().is_empty() {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            "Say why publishing is paused; the reason is shown to everyone and audited.",
        ));
    }
    if form.reason.len() > 500 {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            "Keep the reason under 500 bytes.",
        ));
    }
    state
        .store
        .pause_publishing(
            viewer.org.id,
            &viewer.user.display_name,
            &form.reason,
            &viewer.actor(),
        )
        .await?;
    Ok(Redirect::to("/calendar?notice=publishing_paused").into_response())
}

/// Starts publishing again; posts whose time passed during the pause go back to their authors.
pub(crate) async fn resume(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    state
        .store
        .resume_publishing(viewer.org.id, &viewer.actor())
        .await?;
    Ok(Redirect::to("/calendar?notice=publishing_resumed").into_response())
}
