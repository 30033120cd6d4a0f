//! Recovery codes: ten single-use codes of 120 random bits each, shown once and stored
//! only as digests.
//!
//! Each code is 24 characters of lower-case base32 (`a`-`z`, `2`-`7`), shown in four
//! groups of six (`abcdef-ghijkl-mnopqr-stuvwx`). At 120 bits a code is a "lookup secret"
//! of at least 112 bits, which ASVS 5 (6.5.2) lets a service store under a plain hash, so
//! the store keeps the `Secrets` port's SHA-256 digest of the code without its hyphens:
//! a stolen table gives nothing to search, and a code is found by one indexed lookup
//! instead of ten slow password hashes per attempt (which would make the code page a
//! lever for tying up the hasher).

/// How many codes a set holds.
pub const CODES: usize = 10;
/// Random bytes per code: 120 bits.
pub const CODE_BYTES: usize = 15;
/// Characters per code, without hyphens.
pub const CODE_CHARS: usize = 24;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A code from 15 random bytes, grouped for reading.
pub fn encode(bytes: &[u8; CODE_BYTES]) -> String {
    let mut out = String::with_capacity(CODE_CHARS + 3);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    let mut written = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let index = usize::try_from((buffer >> bits) & 31).unwrap_or(0);
            if written > 0 && written % 6 == 0 {
                out.push('-');
            }
            out.push(char::from(ALPHABET[index]));
            written += 1;
        }
    }
    out
}

/// A code as typed, in the form its digest is taken of: lower case, spaces and hyphens
/// dropped; `None` unless 24 base32 characters remain.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::{encode, normalise};

    #[test]
    fn codes_are_four_groups_of_six_and_read_back_however_typed() {
        let code = encode(&[0; 15]);
        assert_eq!(code, "aaaaaa-aaaaaa-aaaaaa-aaaaaa");
        let code = encode(&[0xff; 15]);
        assert_eq!(code, "777777-777777-777777-777777");
        let code = encode(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(code.len(), 27);
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(normalise(&typed), Some(code.replace('-', "")));
        assert_eq!(normalise("123456"), None);
        assert_eq!(normalise("aaaaaa-aaaaaa-aaaaaa-aaaaa1"), None);
    }
}
