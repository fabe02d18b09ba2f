//! Authentication helpers the server calls: pure functions and small state
//! machines, no I/O except reading the JAAS file.
//!
//! * [`enforce`]: `enforce.auth.*` and `sessionRequireClientSASLAuth`: which
//!   requests an unauthenticated connection may make (none but auth/SASL).
//! * [`digest`]: ZooKeeper's `digest` scheme (`addauth digest user:pw`) and
//!   the `superDigest` check.
//! * [`jaas`]: the JAAS login file that names the SASL users
//!   (`Server { ... user_bob="secret"; };`).
//! * [`sasl`]: the server side of SASL DIGEST-MD5 (RFC 2831), as ZooKeeper
//!   runs it through Java SASL.
//! * [`who_am_i`]: the `whoAmI` reply (op 107) for a session's ids.
use crate::data_tree::java_hash::{spread, string_hash as java_string_hash};
use crate::protocol::{ClientInfo, Id};

pub mod digest;
pub mod enforce;
pub mod jaas;
pub mod sasl;

/// The `whoAmI` reply for a session's auth ids, as ZooKeeper's
/// `AuthUtil.getClientInfos`: one entry per id, the scheme and the user name
/// the scheme's provider derives (`digest`: the part before ':'; `ip`,
/// `sasl`, `x509`: the id itself; a scheme with no provider, such as `super`:
/// empty).
///
/// The entries come in the order ZooKeeper's connection keeps its ids: a
/// `ConcurrentHashMap`-backed set, so hash order (see [`java_set_order`]),
/// not the order they were added. zkCli's `whoami` prints that order.
pub fn who_am_i(ids: &[Id]) -> Vec<ClientInfo> {
    java_set_order(ids)
        .into_iter()
        .map(|id| {
            let user = match id.scheme.as_str() {
                "digest" => id.id.split(':').next().unwrap_or("").to_string(),
                "ip" | "sasl" | "x509" | "world" => id.id.clone(),
                _ => String::new(),
            };
            ClientInfo {
                auth_scheme: id.scheme.clone(),
                user,
            }
        })
        .collect()
}

/// The Jute-generated `Id.hashCode`.
fn java_id_hash(id: &Id) -> i32 {
    let mut result = 17i32;
    result = result
        .wrapping_mul(37)
        .wrapping_add(java_string_hash(&id.scheme));
    result
        .wrapping_mul(37)
        .wrapping_add(java_string_hash(&id.id))
}

/// The iteration order of a default `ConcurrentHashMap` (16 buckets, doubled
/// past 3/4 full) holding `ids` inserted in order: by bucket of the spread
/// hash, then by insertion within a bucket. (A session has a handful of
/// ids; `ConcurrentHashMap`'s own resize and tree rules, which differ from
/// `HashMap`'s in `data_tree::java_hash`, never come into play.)
pub fn java_set_order(ids: &[Id]) -> Vec<Id> {
    let mut unique: Vec<&Id> = Vec::new();
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    let mut buckets = 16usize;
    while unique.len() > buckets * 3 / 4 {
        buckets *= 2;
    }
    let bucket_of = |id: &Id| {
        // ConcurrentHashMap.spread: HashMap's, with the sign bit cleared.
        ((spread(java_id_hash(id)) & 0x7fff_ffff) as usize) & (buckets - 1)
    };
    let mut ordered: Vec<(usize, usize, &Id)> = unique
        .iter()
        .enumerate()
        .map(|(i, id)| (bucket_of(id), i, *id))
        .collect();
    ordered.sort();
    ordered.into_iter().map(|(_, _, id)| id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_in_zookeepers_hash_order() {
        // Observed from ZooKeeper 3.8's whoami after two digest addauths.
        let ids = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", &digest::generate_digest("alice:secret")),
            Id::new("digest", &digest::generate_digest("bob:pw")),
        ];
        let users: Vec<String> = who_am_i(&ids).into_iter().map(|c| c.user).collect();
        assert_eq!(users, vec!["alice", "bob", "127.0.0.1"]);
    }

    #[test]
    fn who_am_i_maps_ids_to_users() {
        let ids = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
            Id::new("super", ""),
            Id::new("sasl", "alice"),
        ];
        let infos = who_am_i(&ids);
        let mut pairs: Vec<(&str, &str)> = infos
            .iter()
            .map(|c| (c.auth_scheme.as_str(), c.user.as_str()))
            .collect();
        pairs.sort();
        assert_eq!(
            pairs,
            vec![
                ("digest", "bob"),
                ("ip", "127.0.0.1"),
                ("sasl", "alice"),
                ("super", "")
            ]
        );
    }
}
