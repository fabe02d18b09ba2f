//! The engine: a few OS threads, each driving many sessions over non-blocking
//! sockets with one epoll set. No async runtime.
//!
//! Per session the driver keeps a reusable read buffer and write buffer and a
//! FIFO of the requests in flight (ZooKeeper answers a session's requests in
//! order, so a reply matches the oldest pending xid). Requests produced during
//! one loop iteration are appended to the write buffer and go out in one
//! `send` per session per iteration, so with K in flight the syscalls are
//! shared by many ops. A reply is decoded only as far as its ReplyHeader
//! (plus the event type of a watch notification).
//!
//! Closed loop: each session keeps `--inflight` requests outstanding; latency
//! runs from the send. Open loop: a [`Pacer`] per thread fixes each op's
//! intended instant; due ops take any session slot free (up to the in-flight
//! cap) or wait in a backlog; latency runs from the intended instant (see
//! `schedule.rs`). A timerfd gives nanosecond wake-ups for the schedule.
//!
//! Phases (instants in CLOCK_MONOTONIC ns, shared by all threads): connect all
//! sessions, barrier, warm-up, measured window, drain (ops started in the
//! window finish), close sessions. Ops are measured when they *start* in the
//! window; throughput counts ops that *complete* in it. Past the global
//! deadline a thread gives up and reports `deadline_exceeded`.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex};

use bytes::Bytes;
use paddock::protocol::{xid, PathWatch, Request};

use crate::cli::{RunConfig, Workload};
use crate::histo::{new_hist, Hist};
use crate::schedule::{latency_ns, OpenLoop, Pacer};
use crate::sys::{self, now_ns, Epoll, Timer};
use crate::workload::{
    create_request, delete_request, set_request, Layout, OpGen, OpKind, OP_KINDS,
};
use crate::zk;

const MS: u64 = 1_000_000;
const TIMER_TOKEN: u64 = u64::MAX;
const RECONNECT_DELAY: u64 = 100 * MS;
const READ_CHUNK: usize = 64 * 1024;
const EV_IN: u32 = libc::EPOLLIN as u32;
const EV_OUT: u32 = libc::EPOLLOUT as u32;
const EV_ERR: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// What every thread shares: the plan (read-only) and the live counters.
pub struct Shared {
    pub cfg: RunConfig,
    pub layout: Layout,
    pub addrs: Vec<SocketAddr>,
    pub key_paths: Arc<Vec<String>>,
    pub data: Bytes,
    /// Phase instants, set by the main thread between the two start barriers.
    pub t0: AtomicU64,
    pub measure_start: AtomicU64,
    pub measure_end: AtomicU64,
    pub deadline: AtomicU64,
    /// Live progress (flushed by each thread every ~200 ms).
    pub done_total: AtomicU64,
    pub done_measured: AtomicU64,
    pub errors: AtomicU64,
    pub losses: AtomicU64,
    pub measured_hist: Mutex<Hist>,
    /// Next index of the delete pool.
    pub pool_next: AtomicUsize,
    pub abort: AtomicBool,
}

/// What one thread measured.
pub struct ThreadResult {
    /// Measured-window latencies per [`OpKind`] (index = kind as usize).
    pub by_kind: Vec<Hist>,
    pub all: Hist,
    /// Session connect latencies (TCP connect to ConnectResponse) in the window.
    pub connect: Hist,
    pub completed_in_window: u64,
    pub errors: HashMap<i32, u64>,
    pub connection_losses: u64,
    pub connect_failures: u64,
    pub sessions_opened: u64,
    pub sessions_closed: u64,
    pub notifications: u64,
    /// (global session index, nodes it created) for `--cleanup` of `create`.
    pub created: Vec<(usize, u64)>,
    pub pool_exhausted: bool,
    pub deadline_exceeded: bool,
    pub fatal: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting to (re)connect at the instant.
    Reconnect(u64),
    Connecting,
    Handshake,
    Ready,
    /// closeSession sent.
    Closing,
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Op(OpKind),
    /// watch: exists(watch=true) of a watcher.
    Arm,
    /// watch: the writer's setData.
    WatchWrite,
    Close,
}

