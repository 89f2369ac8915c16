//! `rounds eval`: the accuracy table over the labelled sets, printed and optionally recorded.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use rounds_eval::Row;

use crate::screen_cmd::load_screener;

/// Run `rounds eval`.
pub(crate) fn run(shared: Option<PathBuf>, write: Option<&Path>) -> anyhow::Result<()> {
    let shared = shared_folder(shared)?;
    let screener = load_screener(None)?;
    let rows = rounds_eval::evaluate_all(&shared, &screener)
        .with_context(|| format!("evaluation over {} failed", shared.display()))?;
    print!("{}", table(&rows, false));
    if let Some(path) = write {
        let mut doc = markdown(&rows, &today(), git_commit().as_deref(), path);
        // The page's own sections after the table ("How to read this") are written by people:
        // a re-measure replaces the table and keeps them.
        match std::fs::read_to_string(path) {
            Ok(old) => doc.push_str(notes_after_table(&old)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
        std::fs::write(path, doc).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The shared folder given, else the one `rounds_eval` finds, with a clear error when neither exists.
pub(crate) fn shared_folder(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match given.or_else(rounds_eval::shared_dir) {
        Some(d) => d,
        None => {
            bail!(
                "cannot find the shared data folder: pass --shared DIR, set ROUNDS_SHARED, or put it at ../shared"
            )
        }
    };
    if !dir.join("data").is_dir() {
        bail!(
            "{} is not a shared data folder (it has no data/ inside)",
            dir.display()
        );
    }
    Ok(dir)
}

fn target_text(row: &Row) -> String {
    match row.target {
        None => "-".to_owned(),
        Some(t) => match t.recall {
            Some(r) => format!("F1 ≥ {:.2}, R ≥ {:.2}", t.f1, r),
            None => format!("F1 ≥ {:.2}", t.f1),
        },
    }
}

fn met_text(row: &Row) -> &'static str {
    match row.meets_target() {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "-",
    }
}

/// The table as aligned text, or as a markdown table when `md` is true.
fn table(rows: &[Row], md: bool) -> String {
    let header = [
        "dataset",
        "task",
        "precision",
        "recall",
        "F1",
        "target",
        "met?",
    ]
    .map(str::to_owned);
    let body: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.dataset.clone(),
                r.task.clone(),
                // A per-type row of a type-blind score has no meaningful precision, hence no F1.
                if r.recall_only {
                    "-".to_owned()
                } else {
                    format!("{:.3}", r.counts.precision())
                },
                format!("{:.3}", r.counts.recall()),
                if r.recall_only {
                    "-".to_owned()
                } else {
                    format!("{:.3}", r.counts.f1())
                },
                target_text(r),
                met_text(r).to_owned(),
            ]
        })
        .collect();
    let mut out = String::new();
    if md {
        let line = |cells: &[String; 7]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(&header));
        out.push_str("|---|---|--:|--:|--:|---|---|\n");
        for row in &body {
            out.push_str(&line(row));
        }
        return out;
    }
    let mut width = header.clone().map(|h| h.chars().count());
    for row in &body {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&body) {
        let cells: Vec<String> = row
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    if body.is_empty() {
        out.push_str("(no labelled set found)\n");
    }
    out
}

/// The markdown page written by `--write`.
fn markdown(rows: &[Row], date: &str, commit: Option<&str>, path: &Path) -> String {
    let mut out = String::from("# Accuracy\n\n");
    let _ = writeln!(
        out,
        "Measured {date} at commit {} with the default policy by `rounds eval --write {}`.\n",
        commit.unwrap_or("unknown"),
        path.display()
    );
    out.push_str("Precision, recall and F1 are over the labelled sets in the shared data folder; ");
    out.push_str("the target column is the project's goal for that row.\n\n");
    out.push_str(&table(rows, true));
    out
}

/// The sections of an accuracy page after its generated part: from its first second-level
/// heading on, with the blank line before it; empty when it has none.
fn notes_after_table(page: &str) -> &str {
    page.find("\n## ").map_or("", |i| &page[i..])
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The current git commit (short), with `-dirty` when the tree has changes; `None` outside git.
fn git_commit() -> Option<String> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = run(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rounds_eval::{Counts, Target};

    fn rows() -> Vec<Row> {
        vec![
            Row {
                dataset: "presidio-synthetic".to_owned(),
                task: "PHI tokens (type-blind)".to_owned(),
                counts: Counts {
                    tp: 80,
                    fp: 20,
                    fn_: 20,
                },
                target: Some(Target {
                    f1: 0.75,
                    recall: Some(0.9),
                }),
                floor: None,
                recall_only: false,
            },
            Row {
                dataset: "presidio-synthetic".to_owned(),
                task: "PERSON tokens".to_owned(),
                counts: Counts {
                    tp: 9,
                    fp: 0,
                    fn_: 1,
                },
                target: None,
                floor: None,
                recall_only: true,
            },
            Row {
                dataset: "psytar/dev".to_owned(),
                task: "ADR sentences".to_owned(),
                counts: Counts {
                    tp: 0,
                    fp: 0,
                    fn_: 5,
                },
                target: None,
                floor: None,
                recall_only: false,
            },
        ]
    }

    #[test]
    fn text_and_markdown_tables() {
        insta::assert_snapshot!(table(&rows(), false));
        insta::assert_snapshot!(markdown(
            &rows(),
            "2026-11-25",
            Some("abc123"),
            Path::new("docs/accuracy.md")
        ));
    }

    #[test]
    fn a_re_measure_keeps_the_notes_after_the_table() {
        let old = markdown(&rows(), "2026-11-01", Some("old"), Path::new("a.md"))
            + "\n## How to read this\n\n- a note\n";
        assert_eq!(
            notes_after_table(&old),
            "\n## How to read this\n\n- a note\n"
        );
        let bare = markdown(&rows(), "2026-11-01", Some("old"), Path::new("a.md"));
        assert_eq!(notes_after_table(&bare), "");
    }

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_517), (2026, 3, 5));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
