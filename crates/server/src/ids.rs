//! Identifiers as Graph writes them: numeric strings for objects, `wamid.` + base64 for
//! messages, opaque secrets for tokens.

use base64::Engine as _;
use rand::Rng;

/// A 15-digit numeric id, like Graph's object ids.
pub fn object_id() -> String {
    let n: u64 = rand::rng().random_range(100_000_000_000_000..1_000_000_000_000_000);
    n.to_string()
}

/// A random secret of `len` hex characters.
pub fn secret(len: usize) -> String {
    let mut r = rand::rng();
    (0..len)
        .map(|_| char::from(b"0123456789abcdef"[r.random_range(0..16)]))
        .collect()
}

/// An access token shaped like Meta's (`EAA…`).
pub fn access_token() -> String {
    format!("EAAopenwaba{}", secret(48))
}

/// Odd, so multiplying by it is a bijection on `u64`: sequence numbers look random in ids
/// yet decode back exactly.
const SCRAMBLE: u64 = 0x9E37_79B9_7F4A_7C15;
const SCRAMBLE_XOR: u64 = 0x2545_F491_4F6C_DD1D;
/// The inverse of `SCRAMBLE` modulo 2^64 (Newton's iteration doubles the correct bits).
const UNSCRAMBLE: u64 = {
    let mut inv = SCRAMBLE;
    let mut i = 0;
    while i < 6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(SCRAMBLE.wrapping_mul(inv)));
        i += 1;
    }
    inv
};

/// A message id with the structure of Meta's (decoded from public examples): `wamid.` +
/// base64 of a small Thrift-compact struct holding the user's number and a hex id. Clients
/// treat it as opaque. Ours hides the store's sequence number in the hex id, so a message is
/// found by its primary key ([`wamid_seq`]) and the table needs no index on random text.
pub fn wamid(wa_id: &str, business_sent: bool, seq: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let scrambled = (seq ^ SCRAMBLE_XOR).wrapping_mul(SCRAMBLE);
    // Meta's hex ids are 18 characters for messages a business sent, 20 for a user's.
    let filler = if business_sent { 2 } else { 4 };
    // On the stack: a user's number is at most 15 digits, so the struct is ~45 bytes.
    let mut b = smallvec::SmallVec::<[u8; 64]>::new();
    b.extend_from_slice(&[0x1c, 0x18, wa_id.len() as u8]);
    b.extend_from_slice(wa_id.as_bytes());
    b.extend_from_slice(&[
        0x15,
        0x02,
        0x00,
        if business_sent { 0x11 } else { 0x12 },
        0x18,
        16 + filler as u8,
    ]);
    // The scrambled sequence number as 16 upper-case hex digits, then random filler.
    b.extend(
        (0..16)
            .rev()
            .map(|i| HEX[((scrambled >> (i * 4)) & 0xF) as usize]),
    );
    let mut r = rand::rng();
    b.extend((0..filler).map(|_| HEX[r.random_range(0..16)]));
    b.push(0x00);
    let mut id = String::with_capacity(6 + b.len().div_ceil(3) * 4);
    id.push_str("wamid.");
    base64::engine::general_purpose::STANDARD.encode_string(&b, &mut id);
    id
}

/// The sequence number an id made by [`wamid`] carries; `None` for anything else.
pub fn wamid_seq(id: &str) -> Option<u64> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(id.strip_prefix("wamid.")?)
        .ok()?;
    let (&len, rest) = raw.get(2..)?.split_first()?;
    let rest = rest.get(len as usize..)?;
    let hex = rest.get(6..6 + 16)?;
    let n = u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
    Some(n.wrapping_mul(UNSCRAMBLE) ^ SCRAMBLE_XOR)
}

/// A trace id for error bodies.
pub fn fbtrace_id() -> String {
    let mut r = rand::rng();
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..23)
        .map(|_| char::from(A[r.random_range(0..A.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamid_decodes_to_the_number() {
        let id = wamid("16505551234", true, 7);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(id.trim_start_matches("wamid."))
            .unwrap();
        assert_eq!(&raw[3..14], b"16505551234");
        assert_eq!(raw[19], 18, "18 hex characters for a business-sent id");
        // Meta's hex ids are upper case.
        assert!(
            raw[20..38].iter().all(|b| b"0123456789ABCDEF".contains(b)),
            "{:?}",
            &raw[20..38]
        );
        assert_eq!(raw[38], 0x00);
        let user = base64::engine::general_purpose::STANDARD
            .decode(wamid("16505551234", false, 7).trim_start_matches("wamid."))
            .unwrap();
        assert_eq!(user[19], 20, "20 hex characters for a user's id");
        assert_eq!(user.len(), 20 + 20 + 1);
        assert_ne!(wamid("16505551234", true, 8), id);
        assert_eq!(object_id().len(), 15);
    }

    #[test]
    fn wamid_carries_its_sequence_number() {
        for seq in [0, 1, 2, 41, 1 << 40, u64::MAX] {
            assert_eq!(wamid_seq(&wamid("5511987650001", true, seq)), Some(seq));
            assert_eq!(wamid_seq(&wamid("1", false, seq)), Some(seq));
        }
        // Consecutive sequence numbers do not look consecutive.
        assert_ne!(wamid("1", true, 1)[..30], wamid("1", true, 2)[..30]);
        for bad in [
            "",
            "wamid.",
            "wamid.!!",
            "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI",
            "abc",
        ] {
            assert_eq!(wamid_seq(bad), None, "{bad}");
        }
    }
}