struct Pending {
    xid: i32,
    start: u64,
    tag: Tag,
}

struct Session {
    /// Global session index (host = index mod hosts at first).
    idx: usize,
    host: usize,
    fd: RawFd,
    state: State,
    interest: u32,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    woff: usize,
    dirty: bool,
    inflight: VecDeque<Pending>,
    next_xid: i32,
    last_send: u64,
    timeout_ms: i32,
    connect_start: u64,
    created: u64,
    eph_sent: usize,
}

impl Session {
    fn new(idx: usize, host: usize) -> Session {
        Session {
            idx,
            host,
            fd: -1,
            state: State::Reconnect(0),
            interest: 0,
            rbuf: vec![0; READ_CHUNK],
            rstart: 0,
            rend: 0,
            wbuf: Vec::with_capacity(READ_CHUNK),
            woff: 0,
            dirty: false,
            inflight: VecDeque::new(),
            next_xid: 1,
            last_send: 0,
            timeout_ms: 0,
            connect_start: 0,
            created: 0,
            eph_sent: 0,
        }
    }
    fn xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum WatchPhase {
    Idle,
    Arming {
        armed: usize,
    },
    Firing {
        t0: u64,
        notified: usize,
        write_done: bool,
        last: u64,
    },
}

struct Driver {
    sh: Arc<Shared>,
    epoll: Epoll,
    timer: Timer,
    s: Vec<Session>,
    dirty: Vec<usize>,
    gen: Option<OpGen>,
    open: Option<OpenLoop>,
    rr: usize,
    watch: WatchPhase,
    watchers: usize,
    // phase instants
    t0: u64,
    m_start: u64,
    m_end: u64,
    deadline: u64,
    // results
    r: ThreadResult,
    delta: Hist,
    delta_done: u64,
    delta_measured: u64,
    delta_errors: u64,
    delta_losses: u64,
}

/// Sessions a thread drives: (global index, first host).
pub fn sessions_of(cfg: &RunConfig, thread: usize) -> Vec<(usize, usize)> {
    let total = if cfg.workload == Workload::Watch {
        if thread != 0 {
            return Vec::new();
        }
        cfg.watchers + 1
    } else {
        cfg.sessions
    };
    let threads = if cfg.workload == Workload::Watch {
        1
    } else {
        cfg.threads
    };
    (0..total)
        .filter(|i| i % threads == thread)
        .map(|i| (i, i % cfg.hosts.len()))
        .collect()
}

/// Runs one thread: connect, two barriers with the main thread, the load, the close.
pub fn run_thread(id: usize, sh: Arc<Shared>, start: Arc<Barrier>) -> ThreadResult {
    let mut d = match Driver::new(id, sh.clone()) {
        Ok(d) => d,
        Err(e) => {
            sh.abort.store(true, Relaxed);
            start.wait();
            start.wait();
            let mut r = empty_result();
            r.fatal = Some(format!("thread {id}: {e}"));
            return r;
        }
    };
    d.deadline = sh.deadline.load(Relaxed);
    let connected = d.connect_all();
    if let Err(e) = &connected {
        d.r.fatal = Some(e.clone());
        sh.abort.store(true, Relaxed);
    }
    start.wait(); // every thread connected (or failed)
    start.wait(); // the main thread has set the phase instants
    if connected.is_ok() && !sh.abort.load(Relaxed) {
        d.t0 = sh.t0.load(Relaxed);
        d.m_start = sh.measure_start.load(Relaxed);
        d.m_end = sh.measure_end.load(Relaxed);
        d.deadline = sh.deadline.load(Relaxed);
        if let Some(rate) = sh.cfg.rate {
            let threads = sh.cfg.threads as f64;
            // Interleave the threads' schedules.
            let offset = (1e9 / rate * id as f64) as u64;
            d.open = Some(OpenLoop::new(Pacer::new(
                d.t0 + offset,
                rate / threads,
                d.m_end,
            )));
        }
        if let Err(e) = d.run() {
            d.r.fatal = Some(e);
        }
        d.close_all();
    }
    d.flush_progress();
    d.r.created =
        d.s.iter()
            .filter(|s| s.created > 0)
            .map(|s| (s.idx, s.created))
            .collect();
    for s in &d.s {
        if s.fd >= 0 {
            sys::close(s.fd);
        }
    }
    d.r
}

fn empty_result() -> ThreadResult {
    ThreadResult {
        by_kind: OP_KINDS.iter().map(|_| new_hist()).collect(),
        all: new_hist(),
        connect: new_hist(),
        completed_in_window: 0,
        errors: HashMap::new(),
        connection_losses: 0,
        connect_failures: 0,
        sessions_opened: 0,
        sessions_closed: 0,
        notifications: 0,
        created: Vec::new(),
        pool_exhausted: false,
        deadline_exceeded: false,
        fatal: None,
    }
}

impl Driver {
    fn new(id: usize, sh: Arc<Shared>) -> io::Result<Driver> {
        let sessions: Vec<Session> = sessions_of(&sh.cfg, id)
            .into_iter()
            .map(|(i, h)| Session::new(i, h))
            .collect();
        let epoll = Epoll::new(sessions.len() + 1)?;
        let timer = Timer::new()?;
        // Edge-triggered: re-arming resets the expiry count, so the fd is never read.
        epoll.add(timer.fd, EV_IN | libc::EPOLLET as u32, TIMER_TOKEN)?;
        let gen = sh.cfg.workload.uses_keys().then(|| {
            OpGen::new(
                &sh.cfg,
                sh.key_paths.clone(),
                sh.data.clone(),
                sh.cfg.seed.wrapping_add(id as u64 * 7919),
            )
        });
        Ok(Driver {
            watchers: if sh.cfg.workload == Workload::Watch {
                sh.cfg.watchers
            } else {
                0
            },
            sh,
            epoll,
            timer,
            s: sessions,
            dirty: Vec::new(),
            gen,
            open: None,
            rr: 0,
            watch: WatchPhase::Idle,
            t0: u64::MAX,
            m_start: u64::MAX,
            m_end: u64::MAX,
            deadline: u64::MAX,
            r: empty_result(),
            delta: new_hist(),
            delta_done: 0,
            delta_measured: 0,
            delta_errors: 0,
            delta_losses: 0,
        })
    }

