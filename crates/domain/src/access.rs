//! Roles and permissions, defined once as data.
//!
//! The server asks [`Role::can`] before every route and API call; a test walks every route × every
//! role against [`MATRIX`], so a route without a rule cannot ship.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A job in the social media team; every user has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the workspace: users, settings, channels, everything else.
    Admin,
    /// Owns the accounts: composes, schedules and publishes, answers the inbox.
    SocialManager,
    /// Answers the inbox and drafts posts for approval.
    Responder,
    /// Legal / Regulatory: signs off promotional and sensitive posts, places legal holds.
    LegalReviewer,
    /// Medical / drug safety: signs off medical claims, works adverse-event cases.
    MedicalReviewer,
    /// Privacy (HIPAA) officer: signs off anything touching patients, reads the audit log.
    PrivacyOfficer,
    /// IT / Security: users, sessions, MFA resets and the audit log.
    SecurityOfficer,
    /// Read-only access to posts, inbox and reports.
    Viewer,
}

impl Role {
    /// Every role, in the order the UI lists them.
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::SocialManager,
        Role::Responder,
        Role::LegalReviewer,
        Role::MedicalReviewer,
        Role::PrivacyOfficer,
        Role::SecurityOfficer,
        Role::Viewer,
    ];

    /// The stable identifier stored in the database and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SocialManager => "social_manager",
            Role::Responder => "responder",
            Role::LegalReviewer => "legal_reviewer",
            Role::MedicalReviewer => "medical_reviewer",
            Role::PrivacyOfficer => "privacy_officer",
            Role::SecurityOfficer => "security_officer",
            Role::Viewer => "viewer",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::SocialManager => "Social Manager",
            Role::Responder => "Responder",
            Role::LegalReviewer => "Legal/Regulatory reviewer",
            Role::MedicalReviewer => "Medical reviewer",
            Role::PrivacyOfficer => "Privacy Officer",
            Role::SecurityOfficer => "Security Officer",
            Role::Viewer => "Viewer",
        }
    }

    /// Whether this role may perform `permission` (looked up in [`MATRIX`]).
    pub fn can(self, permission: Permission) -> bool {
        MATRIX
            .iter()
            .any(|(p, roles)| *p == permission && roles.contains(&self))
    }

    /// Every permission this role holds, in [`Permission::ALL`] order.
    pub fn permissions(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.can(*p))
    }

    /// Roles that can publish, approve or administer must use a second factor: a stolen password
    /// alone must never be enough to put words in the organization's mouth.
    pub fn requires_mfa(self) -> bool {
        [
            Permission::Publish,
            Permission::ApproveLegal,
            Permission::ApproveMedical,
            Permission::ApprovePrivacy,
            Permission::ManageUsers,
            Permission::ManageSettings,
        ]
        .into_iter()
        .any(|p| self.can(p))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role identifier that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?} (expected one of: admin, social_manager, responder, legal_reviewer, medical_reviewer, privacy_officer, security_officer, viewer)"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Something a signed-in user may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read the inbox of comments, mentions and messages.
    ViewInbox,
    /// Reply to, hide or assign inbox items.
    RespondInbox,
    /// Read drafts, the calendar and approval queues.
    ViewPosts,
    /// Write drafts and submit them for approval.
    ComposePosts,
    /// Schedule and publish approved posts.
    Publish,
    /// Sign off as Legal/Regulatory.
    ApproveLegal,
    /// Sign off as Medical.
    ApproveMedical,
    /// Sign off as Privacy.
    ApprovePrivacy,
    /// Read adverse-event and crisis cases.
    ViewCases,
    /// Work cases: assign, report, close.
    ManageCases,
    /// Search the archive and export it.
    ViewArchive,
    /// Place and lift legal holds.
    ManageLegalHold,
    /// Read reports and dashboards.
    ViewReports,
    /// Read and export the audit log.
    ViewAudit,
    /// Invite, disable and change the role of users; reset their MFA.
    ManageUsers,
    /// Change organization settings and the screening policy.
    ManageSettings,
    /// Connect and disconnect social accounts.
    ManageChannels,
    /// Run text through the screening engine.
    ScreenText,
}

impl Permission {
    /// Every permission, in the order the UI lists them.
    pub const ALL: [Permission; 18] = [
        Permission::ViewInbox,
        Permission::RespondInbox,
        Permission::ViewPosts,
        Permission::ComposePosts,
        Permission::Publish,
        Permission::ApproveLegal,
        Permission::ApproveMedical,
        Permission::ApprovePrivacy,
        Permission::ViewCases,
        Permission::ManageCases,
        Permission::ViewArchive,
        Permission::ManageLegalHold,
        Permission::ViewReports,
        Permission::ViewAudit,
        Permission::ManageUsers,
        Permission::ManageSettings,
        Permission::ManageChannels,
        Permission::ScreenText,
    ];

