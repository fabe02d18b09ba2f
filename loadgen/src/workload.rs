//! What to send: key choice (uniform or zipfian), node naming, and the
//! request of each operation. Pure: no sockets, no clocks.

use bytes::Bytes;
use paddock::protocol::{
    Acl, CreateRequest, DeleteRequest, MultiOp, PathWatch, Request, SetDataRequest,
};

use crate::cli::{KeyDistribution, RunConfig, Workload};

/// xoshiro256** seeded by splitmix64: fast, small, good enough for load.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Zipfian ranks in [0, n) with rank 0 the most popular, after Gray et al.,
/// "Quickly generating billion-record synthetic databases" (as YCSB does):
/// P(rank i) is proportional to 1 / (i+1)^theta.
#[derive(Clone, Debug)]
pub struct Zipfian {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipfian {
    pub fn new(n: u64, theta: f64) -> Zipfian {
        assert!(n >= 1 && theta > 0.0 && theta < 1.0);
        let zeta = |k: u64| (1..=k).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zetan = zeta(n);
        let zeta2 = zeta(2.min(n));
        let eta = if n > 2 {
            (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan)
        } else {
            1.0
        };
        Zipfian {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
        }
    }
    /// The normalisation constant zeta(n, theta).
    #[cfg(test)]
    pub fn zetan(&self) -> f64 {
        self.zetan
    }
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.next_f64();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if self.n >= 2 && uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let r = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        r.min(self.n - 1)
    }
}

/// Picks keys in [0, keys).
#[derive(Clone, Debug)]
pub enum KeyChooser {
    Uniform(u64),
    Zipfian(Zipfian),
}

impl KeyChooser {
    pub fn new(c: &RunConfig) -> KeyChooser {
        match c.key_distribution {
            KeyDistribution::Uniform => KeyChooser::Uniform(c.keys as u64),
            KeyDistribution::Zipfian => {
                KeyChooser::Zipfian(Zipfian::new(c.keys as u64, c.zipf_theta))
            }
        }
    }
    pub fn next(&self, rng: &mut Rng) -> usize {
        match self {
            KeyChooser::Uniform(n) => rng.below(*n) as usize,
            KeyChooser::Zipfian(z) => z.sample(rng) as usize,
        }
    }
}

/// Kinds of measured operation; each gets its own histogram as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Create = 0,
    Set = 1,
    Get = 2,
    Exists = 3,
    Delete = 4,
    Multi = 5,
    Watch = 6,
}

pub const OP_KINDS: [OpKind; 7] = [
    OpKind::Create,
    OpKind::Set,
    OpKind::Get,
    OpKind::Exists,
    OpKind::Delete,
    OpKind::Multi,
    OpKind::Watch,
];

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Set => "set",
            OpKind::Get => "get",
            OpKind::Exists => "exists",
            OpKind::Delete => "delete",
            OpKind::Multi => "multi",
            OpKind::Watch => "watch",
        }
    }
}

/// Node names of a run under `--root`.
#[derive(Clone, Debug)]
pub struct Layout {
    pub root: String,
    /// A per-run tag so concurrent or repeated runs never collide on created names.
    pub run_tag: String,
}

impl Layout {
    pub fn keys_dir(&self) -> String {
        format!("{}/k", self.root)
    }
    pub fn key(&self, i: usize) -> String {
        format!("{}/k/{i}", self.root)
    }
    pub fn create_dir(&self) -> String {
        format!("{}/c", self.root)
    }
    pub fn created(&self, session: usize, n: u64) -> String {
        format!("{}/c/{}-{session}-{n}", self.root, self.run_tag)
    }
    pub fn pool_dir(&self) -> String {
        format!("{}/d", self.root)
    }
    pub fn pooled(&self, i: usize) -> String {
        format!("{}/d/{}-{i}", self.root, self.run_tag)
    }
    pub fn ephemeral_dir(&self) -> String {
        format!("{}/e", self.root)
    }
    pub fn ephemeral_prefix(&self) -> String {
        format!("{}/e/{}-", self.root, self.run_tag)
    }
    pub fn watch_node(&self) -> String {
        format!("{}/w", self.root)
    }
    /// Parents the workload needs, root first.
    pub fn dirs(&self, w: Workload) -> Vec<String> {
        let mut d = vec![self.root.clone()];
        match w {
            Workload::Create => d.push(self.create_dir()),
            Workload::Delete => d.push(self.pool_dir()),
            Workload::Ephemeral => d.push(self.ephemeral_dir()),
            Workload::Watch => d.push(self.watch_node()),
            _ => d.push(self.keys_dir()),
        }
        d
    }
}

pub fn create_request(path: String, data: Bytes, flags: i32) -> Request {
    Request::Create {
        op: paddock::protocol::op::CREATE,
        request: CreateRequest {
            path,
            data,
            acl: Acl::open_unsafe(),
            flags,
            ttl_ms: 0,
        },
    }
}

pub fn delete_request(path: String) -> Request {
    Request::Delete(DeleteRequest { path, version: -1 })
}

pub fn set_request(path: String, data: Bytes) -> Request {
    Request::SetData(SetDataRequest {
        path,
        data,
        version: -1,
    })
}

