//! The web app through headless Chromium on every backend: first-run set-up, MFA enrolment,
//! sign-out, sign-in with TOTP and recovery codes, the denied page, invitations, live screening
//! under the CSP, the demo sandbox, and phone-width layout. After each flow the audit chain must
//! verify and hold the sign-in events the flow caused.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use fantoccini::Locator;
use fantoccini::elements::Element;
use rounds_domain::secret::hash_password;
use rounds_domain::{Email, OrgKind, Role};
use rounds_store::{Actor, AuditFilter, NewOrg, NewUser, Store, User};
use rounds_testkit::{Browser, TestServer, totp_at, totp_now};

const PASSWORD: &str = "correct horse battery staple";

/// How long any one element or navigation may take to appear (the machine is shared and slow).
const WAIT: Duration = Duration::from_secs(20);

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Waits (bounded) for an element matching `css`.
async fn wait_for(browser: &Browser, css: &str) -> anyhow::Result<Element> {
    browser
        .wait()
        .at_most(WAIT)
        .every(Duration::from_millis(50))
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("no element {css:?} within {WAIT:?}"))
}

/// Waits (bounded) until the browser shows `path`, whatever the query string; returns the query.
async fn wait_for_path(browser: &Browser, path: &str) -> anyhow::Result<Option<String>> {
    let started = Instant::now();
    loop {
        let url = browser.current_url().await?;
        if url.path() == path {
            return Ok(url.query().map(str::to_owned));
        }
        if started.elapsed() > WAIT {
            bail!("still at {url} after {WAIT:?}, expected {path}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types `text` into the field matching `css`, key by key, as a person would.
async fn type_into(browser: &Browser, css: &str, text: &str) -> anyhow::Result<()> {
    let field = browser
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("no field {css:?}"))?;
    field.clear().await?;
    field.send_keys(text).await?;
    Ok(())
}

/// Clicks the element matching `css`.
async fn click(browser: &Browser, css: &str) -> anyhow::Result<()> {
    browser
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("nothing to click at {css:?}"))?
        .click()
        .await?;
    Ok(())
}

async fn text_of(browser: &Browser, css: &str) -> anyhow::Result<String> {
    Ok(wait_for(browser, css).await?.text().await?)
}

/// Signs in with email and password on `/login`; stops wherever the server sends the browser.
async fn submit_password(
    browser: &Browser,
    server: &TestServer,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    browser.goto(&server.url("/login")).await?;
    wait_for(browser, "form[action='/login']").await?;
    type_into(browser, "input[name=email]", email).await?;
    type_into(browser, "input[name=password]", password).await?;
    click(browser, "form[action='/login'] button[type=submit]").await?;
    Ok(())
}

/// Enters a second-factor code on `/login/mfa`.
async fn submit_code(browser: &Browser, code: &str) -> anyhow::Result<()> {
    wait_for_path(browser, "/login/mfa").await?;
    type_into(browser, "input[name=code]", code).await?;
    click(browser, "form[action='/login/mfa'] button[type=submit]").await?;
    Ok(())
}

/// Signs out with the header's button and checks the sign-in page says so.
async fn sign_out(browser: &Browser) -> anyhow::Result<()> {
    let button = wait_for(browser, "header.top form[action='/logout'] button").await?;
    ensure!(
        button.text().await? == "Sign out",
        "the header's button reads {:?}",
        button.text().await?
    );
    button.click().await?;
    let query = wait_for_path(browser, "/login").await?;
    ensure!(
        query.as_deref() == Some("notice=signed_out"),
        "signed out to /login?{query:?}"
    );
    let notice = text_of(browser, "main .notice").await?;
    ensure!(notice.contains("You are signed out"), "notice {notice:?}");
    Ok(())
}

/// Waits for the home page and returns its heading.
async fn at_home(browser: &Browser) -> anyhow::Result<String> {
    wait_for_path(browser, "/").await?;
    text_of(browser, "main h1").await
}

/// Where a redirect points ("" when the response is not one).
fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The `href`s of the navigation entries on the current page.
async fn nav_links(browser: &Browser) -> anyhow::Result<Vec<String>> {
    let mut hrefs = Vec::new();
    for link in browser.find_all(Locator::Css("nav.sections a")).await? {
        hrefs.extend(link.attr("href").await?);
    }
    Ok(hrefs)
}

/// An organization with its admin, made in the store: the admin has the TOTP `secret` (base32 returned).
async fn set_up_with_mfa(store: &Store, secret: [u8; 20]) -> anyhow::Result<(User, String)> {
    let org = NewOrg {
        name: "Mercy General".into(),
        kind: OrgKind::Hospital,
        is_demo: false,
    };
    let admin = NewUser {
        email: Email::parse("admin@mercy.test")?,
        display_name: "Ada Admin".into(),
        role: Role::Admin,
        password_hash: hash_password(PASSWORD)?,
    };
    let (_, admin) = store.complete_setup(&org, &admin, None).await?;
    store
        .enable_totp(admin.id, &secret, &[], &Actor::system())
        .await?;
    Ok((admin, totp_rs::Secret::from(secret.to_vec()).to_base32()))
}

/// Signs the store-made admin in with password and the current TOTP code.
async fn sign_in_admin(
    browser: &Browser,
    server: &TestServer,
    secret_b32: &str,
) -> anyhow::Result<()> {
    submit_password(browser, server, "admin@mercy.test", PASSWORD).await?;
    submit_code(browser, &totp_now(secret_b32)?).await?;
    at_home(browser).await?;
    Ok(())
}

/// The chain verifies, and every action in `expected` is in the log.
async fn audit_holds(store: &Store, expected: &[&str]) -> anyhow::Result<()> {
    match store.audit_verify().await? {
        Ok(count) => ensure!(count > 0, "the audit log is empty"),
        Err(broken) => bail!("the audit chain is broken: {broken:?}"),
    }
    let actions: Vec<String> = store
        .audit_page(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in expected {
        ensure!(
            actions.iter().any(|a| a == action),
            "no {action} event in {actions:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn first_run_enrolment_sign_out_and_sign_in_with_totp_and_recovery_codes()
-> anyhow::Result<()> {
    for server in TestServer::every_backend().await? {
        let Some(browser) = Browser::start().await? else {
            return Ok(());
        };

        // A fresh installation sends visitors through sign-in to set-up.
        let home = server.client.get(server.url("/")).send().await?;
        ensure!(
            location(&home).starts_with("/login"),
            "/ sends a visitor to {:?}",
            location(&home)
        );
        let login = server.client.get(server.url("/login")).send().await?;
        ensure!(
            location(&login) == "/setup",
            "/login sends a fresh installation to {:?}",
            location(&login)
        );
        browser.goto(&server.url("/")).await?;
        wait_for_path(&browser, "/setup").await?;
        ensure!(text_of(&browser, "main h1").await? == "Set up Rounds");
        type_into(&browser, "input[name=org_name]", "St. Example Hospital").await?;
        browser
            .find(Locator::Css("select[name=org_kind]"))
            .await?
            .select_by_value("hospital")
            .await?;
        type_into(&browser, "input[name=name]", "Grace Hopper").await?;
        type_into(&browser, "input[name=email]", "grace@example.test").await?;
        type_into(&browser, "input[name=password]", PASSWORD).await?;
        type_into(&browser, "input[name=password_again]", PASSWORD).await?;
        click(&browser, "form[action='/setup'] button[type=submit]").await?;

        // Admins must enrol a second factor before anything else.
        wait_for_path(&browser, "/account/mfa").await?;
        let required = text_of(&browser, "main .notice").await?;
        ensure!(
            required.contains("must use a second factor"),
            "{required:?}"
        );
        ensure!(
            nav_links(&browser).await?.is_empty(),
            "no navigation before the second factor"
        );
        let secret = text_of(&browser, "#totp-secret").await?;
        type_into(&browser, "input[name=code]", &totp_now(&secret)?).await?;
        click(&browser, "form[action='/account/mfa'] button[type=submit]").await?;

        let codes: Vec<String> = {
            wait_for(&browser, "#recovery-codes").await?;
            let mut codes = Vec::new();
            for item in browser.find_all(Locator::Css("#recovery-codes li")).await? {
                codes.push(item.text().await?.trim().to_owned());
            }
            codes
        };
        ensure!(
            codes.len() == 10,
            "{} recovery codes: {codes:?}",
            codes.len()
        );
        click(&browser, "main a.button[href='/']").await?;
        let greeting = at_home(&browser).await?;
        ensure!(greeting.contains("Grace Hopper"), "{greeting:?}");
        ensure!(nav_links(&browser).await?.contains(&"/users".to_owned()));

        sign_out(&browser).await?;
        browser.goto(&server.url("/")).await?;
        wait_for_path(&browser, "/login").await?;

        // Password, then a wrong code: refused, still on the code page.
        submit_password(&browser, &server, "grace@example.test", PASSWORD).await?;
        submit_code(&browser, "000000").await?;
        let error = text_of(&browser, "main .alert").await?;
        ensure!(error.contains("That code is wrong"), "{error:?}");
        wait_for_path(&browser, "/login/mfa").await?;
        // The enrolment code's step is used up; the next step's code is within the allowed skew.
        let code = totp_at(&secret, unix_secs() + 30)?;
        submit_code(&browser, &code).await?;
        ensure!(at_home(&browser).await?.contains("Grace Hopper"));
        sign_out(&browser).await?;

        // A recovery code works once.
        submit_password(&browser, &server, "grace@example.test", PASSWORD).await?;
        submit_code(&browser, &codes[0]).await?;
        at_home(&browser).await?;
        sign_out(&browser).await?;
        submit_password(&browser, &server, "grace@example.test", PASSWORD).await?;
        submit_code(&browser, &codes[0]).await?;
        let error = text_of(&browser, "main .alert").await?;
        ensure!(error.contains("already used"), "{error:?}");

        audit_holds(
            &server.store,
            &[
                "setup.completed",
                "mfa.enrolled",
                "auth.login",
                "auth.logout",
                "auth.login_failed",
                "mfa.recovery_code_used",
            ],
        )
        .await?;
        browser.close().await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_viewer_is_denied_admin_pages_with_an_operation_id() -> anyhow::Result<()> {
    for server in TestServer::every_backend().await? {
        let (admin, _) = set_up_with_mfa(&server.store, [5u8; 20]).await?;
        let viewer = NewUser {
            email: Email::parse("viewer@mercy.test")?,
            display_name: "Vic Viewer".into(),
            role: Role::Viewer,
            password_hash: hash_password(PASSWORD)?,
        };
        server
            .store
            .create_user(admin.org_id, &viewer, &Actor::system())
            .await?;
        let Some(browser) = Browser::start().await? else {
            return Ok(());
        };

        submit_password(&browser, &server, "viewer@mercy.test", PASSWORD).await?;
        at_home(&browser).await?;
        let nav = nav_links(&browser).await?;
        ensure!(nav.contains(&"/".to_owned()), "{nav:?}");
        for hidden in ["/users", "/settings", "/audit"] {
            ensure!(
                !nav.iter().any(|h| h == hidden),
                "a viewer's navigation offers {hidden}: {nav:?}"
            );
        }

        browser.goto(&server.url("/users")).await?;
        let heading = text_of(&browser, "main h1").await?;
        ensure!(heading.starts_with("403"), "{heading:?}");
        let page = text_of(&browser, "main").await?;
        ensure!(page.contains("Your role does not allow this"), "{page:?}");
        let opid = text_of(&browser, "code.opid").await?;
        ensure!(
            !opid.trim().is_empty(),
            "the denied page shows an operation id"
        );
        ensure!(
            wait_for_path(&browser, "/users").await.is_ok(),
            "the denied page is not a redirect"
        );
        for hidden in ["/users", "/settings", "/audit"] {
            let links = browser
                .find_all(Locator::Css(&format!("a[href='{hidden}']")))
                .await?;
            ensure!(links.is_empty(), "the denied page links to {hidden}");
        }

        audit_holds(&server.store, &["auth.login"]).await?;
        browser.close().await?;
    }
    Ok(())
}

#[tokio::test]
async fn an_admin_invites_a_responder_who_joins_and_signs_in() -> anyhow::Result<()> {
    for server in TestServer::every_backend().await? {
        let (_, secret) = set_up_with_mfa(&server.store, [6u8; 20]).await?;
        let Some(browser) = Browser::start().await? else {
            return Ok(());
        };
        sign_in_admin(&browser, &server, &secret).await?;

        browser.goto(&server.url("/users")).await?;
        wait_for(&browser, "form[action='/users/invite']").await?;
        type_into(
            &browser,
            "form[action='/users/invite'] input[name=email]",
            "rita@mercy.test",
        )
        .await?;
        browser
            .find(Locator::Css(
                "form[action='/users/invite'] select[name=role]",
            ))
            .await?
            .select_by_value("responder")
            .await?;
        click(&browser, "form[action='/users/invite'] button[type=submit]").await?;
        let link = text_of(&browser, "#invite-link").await?;
        ensure!(link.starts_with(&server.url("/invite/")), "{link:?}");
        sign_out(&browser).await?;

        browser.goto(&link).await?;
        let heading = text_of(&browser, "main h1").await?;
        ensure!(heading.contains("Mercy General"), "{heading:?}");
        ensure!(text_of(&browser, "main").await?.contains("Responder"));
        type_into(&browser, "input[name=name]", "Rita Responder").await?;
        type_into(&browser, "input[name=password]", PASSWORD).await?;
        type_into(&browser, "input[name=password_again]", PASSWORD).await?;
        click(&browser, "form[action^='/invite/'] button[type=submit]").await?;
        wait_for_path(&browser, "/login").await?;
        ensure!(
            text_of(&browser, "main .notice")
                .await?
                .contains("Your account is ready")
        );

        submit_password(&browser, &server, "rita@mercy.test", PASSWORD).await?;
        ensure!(at_home(&browser).await?.contains("Rita Responder"));
        ensure!(text_of(&browser, "header.top .role").await? == "Responder");

        // The link worked once.
        browser.goto(&link).await?;
        ensure!(text_of(&browser, "main h1").await?.starts_with("404"));

        audit_holds(
            &server.store,
            &["user.invited", "user.invitation_accepted", "auth.login"],
        )
        .await?;
        browser.close().await?;
    }
    Ok(())
}

#[tokio::test]
async fn compose_screens_a_draft_live_through_htmx_under_the_csp() -> anyhow::Result<()> {
    for server in TestServer::every_backend().await? {
        let (_, secret) = set_up_with_mfa(&server.store, [7u8; 20]).await?;
        let Some(browser) = Browser::start().await? else {
            return Ok(());
        };
        sign_in_admin(&browser, &server, &secret).await?;

        browser.goto(&server.url("/compose")).await?;
        ensure!(
            text_of(&browser, "#screen-result")
                .await?
                .contains("Start typing")
        );
        type_into(
            &browser,
            "#draft-text",
            "Pt John Miller DOB 3/4/1961 in bed 4",
        )
        .await?;
        // Only htmx fills this in: no request leaves the page unless its script runs under the CSP.
        wait_for(&browser, "#screen-result #screen-result-body").await?;
        let result = text_of(&browser, "#screen-result").await?;
        ensure!(result.contains("phi."), "no PHI finding in {result:?}");
        ensure!(
            !browser
                .find_all(Locator::Css("#screen-result mark"))
                .await?
                .is_empty(),
            "the found words are highlighted"
        );
        wait_for_path(&browser, "/compose").await?;

        audit_holds(&server.store, &["auth.login"]).await?;
        browser.close().await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_demo_admin_opens_every_section_without_an_error() -> anyhow::Result<()> {
    for server in TestServer::every_backend().await? {
        let logins = rounds_demo::seed(&server.store).await?;
        // What `rounds demo` prints is what a newcomer types.
        let printed = logins.to_string();
        let password = printed
            .lines()
            .find_map(|l| l.strip_prefix("Password for every account: "))
            .context("the printed logins name no password")?
            .trim()
            .to_owned();
        ensure!(printed.contains("admin@demo.rounds.test"), "{printed}");
        let Some(browser) = Browser::start().await? else {
            return Ok(());
        };

        submit_password(&browser, &server, "admin@demo.rounds.test", &password).await?;
        at_home(&browser).await?;
        let mut sections = nav_links(&browser).await?;
        ensure!(
            sections.len() >= 12,
            "the admin sees every section: {sections:?}"
        );
        sections.push("/account".into());
        for section in &sections {
            browser.goto(&server.url(section)).await?;
            wait_for_path(&browser, section)
                .await
                .with_context(|| format!("{section} redirected"))?;
            let heading = text_of(&browser, "main h1").await?;
            ensure!(
                !heading.starts_with(|c: char| c.is_ascii_digit()),
                "{section} shows an error page: {heading:?}"
            );
            let errors = browser
                .find_all(Locator::Css("main .alert, main .error"))
                .await?;
            ensure!(errors.is_empty(), "{section} shows an error");
            ensure!(
                browser.title().await?.ends_with("· Rounds"),
                "{section} has no proper title"
            );
        }

        audit_holds(&server.store, &["setup.completed", "auth.login"]).await?;
        browser.close().await?;
    }
    Ok(())
}

#[tokio::test]
async fn every_demo_page_fits_a_phone_screen() -> anyhow::Result<()> {
    let Some(server) = TestServer::start(rounds_store::Backend::Sqlite).await? else {
        bail!("SQLite always runs")
    };
    let logins = rounds_demo::seed(&server.store).await?;
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    browser.set_window_size(390, 844).await?;
    browser.goto(&server.url("/login")).await?;
    let mut pages = vec!["/login".to_owned()];
    submit_password(
        &browser,
        &server,
        "admin@demo.rounds.test",
        &logins.password,
    )
    .await?;
    at_home(&browser).await?;
    pages.extend(nav_links(&browser).await?);
    pages.extend([
        "/account".to_owned(),
        "/account/mfa".to_owned(),
        "/no-such-page".to_owned(),
    ]);
    for page in &pages {
        browser.goto(&server.url(page)).await?;
        wait_for(&browser, "main h1").await?;
        // Horizontal scrolling of the whole page is what breaks phones; wide tables scroll inside
        // their own box instead.
        let widths = browser.execute("return [document.documentElement.scrollWidth, document.documentElement.clientWidth];", vec![]).await?;
        let (scroll, client) = (
            widths[0].as_i64().unwrap_or(i64::MAX),
            widths[1].as_i64().unwrap_or(0),
        );
        ensure!(
            scroll <= client,
            "{page} is {scroll} px wide on a {client} px screen"
        );
    }
    audit_holds(&server.store, &["auth.login"]).await?;
    browser.close().await?;
    Ok(())
}
