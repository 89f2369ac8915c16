//! `rounds train adr|names`: re-train the engine's small models from the shared data.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Train the ADR model on the shared data and write its weights to `out`.
pub(crate) fn adr(shared: Option<PathBuf>, out: &Path) -> anyhow::Result<()> {
    write(shared, out, rounds_eval::psytar::train)
}

/// Train the person-name token model on the shared data and write its weights to `out`.
pub(crate) fn names(shared: Option<PathBuf>, out: &Path) -> anyhow::Result<()> {
    write(shared, out, rounds_eval::wnut::train_names)
}

fn write(
    shared: Option<PathBuf>,
    out: &Path,
    train: impl Fn(&Path) -> Result<Vec<u8>, rounds_eval::EvalError>,
) -> anyhow::Result<()> {
    let shared = crate::eval::shared_folder(shared)?;
    let weights =
        train(&shared).with_context(|| format!("training on {} failed", shared.display()))?;
    std::fs::write(out, &weights).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} ({} bytes); rebuild to embed it, then run `rounds eval`",
        out.display(),
        weights.len()
    );
    Ok(())
}
