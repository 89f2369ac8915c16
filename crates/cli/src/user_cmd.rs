//! `rounds user …`: add, list, disable, enable and change users from the server's shell.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use rounds_domain::input::{check_name, check_password};
use rounds_domain::secret::hash_password;
use rounds_domain::{Email, OrgKind, Role};
use rounds_store::{Actor, NewOrg, NewUser, Org, Store, User};
use serde::Serialize;

use crate::audit_cmd::format_ms;
use crate::db::{self, DbArgs, IfMissing};
use crate::exit;

/// Longest display or organization name accepted, as on the web forms.
const MAX_NAME_CHARS: usize = 120;

/// `rounds user` and its subcommands.
#[derive(Args, Debug)]
pub(crate) struct UserArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a user with a password (asked for twice on a terminal, else read from stdin).
    Add(AddArgs),
    #[command(flatten)]
    Other(OtherCommand),
}

/// The subcommands that need no password.
#[derive(Subcommand, Debug)]
enum OtherCommand {
    /// List users: email, name, role, MFA, disabled, last sign-in.
    List {
        /// Only this organization's users (default: every organization).
        #[arg(long)]
        org: Option<i64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Disable a user: they cannot sign in and are signed out everywhere.
    Disable {
        /// The user's sign-in email.
        email: String,
    },
    /// Re-enable a disabled user.
    Enable {
        /// The user's sign-in email.
        email: String,
    },
    /// Change a user's role.
    SetRole {
        /// The user's sign-in email.
        email: String,
        /// The new role.
        role: Role,
    },
    /// Remove a user's second factor and recovery codes and sign them out everywhere.
    ResetMfa {
        /// The user's sign-in email.
        email: String,
    },
    /// Sign a user out of every session.
    RevokeSessions {
        /// The user's sign-in email.
        email: String,
    },
}

/// Options of `rounds user add`.
#[derive(Args, Debug)]
struct AddArgs {
    /// Sign-in email.
    #[arg(long)]
    email: String,
    /// Name shown to colleagues.
    #[arg(long)]
    name: String,
    /// Role: admin, social_manager, responder, legal_reviewer, medical_reviewer, privacy_officer,
    /// security_officer or viewer.
    #[arg(long)]
    role: Role,
    /// The organization to add the user to (required when there are several).
    #[arg(long, conflicts_with_all = ["org_name", "org_kind"])]
    org: Option<i64>,
    /// Headless install: create the organization with this name and make this user its first admin.
    #[arg(long, requires = "org_kind")]
    org_name: Option<String>,
    /// Headless install: the organization's kind (hospital, health_system, pharma, biotech, other).
    #[arg(long, requires = "org_name")]
    org_kind: Option<OrgKind>,
    /// Read the password from the first line of stdin instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

/// How `rounds user list` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    /// Aligned columns for people.
    Table,
    /// A JSON array for scripts.
    Json,
}

/// One row of `rounds user list --format json`.
#[derive(Serialize)]
struct UserRow<'a> {
    org_id: i64,
    email: &'a str,
    name: &'a str,
    role: Role,
    mfa_enabled: bool,
    disabled: bool,
    last_login_at: Option<i64>,
}

/// Run `rounds user …`; returns the exit code.
pub(crate) fn run(args: UserArgs) -> anyhow::Result<u8> {
    let UserArgs { db, command } = args;
    match command {
        UserCommand::Add(add) => {
            // Checked (and the password hashed) before the database is touched, so a typo costs nothing.
            let setup = new_org(&add)?;
            let user = new_user(&add)?;
            db::block_on(db::with_store(&db, IfMissing::Create, async |store| {
                add_user(store, &user, setup.as_ref(), add.org).await
            }))?;
        }
        UserCommand::Other(other) => {
            db::block_on(db::with_store(&db, IfMissing::Refuse, async |store| {
                change(store, other).await
            }))?
        }
    }
    Ok(exit::CLEAN)
}

/// The organization a headless set-up creates, when `--org-name` and `--org-kind` are given.
fn new_org(add: &AddArgs) -> anyhow::Result<Option<NewOrg>> {
    let (Some(name), Some(kind)) = (&add.org_name, add.org_kind) else {
        return Ok(None);
    };
    if add.role != Role::Admin {
        bail!("the first user of a new organization must be an admin (--role admin)");
    }
    Ok(Some(NewOrg {
        name: check_name("organization name", name, MAX_NAME_CHARS)?,
        kind,
        is_demo: false,
    }))
}

/// The user `rounds user add` creates, with the password read, checked and hashed.
fn new_user(add: &AddArgs) -> anyhow::Result<NewUser> {
    let email = Email::parse(&add.email)?;
    let display_name = check_name("name", &add.name, MAX_NAME_CHARS)?;
    let password = read_password(add.password_stdin)?;
    check_password(&password, Some(&email))?;
    let password_hash = hash_password(&password)?;
    Ok(NewUser {
        email,
        display_name,
        role: add.role,
        password_hash,
    })
}

