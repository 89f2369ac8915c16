//! A small hashed-feature token classifier that finds names and places the rules in `names.rs` miss:
//! foreign first names outside the Census lists, surnames in lists, towns known only from their
//! context ("Tomomi is from Zuoz"). It scores only capitalized (or, in
//! lower-case text, unknown) tokens the rules left alone, from features of the token and its
//! neighbours: lexicon membership, shape, suffix, and the identity of ordinary context words (never
//! of the candidate name itself, so it cannot memorise the names it was trained on).
//!
//! Weights are trained offline by `rounds_eval::wnut::train_names` (averaged perceptron on WNUT-17
//! train and the even templates of presidio-synthetic) and embedded as `models/names.bin`.

/// Hashed feature buckets.
pub const BUCKETS: usize = 1 << 15;

/// Classes: not a name or place, person, place.
pub const LABELS: usize = 3;

const MAGIC: &[u8; 4] = b"RNM1";

/// Bits of a packed row that hold one class's weight: a biased weight is below 2^16, so that
/// [`PACKED_MAX`] of them sum to below 2^21 and three classes fit in one `u64`.
const LANE_BITS: u32 = 21;

/// Added to each weight in a packed row, so that a lane never goes below zero and adding rows
/// never borrows from the next lane.
const WEIGHT_BIAS: u64 = 1 << 15;

/// How many packed rows can be summed before a lane could carry into the next: a token has
/// fewer features than this (see `MAX_FEATURES` in `names.rs`), so its rows are summed in one
/// `u64` with no check on the way.
pub(crate) const PACKED_MAX: u32 = 1 << (LANE_BITS - 16);

/// The packed row of a feature without weight (what a bucket outside the table would add).
const ZERO_ROW: u64 = WEIGHT_BIAS | WEIGHT_BIAS << LANE_BITS | WEIGHT_BIAS << (2 * LANE_BITS);

/// The weight of class `k` in a sum of at most [`PACKED_MAX`] packed rows, offset by the number of
/// rows times [`WEIGHT_BIAS`]: the offset is the same in every class, so differences between
/// classes are exact.
fn lane(sum: u64, k: u32) -> i64 {
    ((sum >> (LANE_BITS * k)) & ((1u64 << LANE_BITS) - 1)) as i64
}

/// The embedded weights, one packed row per bucket (`LABELS` biased i16 weights in lanes of
/// [`LANE_BITS`]), and the factor that turns weights back into floats.
pub(crate) struct Model {
    /// Fixed length, so that a bucket index needs no bounds check.
    rows: Box<[u64; BUCKETS]>,
    scale: f32,
}

/// A class the model predicts for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// A person's name.
    Person,
    /// A place.
    Place,
}

impl Model {
    /// Read the embedded model; `None` when the bytes are empty or not a model of this shape.
    pub fn parse(bytes: &[u8]) -> Option<Model> {
        let rest = bytes.strip_prefix(MAGIC)?;
        let (scale, rest) = rest.split_at_checked(4)?;
        let scale = f32::from_le_bytes(scale.try_into().ok()?);
        if rest.len() != BUCKETS * LABELS * 2 || !(scale.is_finite() && scale > 0.0) {
            return None;
        }
        let rows: Vec<u64> = rest
            .chunks_exact(2 * LABELS)
            .map(|row| {
                row.chunks_exact(2)
                    .zip(0..)
                    .fold(0u64, |packed, (w, k): (&[u8], u32)| {
                        let w = w.try_into().map_or(0, i16::from_le_bytes);
                        let biased = (i64::from(w) + WEIGHT_BIAS as i64) as u64;
                        packed | biased << (LANE_BITS * k)
                    })
            })
            .collect();
        Some(Model {
            rows: rows.into_boxed_slice().try_into().ok()?,
            scale,
        })
    }

    /// The packed row of feature `f`: summed with `+` over at most [`PACKED_MAX`] features.
    #[inline]
    pub fn row(&self, f: u32) -> u64 {
        self.rows
            .get(f as usize % BUCKETS)
            .copied()
            .unwrap_or(ZERO_ROW)
    }

    /// The predicted class of a token whose features' rows add up to `sum`, when its margin over
    /// "neither" beats `min`.
    pub fn decide(&self, sum: u64, min: f32) -> Option<Label> {
        let [none, person, place] = [0, 1, 2].map(|k| lane(sum, k));
        let (label, best) = if person >= place {
            (Label::Person, person)
        } else {
            (Label::Place, place)
        };
        let margin = (best - none) as f32 / self.scale;
        (margin > min).then_some(label)
    }
}

/// Serialize float weights (`LABELS` per bucket, bucket-major) into the embedded format.
pub fn encode(weights: &[f32]) -> Vec<u8> {
    let max = weights
        .iter()
        .fold(0f32, |m, w| m.max(w.abs()))
        .max(f32::MIN_POSITIVE);
    let scale = f32::from(i16::MAX) / max;
    let mut out = Vec::with_capacity(8 + weights.len() * 2);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&scale.to_le_bytes());
    for w in weights {
        out.extend_from_slice(&((w * scale).round() as i16).to_le_bytes());
    }
    out
}

/// What the evaluation crate needs to train the model.
pub mod training {
    pub use super::{BUCKETS, LABELS, encode};
    pub use crate::detect::names::{NameCandidate, NameFeaturizer};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_junk() {
        let mut w = vec![0f32; BUCKETS * LABELS];
        w[7 * LABELS + 1] = 2.0;
        let m = Model::parse(&encode(&w)).expect("encoded model parses");
        let predict = |f: u32| m.decide(m.row(f), 0.5);
        assert_eq!(predict(7), Some(Label::Person));
        assert_eq!(predict(8), None);
        assert_eq!(predict(7 + BUCKETS as u32), Some(Label::Person));
        assert!(Model::parse(b"RNM1").is_none());
        assert!(Model::parse(&[]).is_none());
    }

    #[test]
    fn packed_sums_are_exact_up_to_the_packing_limit() {
        // Extreme weights in every class, as many features as one packed sum holds.
        let mut w = vec![0f32; BUCKETS * LABELS];
        w[..3].copy_from_slice(&[-1.0, 1.0, -1.0]);
        w[3..6].copy_from_slice(&[1.0, -1.0, 0.5]);
        let m = Model::parse(&encode(&w)).expect("encoded model parses");
        let max = i64::from(i16::MAX);
        let half = (0.5f32 * f32::from(i16::MAX)).round() as i64;
        for n in 0..=PACKED_MAX as usize {
            let sum = (0..n).map(|k| m.row((k % 2) as u32)).sum::<u64>();
            let (lo, hi) = (n.div_ceil(2) as i64, (n / 2) as i64);
            let want = [
                -max * lo + max * hi,
                max * lo - max * hi,
                -max * lo + half * hi,
            ];
            let offset = n as i64 * WEIGHT_BIAS as i64;
            assert_eq!(
                [0, 1, 2].map(|k| lane(sum, k) - offset),
                want,
                "{n} features"
            );
        }
    }
}
