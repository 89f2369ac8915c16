//! `rounds audit verify|export`: check the hash chain and export the log oldest first.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use rounds_domain::{AuditAction, CSV_HEADER, GENESIS_HASH};
use rounds_store::{Actor, AuditFilter, Store};

use crate::db::{self, DbArgs, IfMissing};
use crate::exit;

/// Events asked for per query: the store's page size cap.
const PAGE: u32 = 1000;

/// `rounds audit` and its subcommands.
#[derive(Args, Debug)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Recompute the hash chain; exit 1 naming the first broken event.
    Verify,
    /// Write the log oldest first as JSON Lines or CSV.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Only events at or after this time: RFC 3339 (`2026-11-25T09:00:00Z`) or a UTC date (`2026-11-25`).
        #[arg(long, value_parser = parse_since)]
        since: Option<i64>,
        /// Only actions starting with this, e.g. `user.` or `auth.login`.
        #[arg(long)]
        action: Option<String>,
        /// Write to this file (must not exist yet) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// One JSON object per line, exactly the stored record, so the export can be re-verified.
    Jsonl,
    /// A header, then one row per event (RFC 4180 quoting; formulas defused for spreadsheets).
    Csv,
}

impl ExportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Run `rounds audit …`; returns the exit code.
pub(crate) fn run(args: AuditArgs) -> anyhow::Result<u8> {
    let AuditArgs { db, command } = args;
    db::block_on(db::with_store(
        &db,
        IfMissing::Refuse,
        async |store| match command {
            AuditCommand::Verify => verify(store).await,
            AuditCommand::Export {
                format,
                since,
                action,
                out,
            } => export(store, format, since, action, out.as_deref())
                .await
                .map(|()| exit::CLEAN),
        },
    ))
}

async fn verify(store: &Store) -> anyhow::Result<u8> {
    match store.audit_verify().await? {
        Ok(count) => {
            let head = match i64::try_from(count)? {
                0 => GENESIS_HASH,
                n => store
                    .audit_page(&AuditFilter {
                        before_seq: Some(n + 1),
                        limit: 1,
                        ..AuditFilter::default()
                    })
                    .await?
                    .first()
                    .map(|r| r.hash)
                    .with_context(|| format!("event {n} vanished while verifying"))?,
            };
            println!(
                "audit chain intact: {count} events, head {}",
                hex::encode(head)
            );
            Ok(exit::CLEAN)
        }
        Err(broken) => {
            println!("audit chain BROKEN at event {}: {broken}", broken.seq());
            Ok(exit::FINDINGS)
        }
    }
}

async fn export(
    store: &Store,
    format: ExportFormat,
    since_ms: Option<i64>,
    action_prefix: Option<String>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let sink: Box<dyn Write> = match out {
        Some(path) => {
            if path.exists() {
                bail!(
                    "{} already exists; choose another --out or remove it first",
                    path.display()
                );
            }
            let file = File::create_new(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            Box::new(file)
        }
        None => Box::new(io::stdout().lock()),
    };
    let mut w = BufWriter::new(sink);
    let filter = AuditFilter {
        action_prefix: action_prefix.clone(),
        since_ms,
        ..AuditFilter::default()
    };
    let written = write_export(store, &filter, format, &mut w).await;
    let written = written.and_then(|n| w.flush().map(|()| n).map_err(anyhow::Error::from));
    let count = match written {
        Ok(n) => n,
        Err(e) => {
            if let Some(path) = out {
                // A half-written export would pass for a complete one later.
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    let detail = serde_json::json!({
        "format": format.as_str(),
        "events": count,
        "since_ms": since_ms,
        "action_prefix": action_prefix,
    });
    store
        .audit(
            &Actor::cli(),
            AuditAction::AuditExported,
            "audit_log",
            detail,
        )
        .await?;
    if let Some(path) = out {
        eprintln!("exported {count} events to {}", path.display());
    }
    Ok(())
}

/// Writes every event matching `filter`, oldest first, and returns how many.
///
/// The store pages newest first below a `seq` cursor. A first walk down from the head (as it was
/// when the export began) keeps only the cursor of each page; the pages are then fetched again
/// from the oldest cursor up and written reversed. Events never change, so the second walk sees
/// exactly the first one's pages, each query stops after one page of matches, and memory holds one
/// page plus one number per page however long the log.
async fn write_export(
    store: &Store,
    filter: &AuditFilter,
    format: ExportFormat,
    w: &mut impl Write,
) -> anyhow::Result<u64> {
    let newest = AuditFilter {
        limit: 1,
        ..AuditFilter::default()
    };
    let head = store
        .audit_page(&newest)
        .await?
        .first()
        .map_or(0, |r| r.seq);
    let page = |before: i64| AuditFilter {
        before_seq: Some(before),
        limit: PAGE,
        ..filter.clone()
    };
    let mut cursors = Vec::new();
    let mut cursor = head.saturating_add(1);
    // Stop only on an empty page, not a short one, so a store that caps pages lower loses nothing.
    while let Some(oldest) = store.audit_page(&page(cursor)).await?.last() {
        cursors.push(cursor);
        cursor = oldest.seq;
    }
    if format == ExportFormat::Csv {
        writeln!(w, "{CSV_HEADER}")?;
    }
    let mut count = 0;
    for &cursor in cursors.iter().rev() {
        for r in store.audit_page(&page(cursor)).await?.iter().rev() {
            match format {
                ExportFormat::Jsonl => writeln!(w, "{}", serde_json::to_string(r)?)?,
                ExportFormat::Csv => writeln!(w, "{}", r.csv_row())?,
            }
            count += 1;
        }
    }
    Ok(count)
}

/// Unix milliseconds as RFC 3339 in UTC, e.g. `2026-11-25T17:52:51Z` (`.123` when not whole seconds).
pub(crate) fn format_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// Parses `--since`: a UTC date (`2026-11-25`, its midnight) or an RFC 3339 time with `Z` or an
/// offset and optional fractional seconds; returns Unix milliseconds.
fn parse_since(s: &str) -> Result<i64, String> {
    let bad =
        || format!("{s:?} is not a date (2026-11-25) or an RFC 3339 time (2026-11-25T09:30:00Z)");
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    // A bare date only: jiff would also read `2026-11-25T10:00` as a civil date, which is ambiguous here.
    if s.len() != 10 {
        return Err(bad());
    }
    let date: jiff::civil::Date = s.parse().map_err(|_| bad())?;
    date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_ms(1_795_629_171_123), "2026-11-25T17:52:51.123Z");
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
        for ms in [0, 951_782_400_000, 1_795_629_171_000, 4_107_542_400_000] {
            assert_eq!(parse_since(&format_ms(ms)), Ok(ms));
        }
    }

    #[test]
    fn since_accepts_dates_offsets_and_fractions() {
        assert_eq!(parse_since("2026-11-25"), Ok(1_795_564_800_000));
        assert_eq!(parse_since("2026-11-25T17:52:51Z"), Ok(1_795_629_171_000));
        assert_eq!(
            parse_since("2026-11-25T19:52:51.5+02:00"),
            Ok(1_795_629_171_500)
        );
        assert_eq!(
            parse_since("2026-11-25T12:52:51-05:00"),
            Ok(1_795_629_171_000)
        );
        assert_eq!(parse_since("2024-02-29"), Ok(1_709_164_800_000));
        assert_eq!(
            parse_since("2026-11-25T17:52Z"),
            Ok(1_795_629_120_000),
            "seconds may be left out"
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2025-02-29",
            "2026-11-25T25:00:00Z",
            "2026-11-25T10:00:00",
            "26-11-25",
        ] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }
}
