//! End-to-end tests of the `rounds` binary: exit codes, the JSON Lines contract, error messages,
//! redaction and SARIF.

#![allow(
    clippy::expect_used,
    reason = "test helpers: failing to run the binary or write a scratch file should fail the test loudly"
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn rounds(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rounds"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rounds");
    let mut pipe = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    // A separate writer thread so a large stdin cannot deadlock against a full stdout pipe; a
    // write error only means rounds stopped reading early, which the assertions then judge.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for rounds");
    let _ = writer.join();
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file with this content in the test's scratch folder.
fn file(name: &str, content: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write scratch file");
    path
}

fn jsonl(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Text that a built-in rule flags at high severity or above, once the detectors exist.
const SSN_TEXT: &str = "Patient John Smith, SSN 078-05-1120, was admitted to room 12 for chemo.";

fn has_rules() -> bool {
    screen::rules::all().next().is_some()
}

#[test]
fn clean_text_exits_zero_with_a_summary() {
    let out = rounds(&["screen"], b"See you all at the 5k fun run on Saturday!\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("summary: 1 message screened, 0 with findings"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn jsonl_one_report_per_line_in_order_with_ids_echoed() {
    let mut input = String::new();
    for i in 0..50 {
        if i % 7 == 3 {
            input.push('\n');
        }
        if i % 2 == 0 {
            input.push_str(&format!("{{\"id\":{i},\"text\":\"message number {i}\"}}\n"));
        } else {
            input.push_str(&format!("{{\"id\":\"m{i}\",\"text\":\"message {i}\",\"direction\":\"outgoing\",\"paid\":true,\"attachments\":{{\"has_image\":true,\"alt_text\":\"a photo\"}}}}\n"));
        }
    }
    let path = file("order.jsonl", input.as_bytes());
    let out = rounds(
        &[
            "screen",
            "--format",
            "jsonl",
            path.to_str().expect("utf-8 path"),
        ],
        b"",
    );
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    let reports = jsonl(&out);
    assert_eq!(reports.len(), 50);
    let mut last_line = 0;
    for (i, r) in reports.iter().enumerate() {
        let want = if i % 2 == 0 {
            Value::from(i)
        } else {
            Value::from(format!("m{i}"))
        };
        assert_eq!(r["id"], want);
        let line = r["line"].as_u64().expect("line");
        assert!(
            line > last_line,
            "lines must increase: {line} after {last_line}"
        );
        last_line = line;
        assert!(
            r["decision"].is_string() && r["findings"].is_array() && r["phi"].is_array(),
            "{r}"
        );
    }
    // Blank lines are skipped but still counted: seven of them come before the last record.
    assert_eq!(last_line, 57);
}

#[test]
fn jsonl_findings_carry_the_contract_fields() {
    if !has_rules() {
        eprintln!("skipped: no rules compiled in yet");
        return;
    }
    let line =
        serde_json::json!({ "id": "x", "text": SSN_TEXT, "direction": "outgoing" }).to_string();
    let out = rounds(
        &["screen", "--input", "jsonl", "--format", "jsonl"],
        line.as_bytes(),
    );
    let reports = jsonl(&out);
    assert_eq!(reports.len(), 1);
    for f in reports[0]["findings"].as_array().expect("findings") {
        for key in ["category", "rule_id", "severity", "action"] {
            assert!(f[key].is_string(), "{key} missing in {f}");
        }
        let (start, end) = (
            f["span"]["start"].as_u64().expect("start"),
            f["span"]["end"].as_u64().expect("end"),
        );
        assert_eq!(
            SSN_TEXT.get(start as usize..end as usize),
            f["matched"].as_str()
        );
    }
}

#[test]
fn fail_on_sets_the_exit_code() {
    if !has_rules() {
        eprintln!("skipped: no rules compiled in yet");
        return;
    }
    let out = rounds(
        &["screen", "--direction", "outgoing", "--fail-on", "info"],
        SSN_TEXT.as_bytes(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = rounds(
        &["screen", "--direction", "outgoing", "--fail-on", "info"],
        b"See you at the 5k run on Saturday!",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn redact_replaces_phi_or_leaves_clean_text_alone() {
    let out = rounds(
        &[
            "screen",
            "--redact",
            "--format",
            "jsonl",
            "--direction",
            "outgoing",
        ],
        SSN_TEXT.as_bytes(),
    );
    let reports = jsonl(&out);
    let redacted = reports[0]["redacted"].as_str().expect("redacted text");
    let phi = reports[0]["phi"].as_array().expect("phi list");
    for p in phi {
        let (text, label) = (
            p["text"].as_str().expect("phi text"),
            p["category"].as_str().expect("category"),
        );
        assert!(
            !redacted.contains(text),
            "{text} ({label}) left in {redacted}"
        );
    }
    if phi.is_empty() {
        assert_eq!(redacted, SSN_TEXT);
    }
    let out = rounds(&["screen", "--redact"], b"Nothing private here.");
    assert!(
        stdout(&out).contains("redacted: Nothing private here."),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_json_names_file_line_and_column_and_keeps_going() {
    let path = file(
        "bad.jsonl",
        b"{\"id\":1,\"text\":\"ok\"}\n\n{\"id\":2,\"text\":5}\n{\"id\":3}\n{\"id\":4,\"text\":\"unterminated}\n{\"id\":5,\"text\":\"fine\"}\n",
    );
    let name = path.to_str().expect("utf-8 path");
    let out = rounds(&["screen", "--format", "jsonl", name], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{name}:3: invalid JSON at column 16: invalid type: integer `5`, expected a string"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{name}:4: invalid JSON at column 8: missing field `text`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:5: invalid JSON at column")),
        "{err}"
    );
    let reports = jsonl(&out);
    let ids: Vec<&Value> = reports.iter().map(|r| &r["id"]).collect();
    // The id is echoed whenever the line is still JSON; an unterminated string hides it.
    assert_eq!(
        ids,
        [
            &Value::from(1),
            &Value::from(2),
            &Value::from(3),
            &Value::Null,
            &Value::from(5)
        ]
    );
    let errors: Vec<bool> = reports.iter().map(|r| r["error"].is_string()).collect();
    assert_eq!(errors, [false, true, true, true, false]);
    assert_eq!(reports[3]["line"], 5);
}

#[test]
fn invalid_utf8_names_line_and_byte() {
    let path = file("latin1.txt", b"fine line\ncaf\xe9 au lait\n");
    let name = path.to_str().expect("utf-8 path");
    let out = rounds(&["screen", name], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!(
            "{name}: invalid UTF-8 at byte offset 13 (line 2, byte 4 of the line)"
        )),
        "{}",
        stderr(&out)
    );

    let out = rounds(&["screen", "--per-line", name], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{name}:2: invalid UTF-8 at byte 4 of the line")),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1 message screened"),
        "the good line is still screened: {}",
        stdout(&out)
    );

    let out = rounds(
        &["screen", "--input", "jsonl"],
        b"{\"text\":\"ok\"}\n{\"text\":\"\xff\"}\n",
    );
    assert!(
        stderr(&out).contains("<stdin>:2: invalid UTF-8 at byte 10 of the line"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_policy_names_key_and_line() {
    let policy = file(
        "bad-policy.toml",
        b"language = \"en\"\n\n[rules.\"phi.nope\"]\nenabled = false\n",
    );
    let out = rounds(
        &["screen", "--policy", policy.to_str().expect("utf-8 path")],
        b"hello",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("line 3") && err.contains("phi.nope"), "{err}");

    let policy = file("typo-policy.toml", b"[organization]\nnmae = \"x\"\n");
    let out = rounds(
        &["screen", "--policy", policy.to_str().expect("utf-8 path")],
        b"hello",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nmae") && stderr(&out).contains("line 2"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_file_and_oversized_message_are_errors() {
    let out = rounds(&["screen", "/nonexistent/rounds-input.txt"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot open /nonexistent/rounds-input.txt"),
        "{}",
        stderr(&out)
    );

    let big = "a".repeat(screen::MAX_MESSAGE_BYTES + 1);
    let out = rounds(&["screen"], big.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("larger than the 1 MiB limit"),
        "{}",
        stderr(&out)
    );

    let line = serde_json::json!({ "id": 9, "text": big }).to_string()
        + "\n{\"id\":10,\"text\":\"small\"}\n";
    let out = rounds(
        &["screen", "--input", "jsonl", "--format", "jsonl"],
        line.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2));
    let reports = jsonl(&out);
    assert_eq!(reports.len(), 2);
    assert!(
        reports[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("1 MiB")),
        "{}",
        reports[0]
    );
    assert_eq!(reports[1]["id"], 10);
}

#[test]
fn sarif_is_valid_json_with_required_fields() {
    let path = file(
        "sarif.txt",
        format!("{SSN_TEXT}\nAll good here.\n").as_bytes(),
    );
    let out = rounds(
        &[
            "screen",
            "--per-line",
            "--format",
            "sarif",
            path.to_str().expect("utf-8 path"),
        ],
        b"",
    );
    let log: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().is_some_and(|s| s.contains("sarif")));
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "rounds");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), screen::rules::all().count());
    for r in rules {
        assert!(
            r["id"].is_string() && r["shortDescription"]["text"].is_string(),
            "{r}"
        );
    }
    for result in run["results"].as_array().expect("results") {
        assert!(
            result["ruleId"].is_string() && result["message"]["text"].is_string(),
            "{result}"
        );
        assert!(
            ["error", "warning", "note"].contains(&result["level"].as_str().unwrap_or_default()),
            "{result}"
        );
        let region = &result["locations"][0]["physicalLocation"]["region"];
        let (offset, len) = (
            region["byteOffset"].as_u64().expect("offset"),
            region["byteLength"].as_u64().expect("len"),
        );
        assert!(
            offset + len <= SSN_TEXT.len() as u64,
            "offsets are in the file: {result}"
        );
    }
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
}

#[test]
fn rules_lists_every_rule_as_table_and_json() {
    let out = rounds(&["rules"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("RULE"), "{}", stdout(&out));
    let out = rounds(&["rules", "--format", "json"], b"");
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("rules JSON");
    assert_eq!(list.len(), screen::rules::all().count());
    for (r, info) in list.iter().zip(screen::rules::all()) {
        assert_eq!(r["id"], info.id);
        assert_eq!(r["category"], info.category.as_str());
    }
}

#[test]
fn eval_without_shared_data_says_where_to_put_it() {
    let out = rounds(
        &[
            "eval",
            "--shared",
            "/nonexistent/shared",
            "--write",
            "/nonexistent/accuracy.md",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: /nonexistent/shared is not a shared data folder"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bench_falls_back_to_the_synthetic_corpus() {
    let out = rounds(
        &[
            "bench",
            "--shared",
            "/nonexistent/shared",
            "--seconds",
            "0.05",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "built-in synthetic corpus",
        "floor",
        "short messages, incoming",
        "long text",
        "draft latency",
        "peak RSS",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn human_output_end_to_end() {
    let path = file(
        "e2e.txt",
        format!("{SSN_TEXT}\nCall me at 555-201-3344 if the rash gets worse.\n").as_bytes(),
    );
    let out = rounds(
        &[
            "screen",
            "--per-line",
            "--direction",
            "outgoing",
            "--fail-on",
            "critical",
            path.to_str().expect("utf-8 path"),
        ],
        b"",
    );
    assert!(
        !out.stdout.contains(&0x1b),
        "no colour when stdout is not a terminal"
    );
    let text = stdout(&out).replace(path.to_str().expect("utf-8 path"), "e2e.txt");
    // Explanations and suggestions are worded by each detector and reworded often; the snapshot
    // pins the layout, rule ids, spans, decisions and PHI list, which should change only on purpose.
    let stable: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("= "))
        .map(|l| format!("{l}\n"))
        .collect();
    // Detectors change what fires: after an intended change, review the new output and accept it
    // with `INSTA_UPDATE=always cargo test -p rounds-cli --test cli human_output` (or cargo insta).
    insta::assert_snapshot!(stable);
}

#[test]
fn json_format_is_one_array_in_input_order() {
    let input = b"{\"id\":\"a\",\"text\":\"first\"}\n{\"id\":\"b\",\"text\":\"second\"}\n";
    let out = rounds(&["screen", "--input", "jsonl", "--format", "json"], input);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("one JSON array");
    let ids: Vec<&Value> = list.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&Value::from("a"), &Value::from("b")]);
    let out = rounds(&["screen", "--input", "jsonl", "--format", "json"], b"\n");
    assert_eq!(
        serde_json::from_slice::<Vec<Value>>(&out.stdout)
            .expect("empty array")
            .len(),
        0
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let plain = rounds(&["screen"], b"hello");
    assert!(!plain.stdout.contains(&0x1b), "{}", stdout(&plain));
    let forced = rounds(&["screen", "--color", "always"], b"hello");
    assert!(forced.stdout.contains(&0x1b), "{}", stdout(&forced));
}

#[test]
fn train_adr_reproduces_the_shipped_model() {
    let Some(shared) = std::env::var_os("ROUNDS_SHARED")
        .map(PathBuf::from)
        .filter(|p| p.join("data").is_dir())
    else {
        eprintln!("skipped: ROUNDS_SHARED not set");
        return;
    };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests-adr.bin");
    let run = rounds(
        &[
            "train",
            "adr",
            "--shared",
            shared.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
        b"",
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../screen/models/adr.bin");
    let (trained, shipped) = (
        std::fs::read(&out).expect("trained model"),
        std::fs::read(shipped).expect("shipped model"),
    );
    assert!(
        trained == shipped,
        "training is deterministic and the shipped adr.bin is up to date"
    );
}
