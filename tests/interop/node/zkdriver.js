// Line-oriented driver for node-zookeeper-client, used by
// tests/interop/test_node_client.py.  Same commands and answers as
// ../c/zkdriver.c (see the comment there), minus create TTL/container modes
// (node-zookeeper-client has no such CreateMode).
//
// Usage: node zkdriver.js HOST:PORT [SESSION_TIMEOUT_MS]
'use strict';
const zookeeper = require('node-zookeeper-client');
const readline = require('readline');

const hosts = process.argv[2];
const sessionTimeout = parseInt(process.argv[3] || '10000', 10);
const client = zookeeper.createClient(hosts, {
  sessionTimeout: sessionTimeout, spinDelay: 100, retries: 0,
});
let connected = false;
const connWaiters = [];
client.on('connected', () => {
  connected = true;
  connWaiters.splice(0).forEach((f) => f());
});
client.on('disconnected', () => { connected = false; });
client.on('authenticationFailed', () => { authFailed = true; });
let authFailed = false;
client.connect();

const events = [];
const eventWaiters = [];
function watcher(ev) {
  events.push(ev);
  eventWaiters.splice(0).forEach((f) => f());
}

function out(s) { process.stdout.write(s + '\n'); }
function err(e) {
  if (e && typeof e.getCode === 'function') return out('ERR ' + e.getCode() + ' ' + e.getName());
  return out('ERR -999 ' + String(e && e.message || e).replace(/\n/g, ' '));
}
function big(b) {
  if (Buffer.isBuffer(b)) return b.readBigInt64BE(0).toString();
  return String(b);
}
function statStr(s) {
  return ' czxid=' + big(s.czxid) + ' mzxid=' + big(s.mzxid) + ' ctime=' + big(s.ctime) +
    ' mtime=' + big(s.mtime) + ' version=' + s.version + ' cversion=' + s.cversion +
    ' aversion=' + s.aversion + ' ephemeralOwner=' + big(s.ephemeralOwner) +
    ' dataLength=' + s.dataLength + ' numChildren=' + s.numChildren + ' pzxid=' + big(s.pzxid);
}
function dataArg(tok) {
  if (tok === undefined || tok === 'NULL') return null;
  if (tok === '-') return Buffer.alloc(0);
  return Buffer.from(tok);
}
function dataStr(d) {
  if (d === null || d === undefined) return 'NULL';
  return d.length ? d.toString() : '-';
}
function aclArg(tok) {
  const P = zookeeper.Permission;
  if (!tok || tok === 'open') return zookeeper.ACL.OPEN_ACL_UNSAFE;
  if (tok === 'creator') return zookeeper.ACL.CREATOR_ALL_ACL;
  if (tok === 'read') return zookeeper.ACL.READ_ACL_UNSAFE;
  if (tok.startsWith('digest:')) {
    return [new zookeeper.ACL(P.ALL, new zookeeper.Id('digest', tok.slice(7)))];
  }
  return zookeeper.ACL.OPEN_ACL_UNSAFE;
}
function create(a, done, withStat) {
  const args = [a[1]];
  const d = dataArg(a[2]);
  if (d !== null) args.push(d);
  args.push(aclArg(a[4]));
  args.push(parseInt(a[3] || '0', 10));
  args.push((e, path) => {
    if (e) { err(e); return done(); }
    if (!withStat) { out('OK path=' + path); return done(); }
    client.exists(path, (e2, st) => {
      if (e2) err(e2); else out('OK path=' + path + statStr(st));
      done();
    });
  });
  client.create(...args);
}