/// Every subcommand but `add`.
async fn change(store: &Store, command: OtherCommand) -> anyhow::Result<()> {
    match command {
        OtherCommand::List { org, format } => list(store, org, format).await?,
        OtherCommand::Disable { email } => {
            let user = find(store, &email).await?;
            store.set_disabled(user.id, true, &cli_in(&user)).await?;
            println!("disabled {} and signed them out everywhere", user.email);
        }
        OtherCommand::Enable { email } => {
            let user = find(store, &email).await?;
            store.set_disabled(user.id, false, &cli_in(&user)).await?;
            println!("enabled {}", user.email);
        }
        OtherCommand::SetRole { email, role } => {
            let user = find(store, &email).await?;
            store.set_role(user.id, role, &cli_in(&user)).await?;
            println!("{}: role {} → {role}", user.email, user.role);
            if role.requires_mfa() && !user.mfa_enabled {
                println!(
                    "note: the {role} role needs a second factor; they will be asked to enrol at next sign-in"
                );
            }
        }
        OtherCommand::ResetMfa { email } => {
            let user = find(store, &email).await?;
            store.reset_mfa(user.id, &cli_in(&user)).await?;
            println!(
                "removed the second factor of {} and signed them out everywhere",
                user.email
            );
        }
        OtherCommand::RevokeSessions { email } => {
            let user = find(store, &email).await?;
            let n = store.revoke_sessions(user.id, None, &cli_in(&user)).await?;
            println!("ended {n} session(s) of {}", user.email);
        }
    }
    Ok(())
}

/// The command line acting on `user`: the event belongs to the user's organization, so the
/// organization's own audit view shows it.
fn cli_in(user: &User) -> Actor {
    Actor {
        org_id: Some(user.org_id),
        ..Actor::cli()
    }
}

/// The user with this sign-in email, or an error saying there is none.
async fn find(store: &Store, raw: &str) -> anyhow::Result<User> {
    let email = Email::parse(raw)?;
    store
        .user_by_email(&email)
        .await?
        .with_context(|| format!("no user with email {email}"))
}

async fn add_user(
    store: &Store,
    user: &NewUser,
    setup: Option<&NewOrg>,
    org: Option<i64>,
) -> anyhow::Result<()> {
    let orgs = store.orgs().await?;
    if let Some(new_org) = setup {
        if let Some(existing) = orgs.first() {
            bail!(
                "Rounds is already set up (organization {}); drop --org-name and --org-kind",
                describe(existing)
            );
        }
        let (org, admin) = store
            .complete_setup(new_org, user, None)
            .await
            .context("set-up failed")?;
        println!(
            "set up {} and added {} ({}) as its first admin",
            describe(&org),
            admin.email,
            admin.role
        );
        return Ok(());
    }
    let org_id = pick_org(&orgs, org)?;
    let created = store
        .create_user(
            org_id,
            user,
            &Actor {
                org_id: Some(org_id),
                ..Actor::cli()
            },
        )
        .await?;
    println!(
        "added {} ({}) to organization {}",
        created.email, created.role, org_id
    );
    if created.role.requires_mfa() {
        println!(
            "note: the {} role needs a second factor; they will be asked to enrol at first sign-in",
            created.role
        );
    }
    Ok(())
}

/// The organization a new user joins: `--org` when given (and it exists), else the only one.
fn pick_org(orgs: &[Org], wanted: Option<i64>) -> anyhow::Result<i64> {
    match (orgs, wanted) {
        ([], _) => bail!(
            "Rounds is not set up yet: run `rounds serve` and open /setup in a browser to create the organization \
             and its first admin, or pass --org-name and --org-kind to do it from here"
        ),
        (_, Some(id)) => match orgs.iter().find(|o| o.id == id) {
            Some(o) => Ok(o.id),
            None => bail!(
                "no organization with id {id} (there are: {})",
                list_orgs(orgs)
            ),
        },
        ([only], None) => Ok(only.id),
        (_, None) => bail!(
            "there are several organizations; choose one with --org ({})",
            list_orgs(orgs)
        ),
    }
}

fn describe(org: &Org) -> String {
    format!(
        "{} \"{}\"{}",
        org.id,
        org.name,
        if org.is_demo { " (demo)" } else { "" }
    )
}

fn list_orgs(orgs: &[Org]) -> String {
    orgs.iter().map(describe).collect::<Vec<_>>().join(", ")
}

