//! Access tokens: two roles, `viewer` (the `/ws` feed) and `ingest`
//! (`POST /ingest` and the webhook endpoints).
//!
//! Tokens come from `--tokens FILE`, `--viewer-token` / `--ingest-token` and
//! the `SHOPPULSE_VIEWER_TOKENS` / `SHOPPULSE_INGEST_TOKENS` environment
//! variables. Only their SHA-256 digests are kept; a presented token is hashed
//! and compared with every digest of the role in constant time (no early exit,
//! no length leak). Tokens are never logged: a [`Principal`] names a token by
//! its role and position ("ingest #2"), never by its value.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shortest token accepted (bytes).
pub const MIN_TOKEN_LEN: usize = 16;
/// Longest token accepted (bytes).
pub const MAX_TOKEN_LEN: usize = 512;
/// Environment variable with viewer tokens (comma or whitespace separated).
pub const VIEWER_ENV: &str = "SHOPPULSE_VIEWER_TOKENS";
/// Environment variable with ingest tokens (comma or whitespace separated).
pub const INGEST_ENV: &str = "SHOPPULSE_INGEST_TOKENS";

/// What a token lets its holder do.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Role {
    /// Open the `/ws` feed (dashboards).
    Viewer,
    /// Push events: `POST /ingest`.
    Ingest,
}

impl Role {
    /// The name used in token files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Ingest => "ingest",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "viewer" | "view" | "read" => Some(Role::Viewer),
            "ingest" | "write" => Some(Role::Ingest),
            _ => None,
        }
    }
}

/// Who passed a check: a role and the token's position in its list.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Principal {
    /// No tokens are configured: the gateway is open (development).
    Open,
    /// The `n`-th token (from 1) of `role`.
    Token(Role, usize),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Open => f.write_str("open"),
            Principal::Token(role, n) => write!(f, "{} #{n}", role.as_str()),
        }
    }
}

/// Why a check failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Denied {
    /// No token was presented.
    Missing,
    /// The token matches no token at all.
    Invalid,
    /// The token is valid for the other role only.
    WrongRole,
}

impl Denied {
    /// A readable message for the client (never contains the token).
    pub fn message(self, role: Role) -> String {
        match (self, role) {
            (Denied::Missing, Role::Viewer) => {
                "this gateway requires a viewer token: send it as `token` in the hello frame".into()
            }
            (Denied::Missing, Role::Ingest) => {
                "this endpoint requires an ingest token: send `Authorization: Bearer TOKEN`".into()
            }
            (Denied::Invalid, r) => format!("the {} token is not valid", r.as_str()),
            (Denied::WrongRole, Role::Ingest) => "a viewer token cannot ingest".into(),
            (Denied::WrongRole, Role::Viewer) => {
                "an ingest token cannot open the feed; use a viewer token".into()
            }
        }
    }

    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Denied::Missing => "missing",
            Denied::Invalid => "invalid",
            Denied::WrongRole => "wrong_role",
        }
    }
}

type Digest32 = [u8; 32];

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// The configured tokens (digests only).
#[derive(Clone, Default)]
pub struct Access {
    viewer: Vec<Digest32>,
    ingest: Vec<Digest32>,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("viewer_tokens", &self.viewer.len())
            .field("ingest_tokens", &self.ingest.len())
            .finish()
    }
}

/// Checks one token's shape; the error never quotes the token.
fn validate(token: &str, origin: &str) -> Result<(), String> {
    if token.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "{origin}: a token is shorter than {MIN_TOKEN_LEN} bytes (generate one with `openssl rand -hex 32`)"
        ));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(format!(
            "{origin}: a token is longer than {MAX_TOKEN_LEN} bytes"
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{origin}: a token contains a space, a control or a non-ASCII character"
        ));
    }
    Ok(())
}

/// Splits a list of tokens separated by commas or whitespace.
fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
}

impl Access {
    /// No tokens: every check passes (development).
    pub fn open() -> Access {
        Access::default()
    }

    /// True when at least one token is configured; then both roles are
    /// enforced (a role without tokens admits nobody).
    pub fn enabled(&self) -> bool {
        !self.viewer.is_empty() || !self.ingest.is_empty()
    }

