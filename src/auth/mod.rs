//! Authentication helpers the server calls: pure functions and small state
//! machines, no I/O except reading the JAAS file.
//!
//! * [`digest`]: ZooKeeper's `digest` scheme (`addauth digest user:pw`) and
//!   the `superDigest` check.
//! * [`jaas`]: the JAAS login file that names the SASL users
//!   (`Server { ... user_bob="secret"; };`).
//! * [`sasl`]: the server side of SASL DIGEST-MD5 (RFC 2831), as ZooKeeper
//!   runs it through Java SASL.
//! * [`who_am_i`]: the `whoAmI` reply (op 107) for a session's ids.
use crate::protocol::{ClientInfo, Id};

pub mod digest;
pub mod jaas;
pub mod sasl;

/// The `whoAmI` reply for a session's auth ids, as ZooKeeper's
/// `AuthUtil.getClientInfos`: one entry per id, the scheme and the user name
/// the scheme's provider derives (`digest`: the part before ':'; `ip`,
/// `sasl`, `x509`: the id itself; a scheme with no provider, such as `super`:
/// empty).
pub fn who_am_i(ids: &[Id]) -> Vec<ClientInfo> {
    ids.iter()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_am_i_maps_ids_to_users() {
        let ids = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
            Id::new("super", ""),
            Id::new("sasl", "alice"),
        ];
        let infos = who_am_i(&ids);
        let pairs: Vec<(&str, &str)> = infos
            .iter()
            .map(|c| (c.auth_scheme.as_str(), c.user.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("ip", "127.0.0.1"),
                ("digest", "bob"),
                ("super", ""),
                ("sasl", "alice")
            ]
        );
    }
}
