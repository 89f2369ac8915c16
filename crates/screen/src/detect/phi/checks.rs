//! Check digits and range rules that turn "looks like an id" into "is an id": Luhn for cards and
//! NPIs, mod-97 for IBANs, SSA ranges for SSNs, the DEA checksum and the VIN check digit.

/// Luhn check over ASCII digits (payment cards, NPI); false for fewer than two digits.
pub(super) fn luhn(digits: &[u8]) -> bool {
    if digits.len() < 2 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// IBAN mod-97 check over the compact (no spaces) form, any letter case.
pub(super) fn iban(compact: &[u8]) -> bool {
    if !(15..=34).contains(&compact.len()) || !compact.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem = 0u32;
    for &c in tail.iter().chain(head) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c.to_ascii_uppercase() - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// The SSA never issues area 000, 666 or 9xx, group 00 or serial 0000.
pub(super) fn ssn(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    area != b"000"
        && area != b"666"
        && area.first() != Some(&b'9')
        && group != b"00"
        && serial != b"0000"
}

/// DEA registration number: two letters and seven digits whose last digit is
/// `(d1 + d3 + d5 + 2 * (d2 + d4 + d6)) mod 10`.
pub(super) fn dea(id: &[u8]) -> bool {
    let [a, b, digits @ ..] = id else {
        return false;
    };
    if !a.is_ascii_alphabetic() || !(b.is_ascii_alphabetic() || *b == b'9') || digits.len() != 7 {
        return false;
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = digits.iter().map(|c| u32::from(c - b'0')).collect();
    (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]
}

/// NPI: ten digits starting with 1 or 2, Luhn-valid once prefixed with the card issuer code 80840.
pub(super) fn npi(digits: &[u8]) -> bool {
    if digits.len() != 10 || !matches!(digits.first(), Some(b'1' | b'2')) {
        return false;
    }
    let mut full = *b"80840__________";
    full[5..].copy_from_slice(digits);
    luhn(&full)
}

/// VIN (17 characters, no I, O or Q) with a valid check digit in position 9.
pub(super) fn vin(id: &[u8]) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    if id.len() != 17 {
        return false;
    }
    let mut sum = 0u32;
    for (c, w) in id.iter().zip(WEIGHTS) {
        let v = match c.to_ascii_uppercase() {
            d @ b'0'..=b'9' => u32::from(d - b'0'),
            b'A' | b'J' => 1,
            b'B' | b'K' | b'S' => 2,
            b'C' | b'L' | b'T' => 3,
            b'D' | b'M' | b'U' => 4,
            b'E' | b'N' | b'V' => 5,
            b'F' | b'W' => 6,
            b'G' | b'P' | b'X' => 7,
            b'H' | b'Y' => 8,
            b'R' | b'Z' => 9,
            _ => return false,
        };
        sum += v * w;
    }
    let check = match sum % 11 {
        10 => b'X',
        r => b'0' + r as u8,
    };
    id.get(8).map(u8::to_ascii_uppercase) == Some(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_typos() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"4532574406474406"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b"4"));
    }

    #[test]
    fn iban_mod97() {
        assert!(iban(b"GB82WEST12345698765432"));
        assert!(iban(b"gb75rkjd46049068875686"));
        assert!(!iban(b"GB82WEST12345698765433"));
        assert!(!iban(b"GB82"));
    }

    #[test]
    fn ssn_ranges() {
        assert!(ssn(b"364", b"21", b"3719"));
        assert!(!ssn(b"000", b"21", b"3719"));
        assert!(!ssn(b"666", b"21", b"3719"));
        assert!(!ssn(b"912", b"21", b"3719"));
        assert!(!ssn(b"364", b"00", b"3719"));
        assert!(!ssn(b"364", b"21", b"0000"));
    }

    #[test]
    fn dea_npi_vin_check_digits() {
        assert!(dea(b"AB1234563"));
        assert!(!dea(b"AB1234567"));
        assert!(npi(b"1234567893"));
        assert!(!npi(b"1234567890"));
        assert!(vin(b"1M8GDM9AXKP042788"));
        assert!(vin(b"11111111111111111"));
        assert!(!vin(b"1M8GDM9A1KP042788"));
    }
}
