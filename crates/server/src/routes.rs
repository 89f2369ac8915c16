//! The route table: every path, its methods, its handler and who may call it, in one place.
//!
//! The access layer looks each request up here by method and matched path; a request to a route that
//! has no rule is refused, so adding a route means deciding who may use it.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{get, post, put};
use rounds_domain::Permission;
use serde::Serialize;

use crate::{AppState, api, assets, pages};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "permission")]
pub enum Access {
    /// Anyone, signed in or not (sign-in, set-up, assets, health).
    Public,
    /// Signed in with a password, even while the second factor is still pending (sign-out, MFA).
    PasswordOnly,
    /// Fully signed in (second factor passed where required), any role.
    SignedIn,
    /// Fully signed in with a role that holds this permission.
    Permission(Permission),
}

/// One route: method, path pattern and access rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouteRule {
    /// `GET`, `POST` or `PUT`.
    pub method: &'static str,
    /// The axum path pattern, e.g. `/users/{id}/role`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

impl RouteRule {
    /// Whether the path belongs to the JSON API (errors there are JSON, not pages).
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }
}

/// Where compose uploads images.
const UPLOAD_PATH: &str = "/compose/upload";

/// Largest image upload request: the largest image the store keeps (a phone photo) plus room for
/// the multipart framing and the alt text.
pub(crate) const MAX_UPLOAD_BYTES: usize = rounds_store::MAX_MEDIA_BYTES + 64 * 1024;

/// The largest request body a route takes: `default` (the configured limit for forms and JSON),
/// or enough for an image on the upload route.
pub(crate) fn body_limit(path: &str, default: usize) -> usize {
    if path == UPLOAD_PATH {
        default.max(MAX_UPLOAD_BYTES)
    } else {
        default
    }
}

struct Table {
    router: Router<AppState>,
    rules: Vec<RouteRule>,
}

impl Table {
    fn get<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, get(handler));
        self.rules.push(RouteRule {
            method: "GET",
            path,
            access,
        });
        self
    }

    fn put<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, put(handler));
        self.rules.push(RouteRule {
            method: "PUT",
            path,
            access,
        });
        self
    }

    /// A POST route that takes an image, with the larger body limit of [`body_limit`].
    fn upload<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(
            path,
            post(handler).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        );
        self.rules.push(RouteRule {
            method: "POST",
            path,
            access,
        });
        self
    }

    fn post<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, post(handler));
        self.rules.push(RouteRule {
            method: "POST",
            path,
            access,
        });
        self
    }
}

