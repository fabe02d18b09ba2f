//! Setup and cleanup through a small blocking client that pipelines: a window
//! of requests is kept in flight on one session, so creating thousands of keys
//! takes about one round trip per window, not one per key.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use paddock::protocol::{xid, ErrorCode, Request};

use crate::cli::{RunConfig, Workload};
use crate::workload::{create_request, delete_request, set_request, Layout};
use crate::zk;

const WINDOW: usize = 512;
const CHUNK: usize = 20_000;
const NODE_EXISTS: i32 = ErrorCode::NodeExists as i32;
const NO_NODE: i32 = ErrorCode::NoNode as i32;
const NOT_EMPTY: i32 = ErrorCode::NotEmpty as i32;

pub struct SyncClient {
    stream: TcpStream,
    rbuf: Vec<u8>,
    out: Vec<u8>,
    next_xid: i32,
    deadline: Instant,
}

impl SyncClient {
    pub fn connect(
        addr: &SocketAddr,
        timeout_ms: i32,
        deadline: Instant,
    ) -> Result<SyncClient, String> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let stream = TcpStream::connect_timeout(addr, left.min(Duration::from_secs(5)))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).ok();
        let mut c = SyncClient {
            stream,
            rbuf: Vec::new(),
            out: Vec::new(),
            next_xid: 1,
            deadline,
        };
        zk::write_connect_request(&mut c.out, &zk::new_session(timeout_ms));
        c.write_out()?;
        let frame = c.read_frame()?;
        let resp = zk::connect_response(&frame).map_err(|e| format!("connect response: {e}"))?;
        if resp.timeout_ms <= 0 {
            return Err(format!("{addr} refused the session"));
        }
        Ok(c)
    }

    fn write_out(&mut self) -> Result<(), String> {
        self.stream
            .write_all(&self.out)
            .map_err(|e| format!("send: {e}"))?;
        self.out.clear();
        Ok(())
    }

    fn read_frame(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(n) =
                zk::frame_length(&self.rbuf, zk::MAX_FRAME_BYTES).map_err(|e| format!("{e:?}"))?
            {
                let frame = self.rbuf[4..4 + n].to_vec();
                self.rbuf.drain(..4 + n);
                return Ok(frame);
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("deadline exceeded during setup/cleanup".into());
            }
            self.stream.set_read_timeout(Some(left)).ok();
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("server closed the connection".into()),
                Ok(n) => self.rbuf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
    }

    /// Sends every request with up to `WINDOW` in flight; returns each one's error code.
    pub fn pipeline(&mut self, reqs: &[Request]) -> Result<Vec<i32>, String> {
        let mut errs = Vec::with_capacity(reqs.len());
        let mut sent = 0;
        while errs.len() < reqs.len() {
            while sent < reqs.len() && sent - errs.len() < WINDOW {
                let x = self.next_xid;
                self.next_xid += 1;
                zk::write_request(&mut self.out, x, &reqs[sent]);
                sent += 1;
            }
            if !self.out.is_empty() {
                self.write_out()?;
            }
            let frame = self.read_frame()?;
            let h = zk::reply_header(&mut zk::Reader::new(&frame))
                .map_err(|e| format!("reply: {e}"))?;
            if h.xid == xid::NOTIFICATION || h.xid == xid::PING {
                continue;
            }
            errs.push(h.err);
        }
        Ok(errs)
    }

    pub fn close(mut self) {
        let x = self.next_xid;
        zk::write_request(&mut self.out, x, &Request::CloseSession);
        if self.write_out().is_ok() {
            let _ = self.read_frame();
        }
    }
}

fn check(errs: &[i32], ok: &[i32], what: &str) -> Result<(), String> {
    for &e in errs {
        if e != 0 && !ok.contains(&e) {
            return Err(format!("{what}: {}", zk::error_name(e)));
        }
    }
    Ok(())
}

