//! End-to-end tests of the admin commands (`rounds user|audit|backup|restore`): the real binary,
//! run in a scratch folder against a real SQLite file and, when `ROUNDS_TEST_POSTGRES_URL` is set,
//! a freshly created PostgreSQL database.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a scratch folder, process or database that cannot be made should fail the test loudly"
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use rounds_domain::{AuditAction, AuditRecord, CSV_HEADER, Email};
use rounds_store::{Actor, NewSession, Store};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple\n";

/// One installation under test: a working folder, and the database the commands talk to.
struct Install {
    dir: tempfile::TempDir,
    /// `None`: the defaults (`sqlite://rounds-data/rounds.db` in the working folder).
    url: Option<String>,
    rt: tokio::runtime::Runtime,
}

impl Install {
    fn sqlite() -> Install {
        Install {
            dir: tempfile::tempdir().unwrap(),
            url: None,
            rt: runtime(),
        }
    }

    /// `None` when no PostgreSQL server is configured.
    fn postgres() -> Option<Install> {
        let rt = runtime();
        let url = rt.block_on(rounds_store::testing::scratch_postgres_url())?;
        Some(Install {
            dir: tempfile::tempdir().unwrap(),
            url: Some(url),
            rt,
        })
    }

    fn is_sqlite(&self) -> bool {
        self.url.is_none()
    }

    fn database_url(&self) -> String {
        self.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.dir.path().join("rounds-data/rounds.db").display()
            )
        })
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("rounds-data/secret.key")
    }

    /// Runs `rounds ARGS` in the working folder with `stdin`.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rounds"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("ROUNDS_DATABASE_URL")
            .env_remove("ROUNDS_KEY_FILE")
            .env_remove("ROUNDS_DATA_DIR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = &self.url {
            cmd.env("ROUNDS_DATABASE_URL", url);
        }
        let mut child = cmd.spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        // A write error only means rounds did not read its stdin, which the assertions judge.
        let _ = pipe.write_all(stdin.as_bytes());
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(0),
            "rounds {args:?}\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs a command that must fail with `code`; returns stdout and stderr together.
    fn fails(&self, args: &[&str], stdin: &str, code: i32) -> String {
        let out = self.run(args, stdin);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "rounds {args:?}\n{all}");
        all
    }

    fn users(&self) -> Vec<Value> {
        match serde_json::from_str(&self.ok(&["user", "list", "--format", "json"], "")).unwrap() {
            Value::Array(users) => users,
            other => panic!("not an array: {other}"),
        }
    }

    fn user(&self, email: &str) -> Value {
        self.users()
            .into_iter()
            .find(|u| u["email"] == email)
            .unwrap_or_else(|| panic!("{email} not listed"))
    }

    /// Opens the same database in-process, for what the CLI cannot do (enrol MFA, sign in, tamper).
    fn with_store<T>(&self, work: impl AsyncFnOnce(&Store) -> T) -> T {
        self.rt.block_on(async {
            let store = Store::open(&self.database_url(), &self.key_file())
                .await
                .unwrap();
            let result = work(&store).await;
            store.close().await;
            result
        })
    }

    fn verified_count(&self) -> u64 {
        let out = self.ok(&["audit", "verify"], "");
        let count = out
            .strip_prefix("audit chain intact: ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok());
        count.unwrap_or_else(|| panic!("unexpected verify output: {out}"))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Splits CSV text into records of fields, honouring quotes (so a quoted comma or line break stays
/// inside its field) and doubled quotes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && row.is_empty(),
        "CSV does not end with a complete line"
    );
    rows
}

#[test]
fn csv_reader_used_below_honours_quotes() {
    let rows = parse_csv("a,\"b, c\",\"say \"\"hi\"\"\"\n\"two\nlines\",,x\n");
    assert_eq!(
        rows,
        [vec!["a", "b, c", "say \"hi\""], vec!["two\nlines", "", "x"]]
    );
}

#[test]
fn admin_commands_on_sqlite() {
    let install = Install::sqlite();
    admin_flow(&install);
    assert!(
        install.key_file().is_file(),
        "the default key file is created beside the database"
    );
}

#[test]
fn admin_commands_on_postgres() {
    let Some(install) = Install::postgres() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ROUNDS_TEST_POSTGRES_URL must be set in CI so that PostgreSQL is tested"
        );
        eprintln!("skipped: ROUNDS_TEST_POSTGRES_URL is not set");
        return;
    };
    admin_flow(&install);
}

