//! Pure types of the Rounds platform, shared by the store, the server and the CLI.
//!
//! Nothing here does I/O: roles and what each may do ([`access`]), the audit event and its hash
//! chain ([`audit`]), the validated inputs every entry point checks the same way ([`input`]), the
//! rules of a post's life and its approval chain ([`publishing`]), and uploaded images stripped of
//! their metadata ([`media`]).

pub mod access;
pub mod audit;
pub mod input;
pub mod media;
pub mod publishing;
pub mod secret;

pub use access::{Permission, Role};
pub use audit::{AuditAction, AuditRecord, CSV_HEADER, ChainBreak, GENESIS_HASH};
pub use input::{Email, InputError, OrgKind};
pub use publishing::{
    ApprovalChain, ChainProgress, ChainStep, Decision, DecisionKind, DecisionRefused, PostEvent,
    PostStatus, StepMode, TransitionError,
};
