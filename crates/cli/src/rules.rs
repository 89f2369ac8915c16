//! `rounds rules`: the catalogue of rules as a table or JSON.

use std::io::{self, Write};

use screen::{Action, RuleInfo};

fn action(a: Option<Action>) -> &'static str {
    a.map_or("-", Action::as_str)
}

/// Print every rule; JSON when `json` is true.
pub(crate) fn run(json: bool) -> anyhow::Result<()> {
    let rules: Vec<&RuleInfo> = screen::rules::all().collect();
    let mut w = io::BufWriter::new(io::stdout().lock());
    if json {
        let list: Vec<serde_json::Value> = rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "category": r.category,
                    "severity": r.severity,
                    "incoming": r.incoming,
                    "outgoing": r.outgoing,
                    "summary": r.summary,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut w, &list)?;
        writeln!(w)?;
    } else {
        write_table(&mut w, &rules)?;
    }
    w.flush()?;
    Ok(())
}

fn write_table(w: &mut dyn Write, rules: &[&RuleInfo]) -> io::Result<()> {
    let header = [
        "RULE", "CATEGORY", "SEVERITY", "INCOMING", "OUTGOING", "SUMMARY",
    ];
    let rows: Vec<[&str; 6]> = rules
        .iter()
        .map(|r| {
            [
                r.id,
                r.category.as_str(),
                r.severity.as_str(),
                action(r.incoming),
                action(r.outgoing),
                r.summary,
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        for (i, cell) in row.iter().enumerate().take(5) {
            write!(w, "{cell:<0$}  ", width[i])?;
        }
        writeln!(w, "{}", row[5])?;
    }
    if rows.is_empty() {
        writeln!(w, "(no rules are compiled into this build)")?;
    }
    Ok(())
}
