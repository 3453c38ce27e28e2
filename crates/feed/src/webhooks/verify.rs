//! Signature and token checks, all in constant time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// Why a request was not authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No signature or token at all.
    Missing,
    /// A signature or token that does not match.
    Bad,
}

/// Checks a base64 HMAC-SHA256 of `body` keyed with `secret` (Shopify's
/// `X-Shopify-Hmac-Sha256`, WooCommerce's `X-WC-Webhook-Signature`).
pub fn hmac_sha256_base64(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), AuthError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(AuthError::Missing)?;
    let Ok(given) = STANDARD.decode(header) else {
        return Err(AuthError::Bad);
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return Err(AuthError::Bad);
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).map_err(|_| AuthError::Bad)
}

/// Checks a hex HMAC-SHA1 of `body` keyed with `secret` (Segment's
/// `X-Signature`).
pub fn hmac_sha1_hex(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), AuthError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(AuthError::Missing)?;
    let given = decode_hex(header).ok_or(AuthError::Bad)?;
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return Err(AuthError::Bad);
    };
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| AuthError::Bad)
}

/// Compares a presented token with the secret in constant time (for equal
/// lengths; the length itself is not secret).
pub fn token(secret: &[u8], given: Option<&str>) -> Result<(), AuthError> {
    let given = given
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .ok_or(AuthError::Missing)?;
    if constant_time_eq(secret, given.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::Bad)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    b.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Test and tooling helper: the base64 HMAC-SHA256 of `body`.
/// (HMAC takes keys of any length, so the empty string is never returned.)
pub fn sign_sha256_base64(secret: &[u8], body: &[u8]) -> String {
    Hmac::<Sha256>::new_from_slice(secret).map_or_else(
        |_| String::new(),
        |mut mac| {
            mac.update(body);
            STANDARD.encode(mac.finalize().into_bytes())
        },
    )
}

/// Test and tooling helper: the hex HMAC-SHA1 of `body` (Segment's
/// `X-Signature`).
pub fn sign_sha1_hex(secret: &[u8], body: &[u8]) -> String {
    Hmac::<Sha1>::new_from_slice(secret).map_or_else(
        |_| String::new(),
        |mut mac| {
            mac.update(body);
            mac.finalize()
                .into_bytes()
                .iter()
                .fold(String::with_capacity(40), |mut s, b| {
                    use std::fmt::Write as _;
                    let _ = write!(s, "{b:02x}");
                    s
                })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopify_style_signature() {
        let secret = b"hush";
        let body = br#"{"id":1}"#;
        let sig = sign_sha256_base64(secret, body);
        assert_eq!(hmac_sha256_base64(secret, body, Some(&sig)), Ok(()));
        assert_eq!(
            hmac_sha256_base64(secret, b"{\"id\":2}", Some(&sig)),
            Err(AuthError::Bad)
        );
        assert_eq!(
            hmac_sha256_base64(b"other", body, Some(&sig)),
            Err(AuthError::Bad)
        );
        assert_eq!(
            hmac_sha256_base64(secret, body, Some("not base64!")),
            Err(AuthError::Bad)
        );
        assert_eq!(
            hmac_sha256_base64(secret, body, None),
            Err(AuthError::Missing)
        );
        assert_eq!(
            hmac_sha256_base64(secret, body, Some(" ")),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn known_hmac_vectors() {
        // RFC 4231 test case 2 (HMAC-SHA256, key "Jefe").
        let sig = sign_sha256_base64(b"Jefe", b"what do ya want for nothing?");
        let hex = STANDARD
            .decode(&sig)
            .unwrap()
            .iter()
            .fold(String::new(), |mut s, b| {
                use std::fmt::Write as _;
                let _ = write!(s, "{b:02x}");
                s
            });
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // RFC 2202 test case 2 (HMAC-SHA1, key "Jefe").
        assert_eq!(
            sign_sha1_hex(b"Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hmac_sha1_hex(
                b"Jefe",
                b"what do ya want for nothing?",
                Some("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
            ),
            Ok(())
        );
        assert_eq!(
            hmac_sha1_hex(
                b"Jefe",
                b"what do ya want for nothing?",
                Some("effcdf6ae5eb2fa2d27416d5f184df9c259a7c7a")
            ),
            Err(AuthError::Bad)
        );
        assert_eq!(
            hmac_sha1_hex(b"Jefe", b"x", Some("zz")),
            Err(AuthError::Bad)
        );
    }

    #[test]
    fn tokens() {
        assert_eq!(token(b"s3cret", Some("s3cret")), Ok(()));
        assert_eq!(token(b"s3cret", Some("s3cres")), Err(AuthError::Bad));
        assert_eq!(token(b"s3cret", Some("s3")), Err(AuthError::Bad));
        assert_eq!(token(b"s3cret", None), Err(AuthError::Missing));
    }
}