fn admin_flow(install: &Install) {
    set_up_and_add_users(install);
    change_users(install);
    let count = check_audit(install);
    backup_and_restore(install, count);
    tamper(install);
}

fn set_up_and_add_users(i: &Install) {
    let add_ana = [
        "user",
        "add",
        "--email",
        "Ana.Lopez@Mercy.org",
        "--name",
        "Ana Lopez",
        "--role",
        "admin",
    ];
    let err = i.fails(&add_ana, PASSWORD, 2);
    assert!(
        err.contains("not set up yet") && err.contains("/setup"),
        "{err}"
    );
    assert!(i.users().is_empty());

    let headless = [
        &add_ana[..],
        &["--org-name", "Mercy General", "--org-kind", "hospital"],
    ]
    .concat();
    let out = i.ok(&headless, PASSWORD);
    assert!(
        out.contains("Mercy General") && out.contains("ana.lopez@mercy.org"),
        "{out}"
    );
    let err = i.fails(&headless, PASSWORD, 2);
    assert!(err.contains("already set up"), "{err}");
    let viewer_first = [
        &add_ana[..6],
        &[
            "--role",
            "viewer",
            "--org-name",
            "X",
            "--org-kind",
            "pharma",
        ],
    ]
    .concat();
    let err = i.fails(&viewer_first, "", 2);
    assert!(err.contains("must be an admin"), "{err}");

    let ana = i.user("ana.lopez@mercy.org");
    assert_eq!(ana["name"], "Ana Lopez");
    assert_eq!(ana["role"], "admin");
    assert_eq!(ana["mfa_enabled"], false);
    assert_eq!(ana["disabled"], false);
    assert_eq!(ana["last_login_at"], Value::Null);

    let add_bo = [
        "user",
        "add",
        "--email",
        "bo@mercy.org",
        "--name",
        "Bo, Jr.",
        "--role",
        "responder",
        "--password-stdin",
    ];
    let err = i.fails(&add_bo, "short\n", 2);
    assert!(err.contains("at least 12 characters"), "{err}");
    let err = i.fails(&add_bo, "bo-is-my-password-forever\n", 2);
    assert!(err.contains("must not contain your email"), "{err}");
    let err = i.fails(
        &[
            "user",
            "add",
            "--email",
            "bo@mercy.org",
            "--name",
            "Bo",
            "--role",
            "root",
        ],
        PASSWORD,
        2,
    );
    assert!(err.contains("unknown role"), "{err}");
    assert_eq!(i.users().len(), 1, "refused users are not created");

    i.ok(&add_bo, PASSWORD);
    let err = i.fails(&add_bo, "another fine passphrase\n", 2);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(i.users().len(), 2);
    assert_eq!(i.user("bo@mercy.org")["role"], "responder");

    let table = i.ok(&["user", "list"], "");
    assert!(
        table.starts_with("ORG") && table.contains("bo@mercy.org") && table.contains("never"),
        "{table}"
    );
}

