//! Digests the server and laptops agree on: an event's canonical JSON hashed, and hex.

use sha2::{Digest, Sha256};

/// Lower-case hex, by table: a million events' hashes take seconds through `format!`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// SHA-256 (hex) of an event's canonical JSON: keys sorted at every level, no whitespace,
/// numbers and strings as `serde_json` writes them. The server compares events with it
/// (`POST /v1/attest`), because the same event may be kept as different bytes by a laptop and
/// by the server (key order, the number's spelling), while its canonical form is one.
pub fn canonical_sha256(json: &[u8]) -> Result<String, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(json)?;
    let mut canonical = Vec::with_capacity(json.len());
    write_canonical(&value, &mut canonical);
    Ok(hex(&sha256(&canonical)))
}

fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    // Writing JSON into memory cannot fail.
    let scalar = |value: &Value, out: &mut Vec<u8>| serde_json::to_writer(out, value).unwrap_or_default();
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).unwrap_or_default();
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => scalar(other, out),
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