async fn list(store: &Store, org: Option<i64>, format: ListFormat) -> anyhow::Result<()> {
    let orgs = store.orgs().await?;
    let org_ids: Vec<i64> = match org {
        Some(id) if orgs.iter().any(|o| o.id == id) => vec![id],
        Some(id) => bail!(
            "no organization with id {id} (there are: {})",
            list_orgs(&orgs)
        ),
        None => orgs.iter().map(|o| o.id).collect(),
    };
    let mut users = Vec::new();
    for id in org_ids {
        users.extend(store.users(id).await?);
    }
    let rows: Vec<UserRow<'_>> = users
        .iter()
        .map(|u| UserRow {
            org_id: u.org_id,
            email: &u.email,
            name: &u.display_name,
            role: u.role,
            mfa_enabled: u.mfa_enabled,
            disabled: u.disabled,
            last_login_at: u.last_login_at,
        })
        .collect();
    let mut out = io::stdout().lock();
    match format {
        ListFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        ListFormat::Table => write_table(&mut out, &rows)?,
    }
    out.flush()?;
    Ok(())
}

fn write_table(out: &mut impl Write, rows: &[UserRow<'_>]) -> io::Result<()> {
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.org_id.to_string(),
                r.email.to_owned(),
                r.name.to_owned(),
                r.role.to_string(),
                if r.mfa_enabled { "on" } else { "off" }.to_owned(),
                if r.disabled { "yes" } else { "no" }.to_owned(),
                r.last_login_at
                    .map_or_else(|| "never".to_owned(), format_ms),
            ]
        })
        .collect();
    let header = [
        "ORG",
        "EMAIL",
        "NAME",
        "ROLE",
        "MFA",
        "DISABLED",
        "LAST SIGN-IN",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; 7]| -> io::Result<()> {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", padded.join("  ").trim_end())
    };
    line(out, header)?;
    for row in &cells {
        line(out, row.each_ref().map(String::as_str))?;
    }
    if cells.is_empty() {
        writeln!(out, "(no users)")?;
    }
    Ok(())
}

/// The new password: one line of stdin with `--password-stdin` or when stdin is not a terminal;
/// otherwise typed twice at a prompt without echo.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        let password = line.strip_suffix('\n').unwrap_or(&line);
        let password = password.strip_suffix('\r').unwrap_or(password);
        if password.is_empty() {
            bail!("no password on stdin (give it as the first line)");
        }
        return Ok(password.to_owned());
    }
    let first = prompt_hidden("Password: ")?;
    let second = prompt_hidden("Password again: ")?;
    if first != second {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

/// Reads one line from the terminal with echo turned off through `stty`, and always turns echo
/// back on, even when reading fails.
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    io::stderr().flush()?;
    stty("-echo").context(
        "cannot turn off terminal echo; pipe the password in with --password-stdin instead",
    )?;
    let mut line = String::new();
    let read = io::stdin().lock().read_line(&mut line);
    let restored = stty("echo");
    eprintln!();
    read.context("cannot read the password")?;
    restored.context("cannot turn terminal echo back on (run `stty echo`)")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn stty(setting: &str) -> anyhow::Result<()> {
    let status = Command::new("stty")
        .arg(setting)
        .stdin(Stdio::inherit())
        .status()?;
    if !status.success() {
        bail!("stty {setting} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: i64, is_demo: bool) -> Org {
        Org {
            id,
            name: format!("Org {id}"),
            kind: OrgKind::Hospital,
            is_demo,
            created_at: 0,
        }
    }

    #[test]
    fn the_only_organization_is_picked_and_several_need_a_choice() {
        assert_eq!(pick_org(&[org(3, false)], None).ok(), Some(3));
        let two = [org(1, false), org(2, true)];
        assert_eq!(pick_org(&two, Some(2)).ok(), Some(2));
        let e = pick_org(&two, None).unwrap_err().to_string();
        assert!(
            e.contains("--org") && e.contains("2 \"Org 2\" (demo)"),
            "{e}"
        );
        let e = pick_org(&two, Some(9)).unwrap_err().to_string();
        assert!(e.contains("no organization with id 9"), "{e}");
        let e = pick_org(&[], None).unwrap_err().to_string();
        assert!(e.contains("/setup") && e.contains("--org-name"), "{e}");
    }

    #[test]
    fn table_columns_line_up() {
        let rows = [
            UserRow {
                org_id: 1,
                email: "ana@mercy.org",
                name: "Ana",
                role: Role::Admin,
                mfa_enabled: true,
                disabled: false,
                last_login_at: Some(0),
            },
            UserRow {
                org_id: 1,
                email: "bo@mercy.org",
                name: "Bo Long-Name",
                role: Role::Viewer,
                mfa_enabled: false,
                disabled: true,
                last_login_at: None,
            },
        ];
        let mut out = Vec::new();
        write_table(&mut out, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].contains("1970-01-01T00:00:00Z") && lines[2].ends_with("never"),
            "{text}"
        );
        let col = |l: &str| {
            l.find("ROLE")
                .or_else(|| l.find("admin"))
                .or_else(|| l.find("viewer"))
        };
        assert_eq!(col(lines[0]), col(lines[1]));
        assert_eq!(col(lines[1]), col(lines[2]));
    }
}