/// Builds the router (without layers and state) and the rule table it was built from.
pub(crate) fn build() -> (Router<AppState>, Vec<RouteRule>) {
    use Access::{PasswordOnly, Public, SignedIn};
    use Permission as P;
    let perm = Access::Permission;
    let t = Table {
        router: Router::new(),
        rules: Vec::new(),
    };
    let t = t
        .get("/healthz", Public, pages::health)
        .get("/assets/{file}", Public, assets::serve)
        .get("/setup", Public, pages::auth::setup_form)
        .post("/setup", Public, pages::auth::setup_submit)
        .get("/login", Public, pages::auth::login_form)
        .post("/login", Public, pages::auth::login_submit)
        .get("/invite/{token}", Public, pages::auth::invite_form)
        .post("/invite/{token}", Public, pages::auth::invite_submit)
        .get("/login/mfa", PasswordOnly, pages::auth::mfa_form)
        .post("/login/mfa", PasswordOnly, pages::auth::mfa_submit)
        .get("/account/mfa", PasswordOnly, pages::account::mfa_enrol_form)
        .post(
            "/account/mfa",
            PasswordOnly,
            pages::account::mfa_enrol_submit,
        )
        .post("/logout", PasswordOnly, pages::auth::logout)
        .get("/", SignedIn, pages::sections::dashboard)
        .get("/account", SignedIn, pages::account::show)
        .post(
            "/account/password",
            SignedIn,
            pages::account::change_password,
        )
        .post(
            "/account/sessions/revoke",
            SignedIn,
            pages::account::revoke_sessions,
        )
        .post("/account/tokens", SignedIn, pages::account::create_token)
        .post(
            "/account/tokens/{id}/revoke",
            SignedIn,
            pages::account::revoke_token,
        )
        .get("/inbox", perm(P::ViewInbox), pages::sections::inbox)
        .get("/compose", perm(P::ComposePosts), pages::compose::compose)
        .post(
            "/compose",
            perm(P::ComposePosts),
            pages::compose::compose_submit,
        )
        .post(
            "/compose/preview",
            perm(P::ComposePosts),
            pages::compose::preview,
        )
        .post(
            "/compose/redact",
            perm(P::ComposePosts),
            pages::compose::redact,
        )
        .upload(UPLOAD_PATH, perm(P::ComposePosts), pages::compose::upload)
        .get("/posts/{id}", perm(P::ViewPosts), pages::posts::show)
        .get(
            "/posts/{id}/edit",
            perm(P::ComposePosts),
            pages::compose::edit_form,
        )
        .post(
            "/posts/{id}/edit",
            perm(P::ComposePosts),
            pages::compose::edit_submit,
        )
        .post(
            "/posts/{id}/submit",
            perm(P::ComposePosts),
            pages::posts::submit,
        )
        .post(
            "/posts/{id}/reschedule",
            perm(P::ComposePosts),
            pages::posts::reschedule,
        )
        .post(
            "/posts/{id}/publications/{publication}/delete",
            perm(P::Publish),
            pages::posts::delete_publication,
        )
        .get("/channels", perm(P::ViewPosts), pages::channels::list)
        .post("/channels", perm(P::ManageChannels), pages::channels::add)
        .post(
            "/channels/{id}/connect",
            perm(P::ManageChannels),
            pages::channels::reconnect,
        )
        .post(
            "/channels/{id}/check",
            perm(P::ManageChannels),
            pages::channels::check,
        )
        .post(
            "/channels/{id}/disconnect",
            perm(P::ManageChannels),
            pages::channels::disconnect,
        )
        .get("/calendar", perm(P::ViewPosts), pages::calendar::show)
        .post(
            "/calendar/{post_id}/reschedule",
            perm(P::Publish),
            pages::calendar::reschedule,
        )
        .post("/calendar/pause", perm(P::Publish), pages::calendar::pause)
        .post(
            "/calendar/resume",
            perm(P::Publish),
            pages::calendar::resume,
        )
        .get("/approvals", perm(P::ViewPosts), pages::approvals::queue)
        .get(
            "/approvals/{post_id}",
            perm(P::ViewPosts),
            pages::approvals::review,
        )
        .post(
            "/approvals/{post_id}",
            perm(P::ViewPosts),
            pages::approvals::decide,
        )
        .get(
            "/settings/approvals",
            perm(P::ManageSettings),
            pages::approvals::chains,
        )
        .post(
            "/settings/approvals",
            perm(P::ManageSettings),
            pages::approvals::save_chain,
        )
        .post(
            "/settings/approvals/{id}/delete",
            perm(P::ManageSettings),
            pages::approvals::delete_chain,
        )
        .get("/notifications", SignedIn, pages::notifications::list)
        .get(
            "/notifications/count",
            SignedIn,
            pages::notifications::count,
        )
        .get("/cases", perm(P::ViewCases), pages::sections::cases)
        .get("/archive", perm(P::ViewArchive), pages::archive::list)
        .get(
            "/archive/export.jsonl",
            perm(P::ViewArchive),
            pages::archive::export_jsonl,
        )
        .get("/reports", perm(P::ViewReports), pages::sections::reports)
        .get("/screen", perm(P::ScreenText), pages::sections::screen_form)
        .post(
            "/screen",
            perm(P::ScreenText),
            pages::sections::screen_check,
        )
        .get("/audit", perm(P::ViewAudit), pages::audit::list)
        .get(
            "/audit/export.csv",
            perm(P::ViewAudit),
            pages::audit::export_csv,
        )
        .get(
            "/audit/export.jsonl",
            perm(P::ViewAudit),
            pages::audit::export_jsonl,
        )
        .get("/users", perm(P::ManageUsers), pages::users::list)
        .post("/users/invite", perm(P::ManageUsers), pages::users::invite)
        .post(
            "/users/{id}/role",
            perm(P::ManageUsers),
            pages::users::set_role,
        )
        .post(
            "/users/{id}/disable",
            perm(P::ManageUsers),
            pages::users::disable,
        )
        .post(
            "/users/{id}/enable",
            perm(P::ManageUsers),
            pages::users::enable,
        )
        .post(
            "/users/{id}/reset-mfa",
            perm(P::ManageUsers),
            pages::users::reset_mfa,
        )
        .post(
            "/users/{id}/revoke-sessions",
            perm(P::ManageUsers),
            pages::users::revoke_sessions,
        )
        .get("/settings", perm(P::ManageSettings), pages::settings::show)
        .post("/settings", perm(P::ManageSettings), pages::settings::save)
        .get("/api/v1/openapi.json", Public, api::openapi)
        .get("/api/v1/me", SignedIn, api::me)
        .get("/api/v1/rules", SignedIn, api::rules)
        .post("/api/v1/screen", perm(P::ScreenText), api::screen)
        .get("/api/v1/users", perm(P::ManageUsers), api::users)
        .post("/api/v1/invitations", perm(P::ManageUsers), api::invite)
        .get("/api/v1/audit", perm(P::ViewAudit), api::audit)
        .get("/api/v1/inbox", perm(P::ViewInbox), api::inbox)
        .get("/api/v1/posts", perm(P::ViewPosts), api::posts)
        .get("/api/v1/channels", perm(P::ViewPosts), api::channels)
        .post(
            "/api/v1/channels",
            perm(P::ManageChannels),
            api::connect_channel,
        )
        .post("/api/v1/posts", perm(P::ComposePosts), api::create_post)
        .get("/api/v1/posts/{id}", perm(P::ViewPosts), api::post)
        .put("/api/v1/posts/{id}", perm(P::ComposePosts), api::edit_post)
        .post(
            "/api/v1/posts/{id}/submit",
            perm(P::ComposePosts),
            api::submit_post,
        )
        .post(
            "/api/v1/posts/{id}/schedule",
            perm(P::ComposePosts),
            api::schedule_post,
        )
        .get("/api/v1/publishing", perm(P::ViewPosts), api::publishing)
        .post(
            "/api/v1/publishing/pause",
            perm(P::Publish),
            api::pause_publishing,
        )
        .post(
            "/api/v1/publishing/resume",
            perm(P::Publish),
            api::resume_publishing,
        )
        .get("/api/v1/approvals", perm(P::ViewPosts), api::approvals)
        .post(
            "/api/v1/posts/{id}/decisions",
            perm(P::ViewPosts),
            api::decide,
        )
        .get("/api/v1/calendar", perm(P::ViewPosts), api::calendar)
        .get("/api/v1/archive", perm(P::ViewArchive), api::archive);
    (t.router, t.rules)
}

/// The rule for a request, by method (HEAD counts as GET) and matched path.
pub(crate) fn lookup<'a>(
    rules: &'a [RouteRule],
    method: &axum::http::Method,
    path: &str,
) -> Option<&'a RouteRule> {
    let method = if method == axum::http::Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    rules.iter().find(|r| r.method == method && r.path == path)
}