fn change_users(i: &Install) {
    i.ok(&["user", "set-role", "bo@mercy.org", "viewer"], "");
    assert_eq!(i.user("bo@mercy.org")["role"], "viewer");

    i.ok(&["user", "disable", "BO@mercy.org"], "");
    assert_eq!(i.user("bo@mercy.org")["disabled"], true);
    i.ok(&["user", "enable", "bo@mercy.org"], "");
    assert_eq!(i.user("bo@mercy.org")["disabled"], false);

    // Enrol a second factor and open a session the way the web app would, then reset it here.
    let bo = Email::parse("bo@mercy.org").unwrap();
    i.with_store(async |s: &Store| {
        let user = s.user_by_email(&bo).await.unwrap().unwrap();
        s.enable_totp(
            user.id,
            &[7; 20],
            &["code-hash".into()],
            &Actor::user(&user, None),
        )
        .await
        .unwrap();
        for n in 0..2 {
            let session = NewSession {
                id_hash: format!("{n:064}"),
                user_id: user.id,
                csrf_token: format!("csrf{n}"),
                mfa_passed: true,
                now_ms: 1_700_000_000_000,
                ip: None,
                user_agent: None,
            };
            s.create_session(&session).await.unwrap();
        }
    });
    assert_eq!(i.user("bo@mercy.org")["mfa_enabled"], true);
    let out = i.ok(&["user", "reset-mfa", "bo@mercy.org"], "");
    assert!(out.contains("signed them out"), "{out}");
    assert_eq!(i.user("bo@mercy.org")["mfa_enabled"], false);
    let sessions = i.with_store(async |s: &Store| {
        s.sessions_of(s.user_by_email(&bo).await.unwrap().unwrap().id)
            .await
            .unwrap()
    });
    assert!(
        sessions.is_empty(),
        "reset-mfa signs the user out everywhere"
    );

    let out = i.ok(&["user", "revoke-sessions", "bo@mercy.org"], "");
    assert!(out.contains("ended 0 session(s)"), "{out}");

    for cmd in ["disable", "enable", "reset-mfa", "revoke-sessions"] {
        let err = i.fails(&["user", cmd, "nobody@mercy.org"], "", 2);
        assert!(
            err.contains("no user with email nobody@mercy.org"),
            "{cmd}: {err}"
        );
    }
    let err = i.fails(&["user", "set-role", "nobody@mercy.org", "viewer"], "", 2);
    assert!(err.contains("no user with email nobody@mercy.org"), "{err}");
}

