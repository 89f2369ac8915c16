//! The archive: every published item and deletion with its network link, its approval record (who
//! approved which version when) and its screening summary; filters and a JSON Lines export.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rounds_store::{ArchiveItem, Page};
use serde::Deserialize;
use serde_json::Value;

use super::calendar::{Clock, channel_names, parse_date};
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::session::Viewer;
use crate::views::{Layout, render};

/// Archive filters; dates are days in the organization's time zone, both inclusive.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ArchiveQuery {
    channel: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The filters as checked values.
struct Filter {
    channel: Option<i64>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
}

impl Filter {
    fn read(q: &ArchiveQuery, clock: &Clock) -> AppResult<Filter> {
        let from_ms = parse_date(q.from.as_deref())
            .map(|d| clock.start_of(d))
            .transpose()?;
        let to_ms = parse_date(q.to.as_deref())
            .and_then(|d| d.tomorrow().ok())
            .map(|d| clock.start_of(d))
            .transpose()?;
        Ok(Filter {
            channel: q.channel.as_deref().and_then(|c| c.parse().ok()),
            from_ms,
            to_ms,
        })
    }

    fn keeps(&self, item: &ArchiveItem) -> bool {
        self.channel.is_none_or(|c| item.channel_id == Some(c))
            && self.from_ms.is_none_or(|f| item.at_ms >= f)
            && self.to_ms.is_none_or(|t| item.at_ms < t)
    }
}

/// The items that pass the filter, newest first, reading the whole archive page by page.
async fn filtered(
    state: &AppState,
    org_id: i64,
    filter: &Filter,
    most: usize,
) -> AppResult<Vec<ArchiveItem>> {
    let mut kept = Vec::new();
    let mut before_id = None;
    loop {
        let batch = state
            .store
            .archive_items(
                org_id,
                &Page {
                    before_id,
                    limit: 500,
                },
            )
            .await?;
        let Some(last) = batch.last() else { break };
        before_id = Some(last.id);
        let full = batch.len() == 500;
        kept.extend(batch.into_iter().filter(|i| filter.keeps(i)));
        if kept.len() >= most || !full {
            break;
        }
    }
    kept.truncate(most);
    Ok(kept)
}

/// One approval in an item's record.
struct ApprovalLine {
    text: String,
}

/// An archived item as the page shows it.
struct ItemView {
    id: i64,
    kind: String,
    post_id: Option<i64>,
    channel: String,
    when: String,
    url: Option<String>,
    body: String,
    version: String,
    approvals: Vec<ApprovalLine>,
    screening: String,
    override_reason: String,
}

fn screening_summary(report: &Value) -> String {
    let decision = report.get("decision").and_then(Value::as_str);
    let summary = report.get("summary").and_then(Value::as_str);
    let findings = report
        .get("findings")
        .and_then(Value::as_array)
        .map(Vec::len);
    match (decision, summary, findings) {
        (_, Some(s), _) if !s.is_empty() => s.to_owned(),
        (Some(d), _, Some(n)) => format!("{d}, {n} finding{}", if n == 1 { "" } else { "s" }),
        (Some(d), _, None) => d.to_owned(),
        _ if report.is_null() => "No screening report recorded.".to_owned(),
        _ => "Screened (see the JSON export for the report).".to_owned(),
    }
}