    fn workload(&self) -> Workload {
        self.sh.cfg.workload
    }

    fn in_window(&self, t: u64) -> bool {
        t >= self.m_start && t < self.m_end
    }

    // ---------------------------------------------------------------- phases

    fn connect_all(&mut self) -> Result<(), String> {
        let now = now_ns();
        for i in 0..self.s.len() {
            self.start_connect(i, now);
        }
        loop {
            if self.s.iter().all(|s| s.state == State::Ready) {
                return Ok(());
            }
            let now = now_ns();
            if now >= self.deadline || self.sh.abort.load(Relaxed) {
                let n = self.s.iter().filter(|s| s.state != State::Ready).count();
                return Err(format!(
                    "{n} session(s) could not connect before the deadline"
                ));
            }
            self.poll(10)?;
            self.reconnect_due(now_ns());
            self.flush();
        }
    }

    fn run(&mut self) -> Result<(), String> {
        let now = now_ns();
        self.begin_load(now);
        self.flush();
        let mut next_tick = now + 200 * MS;
        loop {
            let now = now_ns();
            if now >= self.deadline {
                self.r.deadline_exceeded = true;
                return Ok(());
            }
            if now >= self.m_end && self.drained() {
                return Ok(());
            }
            if now >= next_tick {
                next_tick = now + 200 * MS;
                self.housekeeping(now);
            }
            let timeout = self.plan_wait(now, next_tick);
            self.poll(timeout)?;
            let now = now_ns();
            self.dispatch_open(now);
            if self.workload() == Workload::Watch && self.watch == WatchPhase::Idle {
                self.start_round(now);
            }
            self.flush();
        }
    }