    /// Tokens configured for `role`.
    pub fn count(&self, role: Role) -> usize {
        match role {
            Role::Viewer => self.viewer.len(),
            Role::Ingest => self.ingest.len(),
        }
    }

    /// Adds a token for `role` after checking its shape. Duplicates are kept
    /// once.
    pub fn add(&mut self, role: Role, token: &str, origin: &str) -> Result<(), String> {
        validate(token, origin)?;
        let d = digest(token);
        let list = match role {
            Role::Viewer => &mut self.viewer,
            Role::Ingest => &mut self.ingest,
        };
        if !list.contains(&d) {
            list.push(d);
        }
        Ok(())
    }

    /// Adds a comma/whitespace separated list (flags, environment).
    pub fn add_list(&mut self, role: Role, list: &str, origin: &str) -> Result<(), String> {
        for t in split_list(list) {
            self.add(role, t, origin)?;
        }
        Ok(())
    }

    /// Reads a token file: either lines `ROLE TOKEN` (`#` starts a comment,
    /// blank lines are skipped) or a JSON object
    /// `{"viewer": ["…"], "ingest": ["…"]}`.
    pub fn add_file_text(&mut self, text: &str, origin: &str) -> Result<(), String> {
        if text.trim_start().starts_with('{') {
            let v: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("{origin}: not valid JSON: {e}"))?;
            let obj = v
                .as_object()
                .ok_or_else(|| format!("{origin}: expected a JSON object"))?;
            for (key, list) in obj {
                let role = Role::parse(key).ok_or_else(|| {
                    format!("{origin}: unknown role {key:?} (expected viewer or ingest)")
                })?;
                let items = list.as_array().ok_or_else(|| {
                    format!("{origin}: `{key}` must be an array of token strings")
                })?;
                for item in items {
                    let t = item.as_str().ok_or_else(|| {
                        format!("{origin}: `{key}` must be an array of token strings")
                    })?;
                    self.add(role, t, origin)?;
                }
            }
            return Ok(());
        }
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{origin} line {}", i + 1);
            let mut parts = line.split_whitespace();
            let (Some(role), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("{at}: expected `viewer TOKEN` or `ingest TOKEN`"));
            };
            let role = Role::parse(role)
                .ok_or_else(|| format!("{at}: unknown role (expected viewer or ingest)"))?;
            self.add(role, token, &at)?;
        }
        Ok(())
    }

    /// Reads `--tokens FILE`; warns (returned) when others may read it.
    pub fn add_file(&mut self, path: &Path) -> Result<Option<String>, String> {
        let origin = format!("--tokens {}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| format!("{origin}: {e}"))?;
        self.add_file_text(&text, &origin)?;
        Ok(loose_permissions(path)
            .then(|| format!("{origin} can be read by other users of this machine; chmod 600 it")))
    }

    /// Checks a presented token for `role`. Every configured digest is
    /// compared, in constant time, whatever matches.
    pub fn check(&self, role: Role, presented: Option<&str>) -> Result<Principal, Denied> {
        if !self.enabled() {
            return Ok(Principal::Open);
        }
        let Some(token) = presented.filter(|t| !t.is_empty()) else {
            return Err(Denied::Missing);
        };
        let d = digest(token);
        let find = |list: &[Digest32]| {
            let mut found = 0usize;
            for (i, stored) in list.iter().enumerate() {
                let hit = usize::from(bool::from(stored.ct_eq(&d)));
                // Branch-free select of the (single) matching position.
                found |= hit * (i + 1);
            }
            found
        };
        let (own, other) = match role {
            Role::Viewer => (&self.viewer, &self.ingest),
            Role::Ingest => (&self.ingest, &self.viewer),
        };
        let mine = find(own);
        let theirs = find(other);
        if mine > 0 {
            Ok(Principal::Token(role, mine))
        } else if theirs > 0 {
            Err(Denied::WrongRole)
        } else {
            Err(Denied::Invalid)
        }
    }
}

