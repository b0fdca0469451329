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

/// A message id with the structure of Meta's (decoded from public examples): `wamid.` +
/// base64 of a small Thrift-compact struct holding the user's number and a hex id. Clients
/// treat it as opaque; the structure is only realism.
pub fn wamid(wa_id: &str, business_sent: bool) -> String {
    let hex = secret(if business_sent { 18 } else { 20 }).to_ascii_uppercase();
    let mut b = vec![0x1c, 0x18, wa_id.len() as u8];
    b.extend_from_slice(wa_id.as_bytes());
    b.extend_from_slice(&[
        0x15,
        0x02,
        0x00,
        if business_sent { 0x11 } else { 0x12 },
        0x18,
        hex.len() as u8,
    ]);
    b.extend_from_slice(hex.as_bytes());
    b.push(0x00);
    format!(
        "wamid.{}",
        base64::engine::general_purpose::STANDARD.encode(b)
    )
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
        let id = wamid("16505551234", true);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(id.trim_start_matches("wamid."))
            .unwrap();
        assert_eq!(&raw[3..14], b"16505551234");
        assert_ne!(wamid("16505551234", true), id);
        assert_eq!(object_id().len(), 15);
    }
}