    /// Sends closeSession on every live session and waits (briefly) for the replies.
    fn close_all(&mut self) {
        let now = now_ns();
        for i in 0..self.s.len() {
            if self.s[i].state == State::Ready {
                self.send(i, Request::CloseSession, Tag::Close, now);
                self.s[i].state = State::Closing;
            } else if self.s[i].state != State::Closing {
                self.drop_session(i);
            }
        }
        self.flush();
        let until = (now + 2000 * MS).min(self.deadline.max(now + 200 * MS));
        while self.s.iter().any(|s| s.state == State::Closing) && now_ns() < until {
            if self.poll(10).is_err() {
                break;
            }
            self.flush();
        }
    }

    fn drained(&self) -> bool {
        if let Some(ol) = &self.open {
            if !ol.finished() {
                return false;
            }
        }
        self.s.iter().all(|s| {
            s.inflight.iter().all(|p| p.tag == Tag::Close)
                || !matches!(s.state, State::Ready | State::Closing | State::Handshake)
        })
    }

    fn begin_load(&mut self, now: u64) {
        match self.workload() {
            Workload::Watch => self.start_round(now),
            Workload::Ephemeral => {
                for i in 0..self.s.len() {
                    self.session_ready_ephemeral(i, now);
                }
            }
            _ if self.open.is_some() => self.dispatch_open(now),
            _ => {
                let k = self.sh.cfg.inflight;
                for i in 0..self.s.len() {
                    for _ in 0..k {
                        if !self.issue(i, now, now) {
                            break;
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------ the loop

    /// How long epoll may sleep (ms); arms the timerfd for the next open-loop op.
    fn plan_wait(&mut self, now: u64, next_tick: u64) -> i32 {
        let mut until = next_tick;
        if let Some(ol) = &self.open {
            if let Some(t) = ol.next_wakeup() {
                if t > now {
                    self.timer.arm(t);
                } else if self.has_capacity() {
                    return 0;
                }
            }
        }
        if self.m_end > now {
            until = until.min(self.m_end);
        }
        (until.saturating_sub(now).div_ceil(MS)).min(200) as i32
    }

    fn has_capacity(&self) -> bool {
        let k = self.sh.cfg.inflight;
        self.s
            .iter()
            .any(|s| s.state == State::Ready && s.inflight.len() < k)
    }

    fn poll(&mut self, timeout_ms: i32) -> Result<(), String> {
        let events: Vec<(u64, u32)> = match self.epoll.wait(timeout_ms) {
            Ok(evs) => evs.collect(),
            Err(e) => return Err(format!("epoll_wait: {e}")),
        };
        let now = now_ns();
        for (token, ev) in events {
            if token == TIMER_TOKEN {
                self.timer.fired();
                continue;
            }
            let i = token as usize;
            match self.s[i].state {
                State::Connecting if ev & (EV_OUT | EV_ERR) != 0 => self.finish_connect(i, now),
                State::Handshake | State::Ready | State::Closing => {
                    if ev & (EV_IN | EV_ERR) != 0 {
                        self.read_session(i, now);
                    }
                    if ev & EV_OUT != 0 && self.s[i].fd >= 0 {
                        self.mark_dirty(i);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn housekeeping(&mut self, now: u64) {
        self.reconnect_due(now);
        // Pings keep idle sessions alive (open loop at low rates, watchers).
        for i in 0..self.s.len() {
            let s = &self.s[i];
            if s.state == State::Ready
                && s.timeout_ms > 0
                && now - s.last_send > s.timeout_ms as u64 * MS / 3
            {
                let s = &mut self.s[i];
                zk::write_request(&mut s.wbuf, xid::PING, &Request::Ping);
                s.last_send = now;
                self.mark_dirty(i);
            }
        }
        self.flush_progress();
    }

    fn flush_progress(&mut self) {
        let sh = &self.sh;
        if !self.delta.is_empty() {
            if let Ok(mut h) = sh.measured_hist.lock() {
                let _ = h.add(&self.delta);
            }
            self.delta.reset();
        }
        sh.done_total
            .fetch_add(std::mem::take(&mut self.delta_done), Relaxed);
        sh.done_measured
            .fetch_add(std::mem::take(&mut self.delta_measured), Relaxed);
        sh.errors
            .fetch_add(std::mem::take(&mut self.delta_errors), Relaxed);
        sh.losses
            .fetch_add(std::mem::take(&mut self.delta_losses), Relaxed);
    }

    // ------------------------------------------------------- connections

    fn start_connect(&mut self, i: usize, now: u64) {
        let addr = self.sh.addrs[self.s[i].host];
        self.s[i].connect_start = now;
        match sys::connect_nonblocking(&addr) {
            Ok(fd) => {
                let s = &mut self.s[i];
                s.fd = fd;
                s.state = State::Connecting;
                s.interest = EV_IN | EV_OUT;
                if self.epoll.add(fd, EV_IN | EV_OUT, i as u64).is_err() {
                    self.fail(i, now, false);
                }
            }
            Err(_) => self.fail(i, now, false),
        }
    }

    fn finish_connect(&mut self, i: usize, now: u64) {
        if sys::take_socket_error(self.s[i].fd).is_err() {
            self.fail(i, now, false);
            return;
        }
        let s = &mut self.s[i];
        s.state = State::Handshake;
        s.rstart = 0;
        s.rend = 0;
        zk::write_connect_request(
            &mut s.wbuf,
            &zk::new_session(self.sh.cfg.session_timeout_ms),
        );
        self.set_interest(i, EV_IN);
        self.mark_dirty(i);
    }

    fn reconnect_due(&mut self, now: u64) {
        for i in 0..self.s.len() {
            if let State::Reconnect(at) = self.s[i].state {
                if at <= now {
                    self.start_connect(i, now);
                }
            }
        }
    }

    /// The connection is gone: count it, fail what was in flight, reconnect later.
    fn fail(&mut self, i: usize, now: u64, was_loss: bool) {
        let hosts = self.sh.addrs.len();
        let lost = self.s[i]
            .inflight
            .iter()
            .filter(|p| p.tag != Tag::Close)
            .count() as u64;
        let was_ready = matches!(self.s[i].state, State::Ready | State::Closing);
        self.drop_session(i);
        if was_loss || was_ready {
            self.r.connection_losses += 1;
            self.delta_losses += 1;
        } else {
            self.r.connect_failures += 1;
        }
        if lost > 0 {
            *self
                .r
                .errors
                .entry(zk::ErrorCode::ConnectionLoss.code())
                .or_default() += lost;
            self.delta_errors += lost;
        }
        let s = &mut self.s[i];
        s.host = (s.host + 1) % hosts;
        let ending = now >= self.m_end;
        s.state = if ending {
            State::Done
        } else {
            State::Reconnect(now + RECONNECT_DELAY)
        };
        if self.workload() == Workload::Watch && self.watch != WatchPhase::Idle {
            self.watch = WatchPhase::Idle;
        }
    }

    /// Closes the socket and forgets buffered state.
    fn drop_session(&mut self, i: usize) {
        let s = &mut self.s[i];
        if s.fd >= 0 {
            sys::close(s.fd);
            s.fd = -1;
        }
        s.inflight.clear();
        s.wbuf.clear();
        s.woff = 0;
        s.rstart = 0;
        s.rend = 0;
        s.interest = 0;
        s.state = State::Done;
    }

    fn set_interest(&mut self, i: usize, interest: u32) {
        let s = &mut self.s[i];
        if s.interest != interest && s.fd >= 0 {
            s.interest = interest;
            let _ = self.epoll.modify(s.fd, interest, i as u64);
        }
    }

    fn mark_dirty(&mut self, i: usize) {
        if !self.s[i].dirty {
            self.s[i].dirty = true;
            self.dirty.push(i);
        }
    }

    /// One `send` per dirty session; the rest waits for EPOLLOUT.
    fn flush(&mut self) {
        let now = now_ns();
        let mut dirty = std::mem::take(&mut self.dirty);
        for &i in &dirty {
            self.s[i].dirty = false;
            let s = &mut self.s[i];
            if s.fd < 0 || s.woff >= s.wbuf.len() {
                s.wbuf.clear();
                s.woff = 0;
                continue;
            }
            match sys::write(s.fd, &s.wbuf[s.woff..]) {
                Ok(n) => {
                    s.woff += n;
                    if s.woff == s.wbuf.len() {
                        s.wbuf.clear();
                        s.woff = 0;
                        self.set_interest(i, EV_IN);
                    } else {
                        self.set_interest(i, EV_IN | EV_OUT);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.set_interest(i, EV_IN | EV_OUT)
                }
                Err(_) => self.fail(i, now, true),
            }
        }
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty; // keep the allocation
        }
    }

    fn read_session(&mut self, i: usize, now: u64) {
        let mut buf = std::mem::take(&mut self.s[i].rbuf);
        let (mut start, mut end) = (self.s[i].rstart, self.s[i].rend);
        // Make room: compact, then grow if one frame is bigger than the buffer.
        if buf.len() - end < READ_CHUNK / 4 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if buf.len() - end < READ_CHUNK / 4 {
                buf.resize(buf.len() * 2, 0);
            }
        }
        let result = sys::read(self.s[i].fd, &mut buf[end..]);
        let mut ok = true;
        match result {
            Ok(0) => ok = false,
            Ok(n) => end += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => ok = false,
        }
        while ok && start < end {
            match zk::frame_length(&buf[start..end], zk::MAX_FRAME_BYTES) {
                Ok(Some(n)) => {
                    let frame = &buf[start + 4..start + 4 + n];
                    start += 4 + n;
                    if !self.on_frame(i, frame, now) {
                        ok = false;
                    }
                }
                Ok(None) => break,
                Err(_) => ok = false,
            }
            if self.s[i].fd < 0 {
                break;
            }
        }
        if start == end {
            start = 0;
            end = 0;
        }
        let s = &mut self.s[i];
        s.rbuf = buf;
        s.rstart = start;
        s.rend = end;
        if !ok && s.fd >= 0 {
            if s.state == State::Closing && s.inflight.is_empty() {
                self.drop_session(i);
            } else {
                self.fail(i, now, true);
            }
        }
    }

    /// Handles one frame; false when the connection must be dropped.
    fn on_frame(&mut self, i: usize, frame: &[u8], now: u64) -> bool {
        if self.s[i].state == State::Handshake {
            return match zk::connect_response(frame) {
                Ok(resp) if resp.timeout_ms > 0 && resp.session_id != 0 => {
                    let s = &mut self.s[i];
                    s.state = State::Ready;
                    s.timeout_ms = resp.timeout_ms;
                    s.last_send = now;
                    let cs = s.connect_start;
                    self.r.sessions_opened += 1;
                    if self.in_window(cs) {
                        let _ = self.r.connect.record(latency_ns(cs, now).max(1));
                    }
                    if self.t0 != u64::MAX {
                        self.session_ready(i, now);
                    }
                    true
                }
                _ => false, // expired or garbage
            };
        }
        let mut r = zk::Reader::new(frame);
        let Ok(h) = zk::reply_header(&mut r) else {
            return false;
        };
        match h.xid {
            xid::NOTIFICATION => {
                let ev = zk::watcher_event_type(&mut r).unwrap_or(0);
                self.on_notification(i, ev, now);
                true
            }
            xid::PING | xid::AUTH | xid::SET_WATCHES => true,
            x => {
                let Some(p) = self.s[i].inflight.pop_front() else {
                    return false;
                };
                if p.xid != x {
                    return false; // out of order: not a server we understand
                }
                self.on_reply(i, p, h.err, now);
                true
            }
        }
    }

    // ------------------------------------------------------------- ops

    /// Encodes and queues a request on session `i`.
    fn send(&mut self, i: usize, req: Request, tag: Tag, start: u64) {
        let s = &mut self.s[i];
        let x = s.xid();
        zk::write_request(&mut s.wbuf, x, &req);
        s.inflight.push_back(Pending { xid: x, start, tag });
        s.last_send = start;
        self.mark_dirty(i);
    }

    /// Issues the next op of a create/delete/keyed workload on session `i`,
    /// measured from `start`. False if there is nothing to issue.
    fn issue(&mut self, i: usize, start: u64, now: u64) -> bool {
        if self.s[i].state != State::Ready {
            return false;
        }
        let (kind, req) = match self.workload() {
            Workload::Create => {
                let s = &mut self.s[i];
                let path = self.sh.layout.created(s.idx, s.created);
                s.created += 1;
                (
                    OpKind::Create,
                    create_request(path, self.sh.data.clone(), 0),
                )
            }
            Workload::Delete => {
                let n = self.sh.pool_next.fetch_add(1, Relaxed);
                if n >= self.sh.cfg.keys {
                    self.r.pool_exhausted = true;
                    return false;
                }
                (OpKind::Delete, delete_request(self.sh.layout.pooled(n)))
            }
            Workload::Ephemeral => (
                OpKind::Create,
                create_request(self.sh.layout.ephemeral_prefix(), self.sh.data.clone(), 3),
            ),
            _ => match self.gen.as_mut() {
                Some(g) => g.next(),
                None => return false,
            },
        };
        self.send(i, req, Tag::Op(kind), start.min(now));
        true
    }

    /// Open loop: hands due ops to sessions with a free slot, round-robin.
    fn dispatch_open(&mut self, now: u64) {
        let Some(ol) = self.open.as_mut() else { return };
        ol.poll(now);
        let k = self.sh.cfg.inflight;
        let n = self.s.len();
        while self.open.as_ref().is_some_and(|o| o.backlog() > 0) {
            let mut found = None;
            for step in 0..n {
                let i = (self.rr + step) % n;
                if self.s[i].state == State::Ready && self.s[i].inflight.len() < k {
                    found = Some(i);
                    break;
                }
            }
            let Some(i) = found else { break };
            self.rr = (i + 1) % n;
            let intended = self.open.as_mut().and_then(|o| o.take()).expect("backlog");
            if !self.issue(i, intended, now) {
                // Nothing to issue (delete pool exhausted): drop the schedule.
                if let Some(o) = self.open.as_mut() {
                    while o.take().is_some() {}
                    o.pacer = Pacer::new(0, 1.0, 0);
                }
                break;
            }
        }
    }

    fn record(&mut self, kind: OpKind, start: u64, now: u64) {
        let lat = latency_ns(start, now).max(1);
        self.delta_done += 1;
        if self.in_window(start) {
            let _ = self.r.all.record(lat);
            let _ = self.r.by_kind[kind as usize].record(lat);
            let _ = self.delta.record(lat);
        }
        if self.in_window(now) {
            self.r.completed_in_window += 1;
            self.delta_measured += 1;
        }
    }

    fn count_error(&mut self, err: i32) {
        *self.r.errors.entry(err).or_default() += 1;
        self.delta_errors += 1;
    }

    fn on_reply(&mut self, i: usize, p: Pending, err: i32, now: u64) {
        if err != 0 {
            self.count_error(err);
        }
        match p.tag {
            Tag::Op(kind) => {
                if err == 0 {
                    self.record(kind, p.start, now);
                }
                match self.workload() {
                    Workload::Ephemeral => self.ephemeral_next(i, now),
                    Workload::Watch => {}
                    _ if self.open.is_some() => {}
                    _ => {
                        if now < self.m_end {
                            self.issue(i, now, now);
                        }
                    }
                }
            }
            Tag::Arm => {
                if let WatchPhase::Arming { armed } = self.watch {
                    if err != 0 {
                        self.watch = WatchPhase::Idle;
                        return;
                    }
                    let armed = armed + 1;
                    self.watch = WatchPhase::Arming { armed };
                    if armed == self.watchers {
                        let w = self.watchers;
                        let req = set_request(self.sh.layout.watch_node(), self.sh.data.clone());
                        self.send(w, req, Tag::WatchWrite, now);
                        self.watch = WatchPhase::Firing {
                            t0: now,
                            notified: 0,
                            write_done: false,
                            last: now,
                        };
                    }
                }
            }
            Tag::WatchWrite => {
                if let WatchPhase::Firing {
                    t0, notified, last, ..
                } = self.watch
                {
                    if err != 0 {
                        self.watch = WatchPhase::Idle;
                        return;
                    }
                    self.watch = WatchPhase::Firing {
                        t0,
                        notified,
                        write_done: true,
                        last,
                    };
                    self.watch_maybe_done(now);
                }
            }
            Tag::Close => {
                self.r.sessions_closed += 1;
                self.drop_session(i);
                if self.workload() == Workload::Ephemeral && now < self.m_end && self.t0 != u64::MAX
                {
                    // Churn: a new session in place of the closed one.
                    self.start_connect(i, now);
                }
            }
        }
    }

    /// A session (re)connected during the load: give it work.
    fn session_ready(&mut self, i: usize, now: u64) {
        match self.workload() {
            Workload::Ephemeral => self.session_ready_ephemeral(i, now),
            Workload::Watch => {} // the loop starts a round once every session is back
            _ if self.open.is_some() => {} // dispatch_open hands it due ops
            _ => {
                for _ in 0..self.sh.cfg.inflight {
                    if now >= self.m_end || !self.issue(i, now, now) {
                        break;
                    }
                }
            }
        }
    }

    // -------------------------------------------------- ephemeral churn

    fn session_ready_ephemeral(&mut self, i: usize, now: u64) {
        if now >= self.m_end || self.s[i].state != State::Ready {
            return;
        }
        self.s[i].eph_sent = 0;
        let first = self.sh.cfg.inflight.min(self.sh.cfg.ephemerals);
        for _ in 0..first {
            self.s[i].eph_sent += 1;
            self.issue(i, now, now);
        }
    }

    fn ephemeral_next(&mut self, i: usize, now: u64) {
        if self.s[i].state != State::Ready {
            return;
        }
        if self.s[i].eph_sent < self.sh.cfg.ephemerals && now < self.m_end {
            self.s[i].eph_sent += 1;
            self.issue(i, now, now);
        } else if self.s[i].inflight.is_empty() {
            self.send(i, Request::CloseSession, Tag::Close, now);
            self.s[i].state = State::Closing;
        }
    }

    // ---------------------------------------------------- watch fan-out

    fn start_round(&mut self, now: u64) {
        if now >= self.m_end || self.s.iter().any(|s| s.state != State::Ready) {
            self.watch = WatchPhase::Idle;
            return;
        }
        let node = self.sh.layout.watch_node();
        for w in 0..self.watchers {
            self.send(
                w,
                Request::Exists(PathWatch {
                    path: node.clone(),
                    watch: true,
                }),
                Tag::Arm,
                now,
            );
        }
        self.watch = WatchPhase::Arming { armed: 0 };
    }

    fn on_notification(&mut self, i: usize, event_type: i32, now: u64) {
        self.r.notifications += 1;
        // 3 = NodeDataChanged, what the writer's setData fires.
        if i >= self.watchers || event_type != 3 {
            return;
        }
        if let WatchPhase::Firing {
            t0,
            notified,
            write_done,
            ..
        } = self.watch
        {
            self.watch = WatchPhase::Firing {
                t0,
                notified: notified + 1,
                write_done,
                last: now,
            };
            self.watch_maybe_done(now);
        }
    }

    fn watch_maybe_done(&mut self, now: u64) {
        if let WatchPhase::Firing {
            t0,
            notified,
            write_done: true,
            last,
        } = self.watch
        {
            if notified >= self.watchers {
                self.record(OpKind::Watch, t0, last);
                self.watch = WatchPhase::Idle;
                self.start_round(now);
            }
        }
    }
}
