//! The bytes of a webhook: ASCII-only JSON, signed.
//!
//! Why ASCII: Meta escapes every non-ASCII UTF-16 unit as a lowercase `\uXXXX` (an emoji as a
//! surrogate pair) and signs those bytes. Clients that verify the signature over a
//! re-serialisation of the parsed body (whatsapp-api-js) only agree with a sender that
//! escapes exactly this way, so anything else fails their check.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::io;

/// serde_json's compact output with every non-ASCII character escaped.
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(writer, "\\u{:04x}", u)?;
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// `value` as ASCII-only compact JSON.
pub fn ascii_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    // Serialising a `serde_json::Value` or plain structs cannot fail; an empty body would
    // fail the receiver's parse loudly rather than send something wrong.
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

/// `sha256=<hex HMAC-SHA256(app secret, body)>`, the `X-Hub-Signature-256` header.
pub fn signature(app_secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256=");
    for b in tag {
        s.push(char::from(b"0123456789abcdef"[(b >> 4) as usize]));
        s.push(char::from(b"0123456789abcdef"[(b & 15) as usize]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn non_ascii_is_escaped_lowercase_with_surrogate_pairs() {
        let v = json!({"body": "Olá, café 👍 \"q\"\n", "n": 1});
        let s = ascii_json(&v);
        assert_eq!(
            s,
            r#"{"body":"Ol\u00e1, caf\u00e9 \ud83d\udc4d \"q\"\n","n":1}"#
        );
        assert!(s.is_ascii());
        // It parses back to the same value.
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).unwrap(), v);
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
