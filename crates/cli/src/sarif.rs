//! SARIF 2.1.0 output, so code-scanning dashboards can show screening results.
//!
//! One run; `tool.driver.rules` lists every rule of the engine; each finding is a result whose
//! region is a byte range. For text inputs the range is in the input file itself; for JSON Lines
//! it is in the message's `text` (the file holds it JSON-escaped, so no file offset would be
//! exact), and the result's logical location names the message by id or line.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use screen::{Field, Severity};

use crate::output::{Failed, Output, Screened, Summary};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF level for a severity.
pub(crate) fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// Collects results and writes one SARIF log at the end.
pub(crate) struct Sarif<'w> {
    w: Box<dyn Write + 'w>,
    rule_index: BTreeMap<&'static str, usize>,
    artifacts: Vec<String>,
    results: Vec<Value>,
    notifications: Vec<Value>,
}

impl<'w> Sarif<'w> {
    /// A writer over `w`.
    pub fn new(w: Box<dyn Write + 'w>) -> Self {
        let rule_index = screen::rules::all()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        Sarif {
            w,
            rule_index,
            artifacts: Vec::new(),
            results: Vec::new(),
            notifications: Vec::new(),
        }
    }

    fn artifact(&mut self, source: &str) -> usize {
        match self.artifacts.iter().position(|a| a == source) {
            Some(i) => i,
            None => {
                self.artifacts.push(source.to_owned());
                self.artifacts.len() - 1
            }
        }
    }
}

fn uri(source: &str) -> &str {
    if source == crate::input::STDIN {
        "stdin"
    } else {
        source
    }
}

impl Output for Sarif<'_> {
    fn report(&mut self, item: &Screened<'_>) -> io::Result<()> {
        if item.report.findings.is_empty() {
            return Ok(());
        }
        let artifact = self.artifact(item.source);
        for f in &item.report.findings {
            let len = f.span.end.saturating_sub(f.span.start);
            let in_file = item.byte_offset.filter(|_| f.field == Field::Text);
            let offset = match in_file {
                Some(base) => base.saturating_add(f.span.start as u64),
                None => f.span.start as u64,
            };
            let mut location = json!({
                "physicalLocation": {
                    "artifactLocation": { "uri": uri(item.source), "index": artifact },
                    "region": { "byteOffset": offset, "byteLength": len },
                }
            });
            if in_file.is_none() {
                let name = match item.id {
                    Some(Value::String(s)) => s.clone(),
                    Some(id) => id.to_string(),
                    None => format!("line {}", item.line),
                };
                let field = if f.field == Field::AltText {
                    "attachments.alt_text"
                } else {
                    "text"
                };
                location["logicalLocations"] = json!([{ "name": name, "kind": "object", "fullyQualifiedName": format!("{name}.{field}") }]);
            }
            let mut result = json!({
                "ruleId": f.rule_id,
                "level": level(f.severity),
                "message": { "text": f.explanation },
                "locations": [location],
                "properties": {
                    "category": f.category,
                    "severity": f.severity,
                    "action": f.action,
                    "decision": item.report.decision,
                    "line": item.line,
                },
            });
            if let Some(&i) = self.rule_index.get(&*f.rule_id) {
                result["ruleIndex"] = json!(i);
            }
            if let Some(id) = item.id {
                result["properties"]["id"] = id.clone();
            }
            if let Some(s) = &f.suggestion {
                result["properties"]["suggestion"] = json!(s);
            }
            self.results.push(result);
        }
        Ok(())
    }

    fn failed(&mut self, item: &Failed<'_>) -> io::Result<()> {
        self.notifications.push(json!({
            "level": "error",
            "message": { "text": format!("{}:{}: {}", uri(item.source), item.line, item.error) },
        }));
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        let rules: Vec<Value> = screen::rules::all()
            .map(|r| {
                json!({
                    "id": r.id,
                    "shortDescription": { "text": r.summary },
                    "defaultConfiguration": { "level": level(r.severity) },
                    "properties": {
                        "category": r.category,
                        "severity": r.severity,
                        "incoming": r.incoming,
                        "outgoing": r.outgoing,
                    },
                })
            })
            .collect();
        let artifacts: Vec<Value> = self
            .artifacts
            .iter()
            .map(|a| json!({ "location": { "uri": uri(a) } }))
            .collect();
        let log = json!({
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": { "driver": {
                    "name": "rounds",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "artifacts": artifacts,
                "results": std::mem::take(&mut self.results),
                "invocations": [{
                    "executionSuccessful": self.notifications.is_empty(),
                    "toolExecutionNotifications": std::mem::take(&mut self.notifications),
                }],
            }],
        });
        serde_json::to_writer_pretty(&mut self.w, &log)?;
        self.w.write_all(b"\n")?;
        self.w.flush()
    }
}
