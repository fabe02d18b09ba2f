//! ZooKeeper's `digest` authentication scheme (`DigestAuthenticationProvider`).
//!
//! A client sends `addauth digest user:password`; the session gains the id
//! `digest:user:base64(sha1("user:password"))`. ACLs name that same string.
//! When the generated digest equals the configured `superDigest`
//! (`super:<base64 sha1>`), the session also gains `super:` and bypasses ACLs.
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::protocol::Id;

/// `DigestAuthenticationProvider.generateDigest`: "user:" + base64(sha1("user:password")).
/// The user is the text before the first ':' (all of it when there is none);
/// the hash covers the whole input, as in ZooKeeper.
pub fn generate_digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The id a digest `addauth` yields. ZooKeeper accepts any bytes (decoded as
/// the platform charset, UTF-8 here, invalid sequences replaced), so this is
/// `None` only for empty auth data, which no client sends for a real user.
pub fn authenticate(auth_bytes: &[u8]) -> Option<Id> {
    if auth_bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(auth_bytes);
    Some(Id::new("digest", &generate_digest(&text)))
}

/// Every id ZooKeeper adds to the session for this `addauth digest`:
/// `super:` first when the digest is the super digest, then the digest id.
pub fn authenticate_ids(auth_bytes: &[u8], super_digest: Option<&str>) -> Vec<Id> {
    let Some(id) = authenticate(auth_bytes) else {
        return Vec::new();
    };
    let mut ids = Vec::with_capacity(2);
    if is_super(&id, super_digest) {
        ids.push(Id::new("super", ""));
    }
    ids.push(id);
    ids
}

/// True when `id` is the digest id matching `superDigest` ("super:<base64 sha1>").
pub fn is_super(id: &Id, super_digest: Option<&str>) -> bool {
    match super_digest {
        Some(digest) => id.scheme == "digest" && id.id == digest,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_zookeeper_generate_digest() {
        // Expected values printed by ZooKeeper 3.8's own
        // `DigestAuthenticationProvider.main` (Debian's zookeeper.jar).
        assert_eq!(
            generate_digest("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(
            generate_digest("bob:secret"),
            "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="
        );
        // Only the first ':' splits; the hash covers everything.
        assert_eq!(generate_digest("a:b:c"), "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0=");
        assert_eq!(
            generate_digest("nocolon"),
            "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g="
        );
    }

    #[test]
    fn authenticate_and_super() {
        let id = authenticate(b"bob:secret").unwrap();
        assert_eq!(id, Id::new("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="));
        assert!(authenticate(b"").is_none());
        let super_digest = Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
        assert!(!is_super(&id, super_digest));
        let root = authenticate(b"super:test").unwrap();
        assert!(is_super(&root, super_digest));
        assert!(!is_super(&root, None));
        assert!(!is_super(
            &authenticate(b"super:wrong").unwrap(),
            super_digest
        ));
        assert_eq!(
            authenticate_ids(b"super:test", super_digest),
            vec![
                Id::new("super", ""),
                Id::new("digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
            ]
        );
        assert_eq!(authenticate_ids(b"bob:secret", super_digest).len(), 1);
    }
}
