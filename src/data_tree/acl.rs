//! ACL checks (`ZooKeeperServer.checkACL`) and ACL validation on create and
//! setACL (`PrepRequestProcessor.fixupACL`).
//!
//! The identities a session holds (`auth`) come from the server: its ip id,
//! digest ids from addauth, sasl ids. Here we only compare. Schemes known to
//! this server are those ZooKeeper registers by default (world, auth, ip,
//! digest) plus sasl; any other scheme is an invalid ACL.

use std::net::Ipv6Addr;

use crate::protocol::{Acl, ErrorCode, Id};

/// Passes if the session may do `perm` on a node with this ACL. An empty ACL
/// lets everyone in, as in ZooKeeper; `super` bypasses every check.
pub fn check_acl(acl: &[Acl], perm: i32, auth: &[Id], is_super: bool) -> Result<(), ErrorCode> {
    if is_super || acl.is_empty() || auth.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for entry in acl {
        if entry.perms & perm == 0 {
            continue;
        }
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            return Ok(());
        }
        for held in auth.iter().filter(|held| held.scheme == id.scheme) {
            let matched = match id.scheme.as_str() {
                "ip" => ip_matches(&held.id, &id.id),
                "digest" | "sasl" => held.id == id.id,
                _ => false,
            };
            if matched {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// Validates an ACL list from create/setACL and expands `auth` entries into the
/// session's authenticated ids (digest and sasl ids; an ip id does not count).
/// Duplicates are dropped first. Empty list, unknown scheme, malformed id, or
/// `auth` with no authenticated id: `InvalidAcl`.
pub fn fixup_acl(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(unique.len());
    for entry in unique {
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            out.push(entry.clone());
        } else if id.scheme == "auth" {
            let mut any = false;
            for held in auth
                .iter()
                .filter(|held| is_authenticated_scheme(&held.scheme))
            {
                any = true;
                out.push(Acl {
                    perms: entry.perms,
                    id: held.clone(),
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(&id.scheme, &id.id) {
            out.push(entry.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// `ServerAuthenticationProvider.isAuthenticated`: ip is not, digest and sasl are.
fn is_authenticated_scheme(scheme: &str) -> bool {
    matches!(scheme, "digest" | "sasl")
}

fn is_valid_id(scheme: &str, id: &str) -> bool {
    match scheme {
        // Java's `id.split(":").length == 2`: trailing empty parts vanish.
        "digest" => {
            let mut parts: Vec<&str> = id.split(':').collect();
            while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
                parts.pop();
            }
            parts.len() == 2
        }
        "ip" => parse_ip_expr(id).is_some(),
        "sasl" => true,
        _ => false,
    }
}

/// Parses "addr" or "addr/bits" into (address bytes, prefix bits).
fn parse_ip_expr(expr: &str) -> Option<(Vec<u8>, usize)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits)),
        None => (expr, None),
    };
    let bytes = addr_bytes(addr)?;
    let max = bytes.len() * 8;
    let bits = match bits {
        Some(b) => {
            let b: i64 = b.parse().ok()?;
            if b < 0 || b as usize > max {
                return None;
            }
            b as usize
        }
        None => max,
    };
    Some((bytes, bits))
}

/// IPv4 as ZooKeeper reads it (four decimal parts 0..=255, leading zeros
/// allowed) or IPv6.
fn addr_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() == 4 {
        let mut out = Vec::with_capacity(4);
        for p in parts {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let v: u32 = p.parse().ok()?;
            if v > 255 {
                return None;
            }
            out.push(v as u8);
        }
        return Some(out);
    }
    addr.parse::<Ipv6Addr>().ok().map(|a| a.octets().to_vec())
}

fn mask(bytes: &mut [u8], bits: usize) {
    for (i, b) in bytes.iter_mut().enumerate() {
        let start = i * 8;
        if start >= bits {
            *b = 0;
        } else if bits - start < 8 {
            *b &= 0xffu8 << (8 - (bits - start));
        }
    }
}

/// `IPAuthenticationProvider.matches`: CIDR match of the session's address
/// against "a.b.c.d" or "a.b.c.d/bits".
pub fn ip_matches(session_addr: &str, acl_expr: &str) -> bool {
    let Some((mut acl_addr, bits)) = parse_ip_expr(acl_expr) else {
        return false;
    };
    let Some(mut remote) = addr_bytes(session_addr) else {
        return false;
    };
    if remote.len() != acl_addr.len() {
        return false;
    }
    mask(&mut acl_addr, bits);
    mask(&mut remote, bits);
    acl_addr == remote
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::perms;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn world_anyone_and_perm_bits() {
        let a = vec![acl(perms::READ, "world", "anyone")];
        assert_eq!(check_acl(&a, perms::READ, &[], false), Ok(()));
        assert_eq!(
            check_acl(&a, perms::WRITE, &[], false),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(check_acl(&a, perms::WRITE, &[], true), Ok(()));
        assert_eq!(
            check_acl(&a, perms::READ | perms::ADMIN, &[], false),
            Ok(())
        );
        assert_eq!(check_acl(&[], perms::ADMIN, &[], false), Ok(()));
    }

    #[test]
    fn digest_and_ip_matching() {
        let a = vec![
            acl(perms::ALL, "digest", "bob:hash"),
            acl(perms::READ, "ip", "10.0.0.0/8"),
        ];
        let bob = [Id::new("digest", "bob:hash")];
        let eve = [Id::new("digest", "eve:hash"), Id::new("ip", "11.0.0.1")];
        let local = [Id::new("ip", "10.1.2.3")];
        assert_eq!(check_acl(&a, perms::WRITE, &bob, false), Ok(()));
        assert_eq!(
            check_acl(&a, perms::READ, &eve, false),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(check_acl(&a, perms::READ, &local, false), Ok(()));
        assert_eq!(
            check_acl(&a, perms::WRITE, &local, false),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            check_acl(&a, perms::WRITE, &[Id::new("super", "")], false),
            Ok(())
        );
    }

    #[test]
    fn cidr() {
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(!ip_matches("127.0.0.2", "127.0.0.1"));
        assert!(ip_matches("192.168.1.77", "192.168.1.0/24"));
        assert!(ip_matches("192.168.1.77", "192.168.1.64/26"));
        assert!(!ip_matches("192.168.1.7", "192.168.1.64/26"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
        assert!(!ip_matches("1.2.3.4", "1.2.3.4/33"));
        assert!(ip_matches("::1", "::1"));
        assert!(ip_matches("fe80::1", "fe80::/16"));
        assert!(!ip_matches("fe80::1", "127.0.0.1"));
    }

    #[test]
    fn fixup_validates_and_expands() {
        let bob = [Id::new("ip", "127.0.0.1"), Id::new("digest", "bob:h")];
        assert_eq!(fixup_acl(&[], &bob), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup_acl(&[acl(1, "foo", "x")], &bob),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(1, "world", "nobody")], &bob),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(1, "digest", "bob")], &bob),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(1, "digest", "bob:")], &bob),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(1, "digest", "a:b:c")], &bob),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(1, "ip", "1.2.3")], &bob),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[acl(1, "ip", "1.2.3.4/40")], &bob),
            Err(ErrorCode::InvalidAcl)
        );
        assert!(fixup_acl(&[acl(1, "ip", "1.2.3.4/24")], &bob).is_ok());
        assert_eq!(
            fixup_acl(&[acl(31, "auth", ""), acl(31, "auth", "")], &bob),
            Ok(vec![acl(31, "digest", "bob:h")])
        );
        assert_eq!(
            fixup_acl(&[acl(31, "auth", "")], &[Id::new("ip", "127.0.0.1")]),
            Err(ErrorCode::InvalidAcl)
        );
    }
}
