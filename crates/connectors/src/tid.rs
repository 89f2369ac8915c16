//! AT Protocol record keys (TIDs) derived from an idempotency key.
//!
//! A TID is a 64-bit integer (top bit 0, then 53 bits of microseconds, then a 10-bit clock id)
//! written as 13 characters of the base32-sortable alphabet. Deriving it from the idempotency key
//! instead of the clock makes the record's address known before it is written: a retried
//! `createRecord` lands on the same key and cannot make a second post, and "was it published?" is
//! one `getRecord`.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The record key Rounds uses for the post with this idempotency key.
pub fn tid_for_key(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 63 bits of the hash: 53 become the timestamp, 10 the clock id; the top bit stays 0.
    encode(u64::from_be_bytes(first) >> 1)
}

fn encode(mut value: u64) -> String {
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// Whether `s` has the syntax the AT Protocol requires of a TID.
#[cfg(test)]
fn is_valid_tid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13 && b"234567abcdefghij".contains(&b[0]) && b.iter().all(|c| ALPHABET.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_tids_are_valid_and_deterministic() {
        for key in ["", "post-1/channel-2", "ünïcode ✓", &"x".repeat(10_000)] {
            let tid = tid_for_key(key);
            assert!(is_valid_tid(&tid), "{tid}");
            assert_eq!(tid, tid_for_key(key));
        }
        assert_ne!(
            tid_for_key("post-1/channel-2"),
            tid_for_key("post-1/channel-3")
        );
        let all: std::collections::HashSet<String> =
            (0..2000).map(|i| tid_for_key(&format!("k{i}"))).collect();
        assert_eq!(all.len(), 2000);
    }

    #[test]
    fn encoding_matches_the_spec_examples() {
        assert_eq!(encode(0), "2222222222222");
        // The largest TID: top bit clear, every other bit set (13 × 5 bits hold 65, the first two are 0).
        assert_eq!(encode(u64::MAX >> 1), "bzzzzzzzzzzzz");
        // The example TID in the AT Protocol record-key specification.
        assert_eq!(encode((1_688_137_381_887_007 << 10) | 6), "3jzfcijpj2z2a");
        assert!(!is_valid_tid("kzzzzzzzzzzzz"));
        assert!(!is_valid_tid("3jzfcijpj222"));
        assert!(!is_valid_tid("3jzfcijpj2221"));
    }
}
