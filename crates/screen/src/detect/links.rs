//! Placeholder until the links rules land.

use crate::policy::Policy;
use crate::rules::RuleInfo;
use crate::ScreenError;

use super::{Ctx, Sink};

/// The links rules.
pub(crate) const RULES: &[RuleInfo] = &[];

/// The compiled links detector.
pub(crate) struct Detector;

impl Detector {
    /// Compile for `policy`.
    pub fn new(_policy: &Policy) -> Result<Self, ScreenError> {
        Ok(Detector)
    }

    /// Append hits for one message.
    pub fn run(&self, _cx: &Ctx<'_, '_>, _sink: &mut Sink) {}
}
