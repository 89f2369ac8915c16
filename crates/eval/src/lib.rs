//! Evaluation of the screening engine on labelled data, and training of its small models.
//!
//! The labelled sets are not shipped with Rounds: they are read from a `shared` folder given by
//! `ROUNDS_SHARED` or found beside the workspace. Everything here reads files; the engine itself
//! stays free of I/O.

use std::path::{Path, PathBuf};

pub mod presidio;
pub mod psytar;
pub mod wnut;

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A data file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file is malformed.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The engine could not be built.
    #[error(transparent)]
    Screen(#[from] screen::ScreenError),
}

/// True/false positive and false negative counts, with the usual ratios.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Predicted and labelled.
    pub tp: u64,
    /// Predicted, not labelled.
    pub fp: u64,
    /// Labelled, not predicted.
    pub fn_: u64,
}

impl Counts {
    /// tp / (tp + fp), or 0 when nothing was predicted.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// tp / (tp + fn), or 0 when nothing was labelled.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Add another set of counts.
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One row of the accuracy table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Data set and split, e.g. `presidio-synthetic`.
    pub dataset: String,
    /// What is measured, e.g. `PHI tokens (type-blind)`.
    pub task: String,
    /// The counts.
    pub counts: Counts,
    /// Target F1 and recall, if the project set one.
    pub target: Option<Target>,
    /// Regression floor where it sits under the target (a score below it means a change made
    /// things worse); `None`: the target is the floor.
    pub floor: Option<Target>,
    /// Only recall is meaningful (a per-type breakdown of a type-blind score): print no precision.
    pub recall_only: bool,
}

/// A goal for a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Minimum F1.
    pub f1: f64,
    /// Minimum recall, if any.
    pub recall: Option<f64>,
}

impl Row {
    /// True when the row has a target and meets it.
    pub fn meets_target(&self) -> Option<bool> {
        self.target.map(|t| self.meets(t))
    }

    /// True when the row has a floor (its own, else its target) and stays at or above it.
    pub fn above_floor(&self) -> Option<bool> {
        self.floor.or(self.target).map(|t| self.meets(t))
    }

    fn meets(&self, t: Target) -> bool {
        self.counts.f1() >= t.f1 && t.recall.is_none_or(|r| self.counts.recall() >= r)
    }
}

/// The `shared` data folder: `$ROUNDS_SHARED`, else `../shared` from the workspace root or the
/// current directory. `None` when it cannot be found.
pub fn shared_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROUNDS_SHARED") {
        return Some(PathBuf::from(p));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let candidates = [
        PathBuf::from("../shared"),
        PathBuf::from("shared"),
        workspace,
    ];
    candidates.into_iter().find(|p| p.join("data").is_dir())
}

/// Read a whole file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Every accuracy row Rounds reports, for every labelled set found under `shared`.
pub fn evaluate_all(shared: &Path, screener: &screen::Screener) -> Result<Vec<Row>, EvalError> {
    let mut rows = presidio::evaluate(shared, screener)?;
    rows.extend(wnut::evaluate(shared, screener)?);
    rows.extend(psytar::evaluate(shared, screener)?);
    Ok(rows)
}