/// Creates the parents, the keys (set/get/exists/mixed/multi), the delete pool
/// or the watched node. Existing keys are reused (their data is reset to
/// `--data-bytes`).
pub fn setup(
    c: &mut SyncClient,
    cfg: &RunConfig,
    layout: &Layout,
    data: &bytes::Bytes,
) -> Result<(), String> {
    let dirs: Vec<Request> = layout
        .dirs(cfg.workload)
        .into_iter()
        .map(|d| {
            let payload = if d == layout.watch_node() {
                data.clone()
            } else {
                bytes::Bytes::new()
            };
            create_request(d, payload, 0)
        })
        .collect();
    check(&c.pipeline(&dirs)?, &[NODE_EXISTS], "creating parents")?;
    if cfg.workload.uses_keys() {
        for lo in (0..cfg.keys).step_by(CHUNK) {
            let hi = (lo + CHUNK).min(cfg.keys);
            let reqs: Vec<Request> = (lo..hi)
                .map(|i| create_request(layout.key(i), data.clone(), 0))
                .collect();
            let errs = c.pipeline(&reqs)?;
            check(&errs, &[NODE_EXISTS], "creating keys")?;
            let reset: Vec<Request> = (lo..hi)
                .zip(&errs)
                .filter(|(_, &e)| e == NODE_EXISTS)
                .map(|(i, _)| set_request(layout.key(i), data.clone()))
                .collect();
            check(&c.pipeline(&reset)?, &[], "resetting existing keys")?;
        }
    }
    if cfg.workload == Workload::Delete {
        for lo in (0..cfg.keys).step_by(CHUNK) {
            let hi = (lo + CHUNK).min(cfg.keys);
            let reqs: Vec<Request> = (lo..hi)
                .map(|i| create_request(layout.pooled(i), data.clone(), 0))
                .collect();
            check(&c.pipeline(&reqs)?, &[], "creating the delete pool")?;
        }
    }
    if cfg.workload == Workload::Watch {
        check(
            &c.pipeline(&[set_request(layout.watch_node(), data.clone())])?,
            &[],
            "resetting the watched node",
        )?;
    }
    Ok(())
}

/// Deletes what the run created. `created`: (session, count) of the create
/// workload; `pool_next`: first delete-pool index not consumed.
pub fn cleanup(
    c: &mut SyncClient,
    cfg: &RunConfig,
    layout: &Layout,
    created: &[(usize, u64)],
    pool_next: usize,
) -> Result<u64, String> {
    let mut paths: Vec<String> = Vec::new();
    match cfg.workload {
        Workload::Create => {
            for &(s, n) in created {
                paths.extend((0..n).map(|k| layout.created(s, k)));
            }
        }
        Workload::Delete => {
            paths.extend((pool_next.min(cfg.keys)..cfg.keys).map(|i| layout.pooled(i)))
        }
        w if w.uses_keys() => paths.extend((0..cfg.keys).map(|i| layout.key(i))),
        _ => {}
    }
    let mut deleted = 0u64;
    for chunk in paths.chunks(CHUNK) {
        let reqs: Vec<Request> = chunk.iter().map(|p| delete_request(p.clone())).collect();
        let errs = c.pipeline(&reqs)?;
        check(&errs, &[NO_NODE], "cleanup")?;
        deleted += errs.iter().filter(|&&e| e == 0).count() as u64;
    }
    // Parents, deepest first. Ephemerals vanish as their sessions close, which
    // may lag a little: retry a NotEmpty a few times.
    let mut dirs = layout.dirs(cfg.workload);
    dirs.reverse();
    for d in dirs {
        for attempt in 0..10 {
            let e = c.pipeline(&[delete_request(d.clone())])?[0];
            if e == NOT_EMPTY && attempt < 9 && d != layout.root {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            check(&[e], &[NO_NODE, NOT_EMPTY], "cleanup")?;
            break;
        }
    }
    Ok(deleted)
}
