//! Page models for the askama templates in `templates/`, and the shared page frame.
//!
//! Askama escapes every value; the only unescaped output is the QR code SVG we generate ourselves.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use rounds_domain::Permission;

use crate::error::AppError;
use crate::session::Viewer;

/// One navigation entry.
pub(crate) struct NavItem {
    pub(crate) href: &'static str,
    pub(crate) label: &'static str,
    pub(crate) active: bool,
}

/// The sections, in navigation order, with the permission that shows each.
const SECTIONS: [(&str, &str, Option<Permission>); 13] = [
    ("/", "Home", None),
    ("/inbox", "Inbox", Some(Permission::ViewInbox)),
    ("/compose", "Compose", Some(Permission::ComposePosts)),
    ("/calendar", "Calendar", Some(Permission::ViewPosts)),
    ("/approvals", "Approvals", Some(Permission::ViewPosts)),
    ("/channels", "Channels", Some(Permission::ViewPosts)),
    ("/cases", "Cases", Some(Permission::ViewCases)),
    ("/archive", "Archive", Some(Permission::ViewArchive)),
    ("/reports", "Reports", Some(Permission::ViewReports)),
    ("/screen", "Screen text", Some(Permission::ScreenText)),
    ("/audit", "Audit log", Some(Permission::ViewAudit)),
    ("/users", "Users", Some(Permission::ManageUsers)),
    ("/settings", "Settings", Some(Permission::ManageSettings)),
];

/// What every page frame shows: title, who is signed in, navigation, notices.
pub(crate) struct Layout {
    pub(crate) title: String,
    pub(crate) signed_in: bool,
    pub(crate) user_name: String,
    pub(crate) user_email: String,
    pub(crate) role_label: &'static str,
    pub(crate) org_name: String,
    pub(crate) is_demo: bool,
    pub(crate) csrf: String,
    pub(crate) nav: Vec<NavItem>,
    pub(crate) notice: Option<String>,
}

impl Layout {
    /// The frame for a signed-in page; `section` is the href of the active navigation entry.
    pub(crate) fn new(viewer: &Viewer, title: impl Into<String>, section: &str) -> Layout {
        let nav = SECTIONS
            .iter()
            .filter(|(_, _, p)| p.is_none_or(|p| viewer.can(p)))
            .map(|(href, label, _)| NavItem {
                href,
                label,
                active: *href == section,
            })
            .collect();
        Layout {
            title: title.into(),
            signed_in: true,
            user_name: viewer.user.display_name.clone(),
            user_email: viewer.user.email.clone(),
            role_label: viewer.user.role.label(),
            org_name: viewer.org.name.clone(),
            is_demo: viewer.org.is_demo,
            csrf: viewer.csrf().to_owned(),
            nav,
            notice: None,
        }
    }

    /// The frame for a page seen before signing in (set-up, sign-in, invitation).
    pub(crate) fn anonymous(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            signed_in: false,
            user_name: String::new(),
            user_email: String::new(),
            role_label: "",
            org_name: String::new(),
            is_demo: false,
            csrf: String::new(),
            nav: Vec::new(),
            notice: None,
        }
    }

    /// The frame for a signed-in person who has not passed the second factor yet: no navigation.
    pub(crate) fn pending(viewer: &Viewer, title: impl Into<String>) -> Layout {
        Layout {
            nav: Vec::new(),
            ..Layout::new(viewer, title, "")
        }
    }

    /// Adds a notice from a fixed list, picked by the `notice` query parameter after a redirect.
    pub(crate) fn with_notice(mut self, key: Option<&str>) -> Layout {
        self.notice = key.and_then(notice_text).map(str::to_owned);
        self
    }
}

/// Notices shown after a form redirects back; a fixed list so no text is reflected from the URL.
fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "password_changed" => "Your password was changed. Your other sessions were signed out.",
        "sessions_revoked" => "All your other sessions were signed out.",
        "token_revoked" => "The API token was revoked.",
        "mfa_enrolled" => "Two-factor authentication is on.",
        "role_changed" => "The role was changed.",
        "user_disabled" => "The user was disabled and signed out everywhere.",
        "user_enabled" => "The user was enabled.",
        "mfa_reset" => {
            "The user's second factor was removed; they must enrol again at their next sign-in."
        }
        "user_sessions_revoked" => "The user was signed out everywhere.",
        "settings_saved" => "Settings saved.",
        "draft_saved" => "Draft saved.",
        "submitted" => "Submitted for approval.",
        "rescheduled" => "The post has its new time.",
        "publishing_paused" => "Publishing is paused: nothing goes out until someone resumes it.",
        "publishing_resumed" => {
            "Publishing resumed. Posts whose time passed during the pause wait for a new time."
        }
        "publication_deleted" => "The post was deleted from the network.",
        "channel_connected" => "The channel is connected.",
        "channel_checked" => "The channel was checked; its status below is the network's answer.",
        "channel_disconnected" => "The channel was disconnected and its credentials erased.",
        "decision_recorded" => "Your decision was recorded.",
        "chain_saved" => "Approval chain saved.",
        "chain_deleted" => "Approval chain deleted.",
        "signed_out" => "You are signed out.",
        "setup_done" => {
            "Your organization is ready. Sign in with the admin account you just created."
        }
        "invitation_accepted" => "Your account is ready. Sign in.",
        _ => return None,
    })
}

/// Renders a template, or a plain error page if rendering itself fails.
pub(crate) fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::internal(e).into_response(),
    }
}

/// Renders a template with a status other than 200.
pub(crate) fn render_status<T: Template>(status: StatusCode, t: &T) -> Response {
    let mut res = render(t);
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    reason: &'a str,
    message: &'a str,
    code: &'a str,
    operation_id: &'a str,
}

#[derive(Template)]
#[template(path = "error_partial.html")]
struct ErrorPartial<'a> {
    message: &'a str,
    operation_id: &'a str,
}

/// The error page (or, for an htmx request, the error fragment) with the operation id; inside the
/// normal page frame when a signed-in person made the request.
pub(crate) fn error_page(
    status: StatusCode,
    err: &AppError,
    operation_id: &str,
    htmx: bool,
    viewer: Option<&Viewer>,
) -> Response {
    let html = if htmx {
        ErrorPartial {
            message: &err.message,
            operation_id,
        }
        .render()
    } else {
        ErrorPage {
            layout: match viewer {
                Some(v) => Layout::new(v, status.canonical_reason().unwrap_or("Error"), ""),
                None => Layout::anonymous(status.canonical_reason().unwrap_or("Error")),
            },
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: &err.message,
            code: err.code.as_str(),
            operation_id,
        }
        .render()
    };
    let body = html.unwrap_or_else(|_| format!("{} (operation {operation_id})", err.message));
    (status, Html(body)).into_response()
}