const handlers = {
  connect(a, done) {
    const ms = parseInt(a[1] || '10000', 10);
    if (connected) { out('OK'); return done(); }
    const t = setTimeout(() => { out('ERR -4 not connected'); done(); }, ms);
    connWaiters.push(() => { clearTimeout(t); out('OK'); done(); });
  },
  session(a, done) {
    out('OK id=0x' + client.getSessionId().toString('hex').replace(/^0+/, '') +
        ' timeout=' + client.getSessionTimeout());
    done();
  },
  create(a, done) { create(a, done, false); },
  create2(a, done) { create(a, done, true); },
  get(a, done, w) {
    const cb = (e, data, st) => {
      if (e) err(e); else out('OK data=' + dataStr(data) + statStr(st));
      done();
    };
    if (w) client.getData(a[1], watcher, cb); else client.getData(a[1], cb);
  },
  set(a, done) {
    const d = dataArg(a[2]);
    client.setData(a[1], d, parseInt(a[3] || '-1', 10), (e, st) => {
      if (e) err(e); else out('OK' + statStr(st));
      done();
    });
  },
  exists(a, done, w) {
    const cb = (e, st) => {
      if (e) err(e);
      else if (!st) out('ERR -101 NO_NODE');
      else out('OK' + statStr(st));
      done();
    };
    if (w) client.exists(a[1], watcher, cb); else client.exists(a[1], cb);
  },
  children(a, done, w, withStat) {
    const cb = (e, kids, st) => {
      if (e) err(e);
      else out('OK children=' + kids.join(',') + (withStat ? statStr(st) : ''));
      done();
    };
    if (w) client.getChildren(a[1], watcher, cb); else client.getChildren(a[1], cb);
  },
  delete(a, done) {
    client.remove(a[1], parseInt(a[2] || '-1', 10), (e) => {
      if (e) err(e); else out('OK');
      done();
    });
  },
  getacl(a, done) {
    client.getACL(a[1], (e, acls, st) => {
      if (e) { err(e); return done(); }
      out('OK acl=' + acls.map((x) => x.permission + ':' + x.id.scheme + ':' + x.id.id).join(',') +
          ' aversion=' + st.aversion);
      done();
    });
  },
  auth(a, done) {
    // node-zookeeper-client's addAuthInfo has no callback: the auth packet is
    // queued ahead of later requests; a failure shows as 'authenticationFailed'.
    client.addAuthInfo(a[1], Buffer.from(a[2] || ''));
    client.exists('/', (e) => {
      if (authFailed) out('ERR -115 AUTH_FAILED');
      else if (e) err(e); else out('OK');
      done();
    });
  },
  multi(a, done) {
    const tx = client.transaction();
    const kinds = [];
    for (const op of (a[1] || '').split(';')) {
      const f = op.split(',');
      kinds.push(f[0]);
      if (f[0] === 'create') {
        const d = dataArg(f[2]);
        tx.create(f[1], d === null ? undefined : d, zookeeper.ACL.OPEN_ACL_UNSAFE,
          parseInt(f[3] || '0', 10));
      } else if (f[0] === 'delete') tx.remove(f[1], parseInt(f[2] || '-1', 10));
      else if (f[0] === 'set') tx.setData(f[1], dataArg(f[2]), parseInt(f[3] || '-1', 10));
      else if (f[0] === 'check') tx.check(f[1], parseInt(f[2] || '-1', 10));
    }
    tx.commit((e, results) => {
      const parts = [];
      if (!results) { err(e); return done(); }
      results.forEach((r, i) => {
        const code = r.type === -1 ? r.err : 0;
        parts.push(String(code) + (kinds[i] === 'create' && !e ? ':' + r.path : ''));
      });
      out((e ? 'ERR ' + e.getCode() : 'OK') + ' ' + parts.join(' '));
      done();
    });
  },
  event(a, done) {
    const ms = parseInt(a[1] || '5000', 10);
    const take = () => {
      const ev = events.shift();
      out('OK type=' + ev.type + ' name=' + ev.name + ' state=3 path=' + (ev.path || ''));
      done();
    };
    if (events.length) return take();
    const w = () => { clearTimeout(t); take(); };
    const t = setTimeout(() => {
      const i = eventWaiters.indexOf(w);
      if (i >= 0) eventWaiters.splice(i, 1);
      out('ERR -7 timeout');
      done();
    }, ms);
    eventWaiters.push(w);
  },
  close(a, done) {
    let finished = false;
    const fin = () => { if (!finished) { finished = true; out('OK'); done(); } };
    client.once('disconnected', fin);
    setTimeout(fin, 5000);
    client.close();
  },
  quit(a, done) { out('OK'); client.close(); setTimeout(() => process.exit(0), 100); },
};

// one command at a time, in order
const queue = [];
let busy = false;
function pump() {
  if (busy || !queue.length) return;
  busy = true;
  const a = queue.shift().split(' ');
  const done = () => { busy = false; setImmediate(pump); };
  let cmd = a[0];
  let w = false;
  if (!handlers[cmd] && cmd.startsWith('w') && handlers[cmd.slice(1).replace(/2$/, '')]) {
    w = true; cmd = cmd.slice(1);
  }
  let withStat = false;
  if (cmd === 'children2') { withStat = true; cmd = 'children'; }
  const h = handlers[cmd];
  if (!h) { out('ERR -8 unknown command ' + a[0]); return done(); }
  try { h(a, done, w, withStat); } catch (e) { err(e); done(); }
}
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (l) => { if (l.trim()) { queue.push(l.trim()); pump(); } });
rl.on('close', () => { client.close(); setTimeout(() => process.exit(0), 200); });