/// Checks verify and both exports; returns the number of events after them.
fn check_audit(i: &Install) -> u64 {
    let count = i.verified_count();
    let out = i.ok(&["audit", "verify"], "");
    assert!(
        out.trim_end()
            .split(" head ")
            .nth(1)
            .is_some_and(|h| h.len() == 64),
        "{out}"
    );

    let jsonl = i.ok(&["audit", "export"], "");
    let records: Vec<AuditRecord> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(records.len() as u64, count);
    assert_eq!(
        rounds_domain::audit::verify(records.clone()),
        Ok(count),
        "the export verifies on its own"
    );
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    for expected in [
        "setup.completed",
        "user.created",
        "user.role_changed",
        "user.disabled",
        "user.enabled",
        "mfa.reset",
        "auth.sessions_revoked",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let by_cli: Vec<&AuditRecord> = records
        .iter()
        .filter(|r| r.action.starts_with("user.") || r.action == "mfa.reset")
        .collect();
    assert!(
        by_cli
            .iter()
            .all(|r| r.actor == "cli" && r.org_id.is_some()),
        "CLI changes belong to the user's organization: {by_cli:?}"
    );

    let users_only = i.ok(&["audit", "export", "--action", "user."], "");
    assert!(users_only.lines().count() >= 4);
    assert!(
        users_only.lines().all(|l| l.contains(r#""action":"user."#)),
        "{users_only}"
    );
    assert_eq!(i.ok(&["audit", "export", "--since", "2999-01-01"], ""), "");
    assert!(
        i.ok(&["audit", "export", "--since", "2000-01-01T00:00:00Z"], "")
            .lines()
            .count() as u64
            > count
    );
    let err = i.fails(&["audit", "export", "--since", "last tuesday"], "", 2);
    assert!(err.contains("is not a date"), "{err}");

    let out = i.run(
        &["audit", "export", "--format", "csv", "--out", "audit.csv"],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(i.dir.path().join("audit.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some(CSV_HEADER));
    let rows = parse_csv(&csv);
    let columns = CSV_HEADER.split(',').count();
    assert!(
        rows.len() > 1 && rows.iter().all(|r| r.len() == columns),
        "{csv}"
    );
    let detail = CSV_HEADER.split(',').position(|c| c == "detail").unwrap();
    assert!(
        csv.contains(",\"{\"\""),
        "a JSON detail is quoted with its quotes doubled: {csv}"
    );
    assert!(
        rows[1..].iter().any(|r| r[detail].contains(',')),
        "some detail holds a comma: {csv}"
    );
    assert!(
        rows[1..]
            .iter()
            .all(|r| serde_json::from_str::<Value>(&r[detail]).is_ok()),
        "details unquote to JSON"
    );
    let err = i.fails(
        &["audit", "export", "--format", "csv", "--out", "audit.csv"],
        "",
        2,
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(i.dir.path().join("audit.csv")).unwrap(),
        csv,
        "an existing file is kept"
    );

    let after = i.verified_count();
    let exported = i.ok(&["audit", "export", "--action", "audit.exported"], "");
    assert_eq!(
        exported.lines().count(),
        5,
        "each export is itself audited: {exported}"
    );
    assert_eq!(after, count + 5);
    i.verified_count()
}

fn backup_and_restore(i: &Install, count: u64) {
    let out = i.ok(&["backup", "backups/one"], "");
    assert!(
        out.contains("wrote backups/one") && out.contains("key file"),
        "{out}"
    );
    assert_eq!(i.verified_count(), count + 1, "the backup is audited");
    let err = i.fails(&["backup", "backups/one"], "", 2);
    assert!(err.contains("already exists"), "{err}");

    let target = match &i.url {
        None => "sqlite://restored/rounds.db".to_owned(),
        Some(_) => {
            i.rt.block_on(rounds_store::testing::scratch_postgres_url())
                .unwrap()
        }
    };
    let out = i.ok(&["restore", "backups/one", "--database-url", &target], "");
    assert!(out.contains(&format!("{count} events")), "{out}");
    let err = i.fails(
        &["restore", "backups/one", "--database-url", &target],
        "",
        2,
    );
    assert!(
        err.contains("already exists") || err.contains("not empty"),
        "{err}"
    );
    let err = i.fails(
        &[
            "restore",
            "backups/missing",
            "--database-url",
            "sqlite://elsewhere/r.db",
        ],
        "",
        2,
    );
    assert!(err.contains("no backup file"), "{err}");
    if !i.is_sqlite() {
        let err = i.fails(
            &[
                "restore",
                "backups/one",
                "--database-url",
                "sqlite://elsewhere/r.db",
            ],
            "",
            2,
        );
        assert!(err.contains("is a PostgreSQL backup"), "{err}");
    }
    std::fs::write(i.dir.path().join("notes.txt"), "not a database").unwrap();
    let err = i.fails(
        &[
            "restore",
            "notes.txt",
            "--database-url",
            "sqlite://elsewhere/r.db",
        ],
        "",
        2,
    );
    assert!(err.contains("is not a backup"), "{err}");
    assert!(
        !i.dir.path().join("elsewhere").exists(),
        "a refused restore leaves nothing behind"
    );

    let out = i.ok(
        &[
            "audit",
            "verify",
            "--database-url",
            &target,
            "--key-file",
            "restored.key",
        ],
        "",
    );
    assert!(
        out.starts_with(&format!("audit chain intact: {count} events")),
        "{out}"
    );
    let restored = i.ok(
        &[
            "user",
            "list",
            "--format",
            "json",
            "--database-url",
            &target,
            "--key-file",
            "restored.key",
        ],
        "",
    );
    assert!(
        restored.contains("ana.lopez@mercy.org") && restored.contains("bo@mercy.org"),
        "{restored}"
    );
}

fn tamper(i: &Install) {
    let sql = if i.is_sqlite() {
        [
            "DROP TRIGGER audit_events_no_update",
            "UPDATE audit_events SET detail = '{\"role\":\"admin\"}' WHERE seq = 3",
        ]
    } else {
        [
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
            "UPDATE audit_events SET detail = '{\"role\":\"admin\"}' WHERE seq = 3",
        ]
    };
    i.with_store(async |s: &Store| {
        for q in sql {
            sqlx::query(q).execute(s.pool()).await.unwrap();
        }
    });
    let out = i.fails(&["audit", "verify"], "", 1);
    assert!(out.contains("BROKEN at event 3"), "{out}");
}

#[test]
fn several_organizations_need_a_choice() {
    let i = Install::sqlite();
    i.ok(
        &[
            "user",
            "add",
            "--email",
            "ana@mercy.org",
            "--name",
            "Ana",
            "--role",
            "admin",
            "--org-name",
            "Mercy",
            "--org-kind",
            "hospital",
        ],
        PASSWORD,
    );
    let demo = i.with_store(async |s: &Store| {
        let org = rounds_store::NewOrg {
            name: "Demo".into(),
            kind: rounds_domain::OrgKind::Pharma,
            is_demo: true,
        };
        s.create_org(&org, &Actor::system()).await.unwrap().id
    });
    let add = [
        "user",
        "add",
        "--email",
        "cy@mercy.org",
        "--name",
        "Cy",
        "--role",
        "viewer",
    ];
    let err = i.fails(&add, PASSWORD, 2);
    assert!(
        err.contains("several organizations") && err.contains("(demo)"),
        "{err}"
    );
    let demo_id = demo.to_string();
    i.ok(&[&add[..], &["--org", &demo_id]].concat(), PASSWORD);
    assert_eq!(i.user("cy@mercy.org")["org_id"], demo);
    let demo_users = i.ok(&["user", "list", "--org", &demo_id, "--format", "json"], "");
    assert!(
        demo_users.contains("cy@mercy.org") && !demo_users.contains("ana@mercy.org"),
        "{demo_users}"
    );
    let err = i.fails(&["user", "list", "--org", "99"], "", 2);
    assert!(err.contains("no organization with id 99"), "{err}");
}

#[test]
fn database_options_come_from_the_environment() {
    let i = Install::sqlite();
    let db = i.dir.path().join("elsewhere/db.sqlite");
    let key = i.dir.path().join("keys/k");
    let rounds = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rounds"));
        cmd.args(args)
            .current_dir(i.dir.path())
            .env("ROUNDS_DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("ROUNDS_KEY_FILE", &key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(PASSWORD.as_bytes());
        child.wait_with_output().unwrap()
    };

    for args in [
        &["user", "list"][..],
        &["audit", "verify"],
        &["audit", "export"],
        &["backup", "b.db"],
    ] {
        let out = rounds(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("no database at"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(
        !db.exists(),
        "reading commands never create an empty database"
    );

    let add = [
        "user",
        "add",
        "--email",
        "ana@mercy.org",
        "--name",
        "Ana",
        "--role",
        "admin",
    ];
    let out = rounds(&[&add[..], &["--org-name", "Mercy", "--org-kind", "hospital"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(db.is_file() && key.is_file());
    assert!(text(&rounds(&["user", "list"]).stdout).contains("ana@mercy.org"));
    assert!(
        !i.dir.path().join("rounds-data").exists(),
        "the defaults were not used"
    );
}

#[test]
fn database_options_come_from_the_serve_configuration_file() {
    let i = Install::sqlite();
    let data = i.dir.path().join("srv/data");
    let config = i.dir.path().join("rounds.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    let config = config.display().to_string();

    let add = [
        "user",
        "add",
        "--email",
        "ana@mercy.org",
        "--name",
        "Ana",
        "--role",
        "admin",
        "--org-name",
        "Mercy",
        "--org-kind",
        "hospital",
    ];
    i.ok(&[&add[..], &["--config", &config]].concat(), PASSWORD);
    assert!(
        data.join("rounds.db").is_file() && data.join("secret.key").is_file(),
        "the file's data_dir was used"
    );
    assert!(
        i.ok(&["user", "list", "--config", &config], "")
            .contains("ana@mercy.org")
    );
    assert!(
        i.fails(&["user", "list"], "", 2).contains("no database at"),
        "without it, the defaults"
    );
    let missing = i.dir.path().join("nope.toml").display().to_string();
    assert!(
        i.fails(&["audit", "verify", "--config", &missing], "", 2)
            .contains("does not exist")
    );
}

#[test]
fn export_pages_through_a_long_log_oldest_first() {
    let i = Install::sqlite();
    let setup = ["--org-name", "Mercy", "--org-kind", "hospital"];
    i.ok(
        &[
            &[
                "user",
                "add",
                "--email",
                "ana@mercy.org",
                "--name",
                "Ana",
                "--role",
                "admin",
            ][..],
            &setup,
        ]
        .concat(),
        PASSWORD,
    );
    // More than two store pages, with the rarer action spread thinly across them.
    i.with_store(async |s: &Store| {
        for n in 0..2_345 {
            let action = if n % 97 == 0 {
                AuditAction::Logout
            } else {
                AuditAction::LoginFailed
            };
            s.audit(
                &Actor::system(),
                action,
                &format!("user:{n}"),
                serde_json::json!({ "n": n }),
            )
            .await
            .unwrap();
        }
    });
    let total = i.verified_count();
    assert_eq!(total, 2_346);

    let all: Vec<AuditRecord> = i
        .ok(&["audit", "export"], "")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=2_346).collect::<Vec<i64>>()
    );
    assert_eq!(rounds_domain::audit::verify(all), Ok(total));

    let logouts: Vec<AuditRecord> = i
        .ok(&["audit", "export", "--action", "auth.logout"], "")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logouts.len(), 2_345usize.div_ceil(97));
    assert!(
        logouts.windows(2).all(|w| w[0].seq < w[1].seq),
        "oldest first"
    );
    assert!(logouts.iter().all(|r| r.action == "auth.logout"));
}

#[test]
fn the_data_folder_holds_database_and_key_as_for_rounds_serve() {
    let i = Install::sqlite();
    let setup = ["--org-name", "Mercy", "--org-kind", "hospital"];
    let add = [
        &[
            "user",
            "add",
            "--email",
            "ana@mercy.org",
            "--name",
            "Ana",
            "--role",
            "admin",
        ][..],
        &setup,
    ]
    .concat();
    let out = Command::new(env!("CARGO_BIN_EXE_rounds"))
        .args(&add)
        .current_dir(i.dir.path())
        .env_remove("ROUNDS_DATABASE_URL")
        .env_remove("ROUNDS_KEY_FILE")
        .env("ROUNDS_DATA_DIR", "var/rounds")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(PASSWORD.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(i.dir.path().join("var/rounds/rounds.db").is_file());
    assert!(i.dir.path().join("var/rounds/secret.key").is_file());
    let listed = i.ok(&["user", "list", "--data-dir", "var/rounds"], "");
    assert!(listed.contains("ana@mercy.org"), "{listed}");
    let out = i.ok(&["backup", "b.db", "--data-dir", "var/rounds"], "");
    assert!(
        out.contains("var/rounds/secret.key"),
        "the reminder names the key file in effect: {out}"
    );
    let out = i.ok(&["restore", "b.db", "--data-dir", "var/restored"], "");
    assert!(out.contains("sqlite://var/restored/rounds.db"), "{out}");
}