fn item_view(
    item: ArchiveItem,
    clock: &Clock,
    names: &std::collections::HashMap<i64, String>,
) -> ItemView {
    let record = &item.record;
    let approvals = record
        .get("approvals")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|a| {
                    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                    let n = |k: &str| a.get(k).and_then(Value::as_i64);
                    let decision = rounds_domain::publishing::DecisionKind::parse(&s("decision"))
                        .map_or("Decided", |d| d.label());
                    let step = n("step").map_or(String::new(), |st| format!(", step {}", st + 1));
                    let when = n("at_ms").map(|t| clock.format(t)).unwrap_or_default();
                    let comment = Some(s("comment"))
                        .filter(|c| !c.is_empty())
                        .map(|c| format!(": “{c}”"))
                        .unwrap_or_default();
                    ApprovalLine {
                        text: format!(
                            "{decision} by {} ({}) — version {}{step}, {when}{comment}",
                            s("user_name"),
                            s("user_email"),
                            n("version").unwrap_or(0)
                        ),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    ItemView {
        id: item.id,
        kind: item.kind.clone(),
        post_id: item.post_id,
        channel: item
            .channel_id
            .map(|c| {
                names
                    .get(&c)
                    .cloned()
                    .unwrap_or_else(|| format!("channel {c}"))
            })
            .unwrap_or_default(),
        when: clock.format(item.at_ms),
        url: item.url.clone().filter(|u| super::calendar::is_web_link(u)),
        body: item.body.clone(),
        version: record
            .get("version")
            .and_then(Value::as_i64)
            .map(|v| v.to_string())
            .unwrap_or_default(),
        approvals,
        screening: screening_summary(record.get("report").unwrap_or(&Value::Null)),
        override_reason: record
            .get("override_reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    }
}

#[derive(Template)]
#[template(path = "archive.html")]
struct ArchivePage {
    layout: Layout,
    items: Vec<ItemView>,
    /// Id, name, whether the filter shows it.
    channels: Vec<(i64, String, bool)>,
    from: String,
    to: String,
    export: String,
    tz: String,
}

/// Most items the page lists; the export has them all.
const PAGE_ITEMS: usize = 200;

/// The archive page.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ArchiveQuery>,
) -> AppResult<Response> {
    let org = viewer.org.id;
    let clock = Clock::of(&state, org).await?;
    let filter = Filter::read(&q, &clock)?;
    let channels = state.store.channels(org).await?;
    let names = channel_names(&channels);
    let items = filtered(&state, org, &filter, PAGE_ITEMS)
        .await?
        .into_iter()
        .map(|i| item_view(i, &clock, &names))
        .collect();
    let export = serde_urlencoded::to_string([
        (
            "channel",
            filter.channel.map(|c| c.to_string()).unwrap_or_default(),
        ),
        ("from", q.from.clone().unwrap_or_default()),
        ("to", q.to.clone().unwrap_or_default()),
    ])
    .map_err(AppError::internal)?;
    let page = ArchivePage {
        layout: Layout::new(&viewer, "Archive", "/archive"),
        items,
        channels: channels
            .iter()
            .map(|c| {
                (
                    c.id,
                    format!("{} ({})", c.display_name, c.network),
                    filter.channel == Some(c.id),
                )
            })
            .collect(),
        from: parse_date(q.from.as_deref())
            .map(|d| d.to_string())
            .unwrap_or_default(),
        to: parse_date(q.to.as_deref())
            .map(|d| d.to_string())
            .unwrap_or_default(),
        export: format!("/archive/export.jsonl?{export}"),
        tz: clock.name,
    };
    Ok(render(&page))
}

/// The filtered archive as JSON Lines, one item per line with its full record.
pub(crate) async fn export_jsonl(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ArchiveQuery>,
) -> AppResult<Response> {
    let clock = Clock::of(&state, viewer.org.id).await?;
    let filter = Filter::read(&q, &clock)?;
    let items = filtered(&state, viewer.org.id, &filter, usize::MAX).await?;
    let mut out = String::new();
    for item in &items {
        out.push_str(&serde_json::to_string(item).map_err(AppError::internal)?);
        out.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/jsonl; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"rounds-archive.jsonl\"",
            ),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::screening_summary;
    use serde_json::json;

    #[test]
    fn screening_summary_reads_what_was_recorded() {
        assert_eq!(
            screening_summary(&json!({"decision": "allow", "findings": []})),
            "allow, 0 findings"
        );
        assert_eq!(
            screening_summary(&json!({"decision": "block", "summary": "2 findings: phi"})),
            "2 findings: phi"
        );
        assert_eq!(
            screening_summary(&serde_json::Value::Null),
            "No screening report recorded."
        );
    }
}