    /// The stable identifier used by the API and in audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewInbox => "view_inbox",
            Permission::RespondInbox => "respond_inbox",
            Permission::ViewPosts => "view_posts",
            Permission::ComposePosts => "compose_posts",
            Permission::Publish => "publish",
            Permission::ApproveLegal => "approve_legal",
            Permission::ApproveMedical => "approve_medical",
            Permission::ApprovePrivacy => "approve_privacy",
            Permission::ViewCases => "view_cases",
            Permission::ManageCases => "manage_cases",
            Permission::ViewArchive => "view_archive",
            Permission::ManageLegalHold => "manage_legal_hold",
            Permission::ViewReports => "view_reports",
            Permission::ViewAudit => "view_audit",
            Permission::ManageUsers => "manage_users",
            Permission::ManageSettings => "manage_settings",
            Permission::ManageChannels => "manage_channels",
            Permission::ScreenText => "screen_text",
        }
    }

    /// What the permission allows, in words for the Settings page.
    pub fn label(self) -> &'static str {
        match self {
            Permission::ViewInbox => "Read the inbox",
            Permission::RespondInbox => "Reply to, hide and assign inbox items",
            Permission::ViewPosts => "Read drafts, calendar and approvals",
            Permission::ComposePosts => "Write drafts and submit them",
            Permission::Publish => "Schedule and publish approved posts",
            Permission::ApproveLegal => "Approve as Legal/Regulatory",
            Permission::ApproveMedical => "Approve as Medical",
            Permission::ApprovePrivacy => "Approve as Privacy",
            Permission::ViewCases => "Read adverse-event and crisis cases",
            Permission::ManageCases => "Work cases",
            Permission::ViewArchive => "Search and export the archive",
            Permission::ManageLegalHold => "Place and lift legal holds",
            Permission::ViewReports => "Read reports",
            Permission::ViewAudit => "Read and export the audit log",
            Permission::ManageUsers => "Manage users, roles and MFA resets",
            Permission::ManageSettings => "Change settings and the screening policy",
            Permission::ManageChannels => "Connect social accounts",
            Permission::ScreenText => "Screen text",
        }
    }
}

use Permission as P;
use Role as R;

/// Who may do what: one row per permission, listing the roles that hold it.
pub const MATRIX: &[(Permission, &[Role])] = &[
    (
        P::ViewInbox,
        &[
            R::Admin,
            R::SocialManager,
            R::Responder,
            R::LegalReviewer,
            R::MedicalReviewer,
            R::PrivacyOfficer,
            R::Viewer,
        ],
    ),
    (P::RespondInbox, &[R::Admin, R::SocialManager, R::Responder]),
    (
        P::ViewPosts,
        &[
            R::Admin,
            R::SocialManager,
            R::Responder,
            R::LegalReviewer,
            R::MedicalReviewer,
            R::PrivacyOfficer,
            R::Viewer,
        ],
    ),
    (P::ComposePosts, &[R::Admin, R::SocialManager, R::Responder]),
    (P::Publish, &[R::Admin, R::SocialManager]),
    (P::ApproveLegal, &[R::Admin, R::LegalReviewer]),
    (P::ApproveMedical, &[R::Admin, R::MedicalReviewer]),
    (P::ApprovePrivacy, &[R::Admin, R::PrivacyOfficer]),
    (
        P::ViewCases,
        &[
            R::Admin,
            R::SocialManager,
            R::Responder,
            R::LegalReviewer,
            R::MedicalReviewer,
            R::PrivacyOfficer,
        ],
    ),
    (
        P::ManageCases,
        &[R::Admin, R::MedicalReviewer, R::LegalReviewer],
    ),
    (
        P::ViewArchive,
        &[
            R::Admin,
            R::SocialManager,
            R::LegalReviewer,
            R::PrivacyOfficer,
        ],
    ),
    (P::ManageLegalHold, &[R::Admin, R::LegalReviewer]),
    (
        P::ViewReports,
        &[
            R::Admin,
            R::SocialManager,
            R::LegalReviewer,
            R::MedicalReviewer,
            R::PrivacyOfficer,
            R::SecurityOfficer,
            R::Viewer,
        ],
    ),
    (
        P::ViewAudit,
        &[
            R::Admin,
            R::LegalReviewer,
            R::PrivacyOfficer,
            R::SecurityOfficer,
        ],
    ),
    (P::ManageUsers, &[R::Admin, R::SecurityOfficer]),
    (P::ManageSettings, &[R::Admin]),
    (P::ManageChannels, &[R::Admin, R::SocialManager]),
    (
        P::ScreenText,
        &[
            R::Admin,
            R::SocialManager,
            R::Responder,
            R::LegalReviewer,
            R::MedicalReviewer,
            R::PrivacyOfficer,
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_exactly_one_row() {
        for p in Permission::ALL {
            assert_eq!(MATRIX.iter().filter(|(q, _)| *q == p).count(), 1, "{p:?}");
        }
        assert_eq!(MATRIX.len(), Permission::ALL.len());
    }

    #[test]
    fn admin_holds_everything_and_viewer_changes_nothing() {
        assert!(Permission::ALL.iter().all(|p| Role::Admin.can(*p)));
        for p in [
            P::RespondInbox,
            P::ComposePosts,
            P::Publish,
            P::ManageUsers,
            P::ManageSettings,
            P::ViewAudit,
        ] {
            assert!(!Role::Viewer.can(p), "{p:?}");
        }
    }

    #[test]
    fn publishers_and_approvers_need_mfa() {
        for r in Role::ALL {
            let expected = matches!(
                r,
                R::Admin
                    | R::SocialManager
                    | R::LegalReviewer
                    | R::MedicalReviewer
                    | R::PrivacyOfficer
                    | R::SecurityOfficer
            );
            assert_eq!(r.requires_mfa(), expected, "{r:?}");
        }
    }

    #[test]
    fn role_ids_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