#[cfg(unix)]
fn loose_permissions(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn loose_permissions(_path: &Path) -> bool {
    false
}

/// The token of an `Authorization: Bearer TOKEN` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "viewer-token-0123456789";
    const I: &str = "ingest-token-0123456789";

    fn access() -> Access {
        let mut a = Access::open();
        a.add(Role::Viewer, V, "test").unwrap();
        a.add(Role::Ingest, I, "test").unwrap();
        a
    }

    #[test]
    fn no_tokens_means_open() {
        let a = Access::open();
        assert!(!a.enabled());
        assert_eq!(a.check(Role::Viewer, None), Ok(Principal::Open));
        assert_eq!(a.check(Role::Ingest, Some("x")), Ok(Principal::Open));
    }

    #[test]
    fn each_role_needs_its_own_token() {
        let a = access();
        assert_eq!(
            a.check(Role::Viewer, Some(V)),
            Ok(Principal::Token(Role::Viewer, 1))
        );
        assert_eq!(
            a.check(Role::Ingest, Some(I)),
            Ok(Principal::Token(Role::Ingest, 1))
        );
        assert_eq!(a.check(Role::Ingest, Some(V)), Err(Denied::WrongRole));
        assert_eq!(a.check(Role::Viewer, Some(I)), Err(Denied::WrongRole));
        assert_eq!(a.check(Role::Viewer, None), Err(Denied::Missing));
        assert_eq!(a.check(Role::Viewer, Some("")), Err(Denied::Missing));
        assert_eq!(
            a.check(Role::Viewer, Some("viewer-token-012345678")),
            Err(Denied::Invalid)
        );
    }

    #[test]
    fn a_role_without_tokens_admits_nobody_once_any_token_is_set() {
        let mut a = Access::open();
        a.add(Role::Ingest, I, "test").unwrap();
        assert!(a.enabled());
        assert_eq!(
            a.check(Role::Viewer, Some("anything-at-all-here")),
            Err(Denied::Invalid)
        );
    }

    #[test]
    fn token_files_in_both_formats() {
        let mut a = Access::open();
        a.add_file_text(
            &format!("# operators\nviewer {V}\n\ningest {I}  # the shop backend\n"),
            "f",
        )
        .unwrap();
        assert_eq!(a.count(Role::Viewer), 1);
        assert_eq!(a.count(Role::Ingest), 1);
        let mut b = Access::open();
        b.add_file_text(
            &format!(r#"{{"viewer":["{V}","{I}x"],"ingest":["{I}"]}}"#),
            "f",
        )
        .unwrap();
        assert_eq!(b.count(Role::Viewer), 2);
        assert_eq!(
            b.check(Role::Viewer, Some(&format!("{I}x"))),
            Ok(Principal::Token(Role::Viewer, 2))
        );
    }

    #[test]
    fn bad_token_files_are_refused_without_quoting_the_token() {
        let mut a = Access::open();
        let e = a
            .add_file_text("admin some-long-secret-value\n", "f")
            .unwrap_err();
        assert!(
            e.contains("line 1") && !e.contains("some-long-secret"),
            "{e}"
        );
        let e = a.add_file_text("viewer short\n", "f").unwrap_err();
        assert!(
            e.contains("shorter than 16") && !e.contains("short\n"),
            "{e}"
        );
        let e = a.add_file_text(r#"{"viewer":"x"}"#, "f").unwrap_err();
        assert!(e.contains("array"), "{e}");
        assert!(a
            .add_list(
                Role::Viewer,
                "ok-token-0123456789, bad\u{7f}token-012345678",
                "env"
            )
            .is_err());
    }

    #[test]
    fn lists_split_on_commas_and_spaces() {
        let mut a = Access::open();
        a.add_list(Role::Viewer, &format!(" {V},{I}x \n {I}y "), "env")
            .unwrap();
        assert_eq!(a.count(Role::Viewer), 3);
    }

    #[test]
    fn debug_shows_counts_not_secrets() {
        let d = format!("{:?}", access());
        assert_eq!(d, "Access { viewer_tokens: 1, ingest_tokens: 1 }");
    }

    #[test]
    fn bearer_header() {
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "bearer   abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