/// Makes the request of each operation of a key-based workload. One per thread.
pub struct OpGen {
    workload: Workload,
    keys: KeyChooser,
    read_percent: u32,
    multi_ops: usize,
    data: Bytes,
    /// `<root>/k/<i>`, built once: an op clones one short string.
    key_paths: std::sync::Arc<Vec<String>>,
    pub rng: Rng,
    scratch: Vec<usize>,
}

impl OpGen {
    pub fn new(
        c: &RunConfig,
        key_paths: std::sync::Arc<Vec<String>>,
        data: Bytes,
        seed: u64,
    ) -> OpGen {
        OpGen {
            workload: c.workload,
            keys: KeyChooser::new(c),
            read_percent: c.read_percent,
            multi_ops: c.multi_ops,
            data,
            key_paths,
            rng: Rng::new(seed),
            scratch: Vec::new(),
        }
    }

    fn key(&mut self) -> String {
        let k = self.keys.next(&mut self.rng);
        self.key_paths[k].clone()
    }

    /// The next request of a set/get/exists/mixed/multi workload.
    pub fn next(&mut self) -> (OpKind, Request) {
        match self.workload {
            Workload::Set => (OpKind::Set, set_request(self.key(), self.data.clone())),
            Workload::Get => (
                OpKind::Get,
                Request::GetData(PathWatch {
                    path: self.key(),
                    watch: false,
                }),
            ),
            Workload::Exists => (
                OpKind::Exists,
                Request::Exists(PathWatch {
                    path: self.key(),
                    watch: false,
                }),
            ),
            Workload::Mixed => {
                if self.rng.below(100) < self.read_percent as u64 {
                    (
                        OpKind::Get,
                        Request::GetData(PathWatch {
                            path: self.key(),
                            watch: false,
                        }),
                    )
                } else {
                    (OpKind::Set, set_request(self.key(), self.data.clone()))
                }
            }
            Workload::Multi => {
                // Distinct keys: a multi touching one node twice is legal but not what we measure.
                self.scratch.clear();
                while self.scratch.len() < self.multi_ops {
                    let k = self.keys.next(&mut self.rng);
                    if !self.scratch.contains(&k) {
                        self.scratch.push(k);
                    }
                }
                let ops = self
                    .scratch
                    .iter()
                    .map(|&k| {
                        MultiOp::SetData(SetDataRequest {
                            path: self.key_paths[k].clone(),
                            data: self.data.clone(),
                            version: -1,
                        })
                    })
                    .collect();
                (OpKind::Multi, Request::Multi(ops))
            }
            w => panic!("OpGen does not drive {w:?}"),
        }
    }
}

/// The payload of creates and sets: printable, deterministic.
pub fn payload(n: usize) -> Bytes {
    Bytes::from((0..n).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipfian_follows_the_power_law() {
        let n = 1000u64;
        let theta = 0.99;
        let z = Zipfian::new(n, theta);
        let mut rng = Rng::new(7);
        let samples = 400_000;
        let mut counts = vec![0u64; n as usize];
        for _ in 0..samples {
            let r = z.sample(&mut rng);
            assert!(r < n);
            counts[r as usize] += 1;
        }
        // Rank 0 has probability 1/zeta(n); rank 1 has 1/(2^theta * zeta(n)).
        let p0 = counts[0] as f64 / samples as f64;
        let want0 = 1.0 / z.zetan();
        assert!((p0 - want0).abs() / want0 < 0.05, "p0 {p0} want {want0}");
        let p1 = counts[1] as f64 / samples as f64;
        let want1 = want0 / 2f64.powf(theta);
        assert!((p1 - want1).abs() / want1 < 0.05, "p1 {p1} want {want1}");
        // Heavy head, long tail: the top 10% of ranks get most of the mass,
        // and mass decreases from decile to decile.
        let decile = |d: usize| counts[d * 100..(d + 1) * 100].iter().sum::<u64>();
        assert!(decile(0) as f64 / samples as f64 > 0.6);
        for d in 1..9 {
            assert!(decile(d) >= decile(d + 1) * 9 / 10, "decile {d}");
        }
        // Every rank is reachable.
        assert!(counts.iter().filter(|&&c| c == 0).count() < 10);
    }

    #[test]
    fn uniform_is_flat() {
        let mut rng = Rng::new(3);
        let mut counts = [0u64; 10];
        for _ in 0..100_000 {
            counts[rng.below(10) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn multi_touches_distinct_keys() {
        let c = RunConfig {
            workload: Workload::Multi,
            keys: 20,
            multi_ops: 10,
            ..RunConfig::default()
        };
        let paths: Vec<String> = (0..20).map(|i| format!("/k/{i}")).collect();
        let mut g = OpGen::new(&c, std::sync::Arc::new(paths), payload(4), 1);
        for _ in 0..100 {
            let (_, Request::Multi(ops)) = g.next() else {
                panic!()
            };
            let mut p: Vec<_> = ops.iter().map(|o| format!("{o:?}")).collect();
            p.sort();
            p.dedup();
            assert_eq!(p.len(), 10);
        }
    }
}
