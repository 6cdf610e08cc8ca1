//! Identifiers in AWS's formats.

use rand::Rng;

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn pick(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| {
            let i = rng.gen_range(0..alphabet.len());
            char::from(alphabet.get(i).copied().unwrap_or(b'A'))
        })
        .collect()
}

/// An IAM unique id: a 4-letter prefix (`AIDA` user, `AROA` role, `AGPA`
/// group, `ANPA` policy, `AIPA` instance profile) plus 17 characters.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", pick(UPPER_ALNUM, 17))
}

/// A 20-character access key id (`AKIA` long-term, `ASIA` temporary).
pub fn access_key_id(prefix: &str) -> String {
    format!("{prefix}{}", pick(UPPER_ALNUM, 16))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> String {
    pick(SECRET_CHARS, 40)
}

/// An opaque session token.
pub fn session_token() -> String {
    format!("IQoJb3JpZ2luX2VjE{}", pick(SECRET_CHARS, 300))
}

/// `n` lowercase alphanumerics (physical-name suffixes, resource ids).
pub fn lower_alnum(n: usize) -> String {
    pick(LOWER_ALNUM, n)
}

/// A random 12-digit account id that does not start with 0.
pub fn account_id() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}{:011}",
        rng.gen_range(1..10),
        rng.gen_range(0..100_000_000_000u64)
    )
}

/// A request id in UUID form.
pub fn request_id() -> String {
    // Built in one buffer: this runs once per request.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b: [u8; 16] = rand::thread_rng().gen();
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        match i {
            4 | 8 | 10 => out.push('-'),
            6 => out.push_str("-4"),
            _ => {}
        }
        // The version and variant nibbles replace the first hex digit of
        // bytes 6 and 8 (a UUID-4 shape).
        if i != 6 && i != 8 {
            out.push(char::from(HEX[usize::from(x >> 4)]));
        } else if i == 8 {
            out.push('a');
        }
        out.push(char::from(HEX[usize::from(x & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let id = unique_id("AROA");
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AROA"));
        assert_eq!(access_key_id("AKIA").len(), 20);
        assert_eq!(secret_access_key().len(), 40);
        let acct = account_id();
        assert_eq!(acct.len(), 12);
        assert!(acct.chars().all(|c| c.is_ascii_digit()));
        let rid = request_id();
        assert_eq!(rid.len(), 36);
        let groups: Vec<&str> = rid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4') && groups[3].starts_with('a'));
        assert!(rid.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    }
}
