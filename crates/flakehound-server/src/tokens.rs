//! Access tokens: a random secret shown once, stored as its SHA-256.

use flakehound_store::{Admin, NewToken, Scope};
use sha2::{Digest, Sha256};

/// The prefix of every secret, so that secret scanners (and people) recognise one.
pub const SECRET_PREFIX: &str = "fhk_";

/// A new secret: the prefix and 32 random bytes in hex (256 bits: never guessed, and a plain
/// SHA-256 is then a safe way to store it; a slow password hash buys nothing for random keys).
pub fn new_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token ({e})"))?;
    let mut s = String::with_capacity(SECRET_PREFIX.len() + 64);
    s.push_str(SECRET_PREFIX);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// The prefix of a public upload id.
pub const PUBLIC_PREFIX: &str = "fhp_";

/// A new public upload id: the prefix and 16 random bytes in hex. Not a secret (it sits in a
/// workflow file for fork pull requests), but never guessed: only who reads the workflow can
/// upload with it.
pub fn new_public_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for an id ({e})"))?;
    let mut s = String::from(PUBLIC_PREFIX);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// Turns `project`'s public upload id on (keeping the one it has, unless `rotate`) or off;
/// returns the id when on.
pub fn set_public_upload(
    admin: &mut dyn Admin,
    project: &str,
    on: bool,
    rotate: bool,
) -> anyhow::Result<Option<String>> {
    let project = flakehound_store::valid_project(project)?;
    let now = stamp(jiff::Timestamp::now());
    if !on {
        admin.set_public_upload(project, None, &now)?;
        return Ok(None);
    }
    if !rotate {
        if let Some(id) = admin.public_upload(project)? {
            return Ok(Some(id));
        }
    }
    admin.create_project(project, &now)?;
    let id = new_public_id()?;
    admin.set_public_upload(project, Some(&id), &now)?;
    Ok(Some(id))
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The start of a secret shown in lists: its prefix and 6 characters.
pub fn shown_prefix(secret: &str) -> String {
    secret.chars().take(SECRET_PREFIX.len() + 6).collect()
}

/// Parses an expiry like `90d`, `12h`, `2w`, `30m`; `never` or `0` for none.
pub fn parse_expiry(s: &str) -> Result<Option<jiff::SignedDuration>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("never") || s == "0" {
        return Ok(None);
    }
    let bad = || format!("invalid expiry {s:?}: a number with m, h, d or w (e.g. 90d), or never");
    let (num, unit) = s.split_at(s.len().checked_sub(1).ok_or_else(bad)?);
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    let secs = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs)
        .filter(|&t| t <= 100 * 365 * 86_400)
        .map(|t| Some(jiff::SignedDuration::from_secs(t)))
        .ok_or_else(bad)
}

/// The store's canonical form of an instant (RFC 3339 UTC, whole seconds).
pub fn stamp(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Second)
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A created token: its id and the secret (shown once).
pub struct Created {
    pub id: i64,
    pub secret: String,
    pub expires_at: Option<String>,
}

/// Creates a token for `project` (registering the project when new).
pub fn create(
    admin: &mut dyn Admin,
    project: &str,
    scope: Scope,
    label: Option<&str>,
    expires: Option<jiff::SignedDuration>,
) -> anyhow::Result<Created> {
    let project = flakehound_store::valid_project(project)?;
    let now = jiff::Timestamp::now();
    let created_at = stamp(now);
    admin.create_project(project, &created_at)?;
    let expires_at = match expires {
        Some(d) => Some(stamp(
            now.checked_add(d)
                .map_err(|e| anyhow::anyhow!("expiry out of range: {e}"))?,
        )),
        None => None,
    };
    let secret = new_secret()?;
    let id = admin.create_token(&NewToken {
        project,
        scope,
        label,
        hash: &hash_secret(&secret),
        prefix: &shown_prefix(&secret),
        created_at: &created_at,
        expires_at: expires_at.as_deref(),
    })?;
    Ok(Created {
        id,
        secret,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_hash_stably() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(a.len(), SECRET_PREFIX.len() + 64);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(shown_prefix(&a).len(), SECRET_PREFIX.len() + 6);
    }

    #[test]
    fn expiries_parse_or_say_why_not() {
        assert_eq!(
            parse_expiry("90d").unwrap(),
            Some(jiff::SignedDuration::from_secs(90 * 86_400))
        );
        assert_eq!(
            parse_expiry("2w").unwrap(),
            Some(jiff::SignedDuration::from_secs(14 * 86_400))
        );
        assert_eq!(parse_expiry("never").unwrap(), None);
        for bad in ["", "d", "-3d", "3y", "9999999999999w", "1.5d"] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}
