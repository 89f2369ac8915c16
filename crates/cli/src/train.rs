//! `rounds train adr`: re-train the adverse-event model from the PsyTAR train split.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Train the ADR model on the shared data and write its weights to `out`.
pub(crate) fn adr(shared: Option<PathBuf>, out: &Path) -> anyhow::Result<()> {
    let shared = crate::eval::shared_folder(shared)?;
    let weights =
        rounds_eval::psytar::train(&shared).with_context(|| format!("training on {} failed", shared.display()))?;
    std::fs::write(out, &weights).with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {} ({} bytes); rebuild to embed it, then run `rounds eval`", out.display(), weights.len());
    Ok(())
}
