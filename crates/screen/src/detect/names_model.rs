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

/// Class scores of one token, summed over its features: one per class, and a fourth that stays 0
/// so that a row is four lanes wide (one load and one vector add per feature).
pub(crate) type Scores = [i32; 4];

/// The embedded weights: `LABELS` i16 per bucket, and the factor that turns them back into floats.
pub(crate) struct Model {
    /// One row per bucket, padded with a zero to four lanes, so that a feature costs one bounds
    /// check, one load and one add.
    weights: Vec<[i16; 4]>,
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
        let weights = rest
            .chunks_exact(2 * LABELS)
            .map(|row| {
                std::array::from_fn(|k| {
                    row.get(2 * k..2 * k + 2)
                        .map_or(0, |w| i16::from_le_bytes([w[0], w[1]]))
                })
            })
            .collect();
        Some(Model { weights, scale })
    }

    /// Add the weights of feature `f` to the scores of a token.
    #[inline]
    pub fn add(&self, s: &mut Scores, f: u32) {
        if let Some(row) = self.weights.get(f as usize % BUCKETS) {
            for (acc, &w) in s.iter_mut().zip(row) {
                *acc += i32::from(w);
            }
        }
    }

    /// The predicted class of a token with summed scores `s`, when its margin over "neither"
    /// beats `min`.
    pub fn decide(&self, s: Scores, min: f32) -> Option<Label> {
        let (label, best) = if s[1] >= s[2] {
            (Label::Person, s[1])
        } else {
            (Label::Place, s[2])
        };
        let margin = (best - s[0]) as f32 / self.scale;
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
        let predict = |f: u32| {
            let mut s = Scores::default();
            m.add(&mut s, f);
            m.decide(s, 0.5)
        };
        assert_eq!(predict(7), Some(Label::Person));
        assert_eq!(predict(8), None);
        assert_eq!(predict(7 + BUCKETS as u32), Some(Label::Person));
        assert!(Model::parse(b"RNM1").is_none());
        assert!(Model::parse(&[]).is_none());
    }
}
