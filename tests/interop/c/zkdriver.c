/* Line-oriented driver for the ZooKeeper C client (libzookeeper_mt), used by
 * tests/interop/test_c_client.py.
 *
 * Usage: zkdriver HOST:PORT [SESSION_TIMEOUT_MS]
 * Reads one command per line on stdin, prints exactly one answer line per
 * command on stdout:  "OK ..."  or  "ERR <rc> <zerror text>".
 *
 * Data tokens: "-" is empty data, "NULL" is null data (valuelen -1),
 * anything else is the bytes of the token.  Got data is printed as
 * data=<bytes> (or data=NULL for a null/-1 length answer).
 *
 * Commands:
 *   connect                       wait for ZOO_CONNECTED_STATE (10 s)
 *   session                       OK id=0x.. timeout=<negotiated ms>
 *   create PATH DATA FLAGS [ACL] [TTL]   ACL: open | creator | digest:ID (ID=user:hash)
 *   create2 PATH DATA FLAGS       like create, prints the Stat too
 *   get PATH | wget PATH          data + Stat (wget leaves a data watch)
 *   set PATH DATA VERSION         prints the new Stat
 *   exists PATH | wexists PATH    Stat, or ERR -101 for a missing node
 *   children PATH | wchildren PATH
 *   children2 PATH | wchildren2 PATH     names + Stat of the parent
 *   delete PATH VERSION
 *   getacl PATH                   OK acl=perms:scheme:id,... version=aversion
 *   auth SCHEME CERT              zoo_add_auth, waits for its completion
 *   multi OP;OP;...               OP: create,PATH,DATA,FLAGS | delete,PATH,VER |
 *                                 set,PATH,DATA,VER | check,PATH,VER
 *                                 answer: OK|ERR rc  r0 r1 ...  (per-op rc[:path])
 *   event MS                      wait up to MS for a watch event:
 *                                 OK type=<n> name=<ZOO_*_EVENT> state=<n> path=<p>
 *                                 or ERR -7 timeout
 *   close                         zookeeper_close (ends the session)
 *   quit
 */
#define _GNU_SOURCE
#include <zookeeper/zookeeper.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static zhandle_t *zh;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int connected_state;

#define QMAX 256
static struct ev { int type, state; char path[512]; } q[QMAX];
static int qh, qt;

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) { ts->tv_sec++; ts->tv_nsec -= 1000000000L; }
}

static const char *evname(int t) {
    if (t == ZOO_CREATED_EVENT) return "ZOO_CREATED_EVENT";
    if (t == ZOO_DELETED_EVENT) return "ZOO_DELETED_EVENT";
    if (t == ZOO_CHANGED_EVENT) return "ZOO_CHANGED_EVENT";
    if (t == ZOO_CHILD_EVENT) return "ZOO_CHILD_EVENT";
    if (t == ZOO_SESSION_EVENT) return "ZOO_SESSION_EVENT";
    if (t == ZOO_NOTWATCHING_EVENT) return "ZOO_NOTWATCHING_EVENT";
    return "UNKNOWN";
}

static void global_watcher(zhandle_t *h, int type, int state, const char *path, void *ctx) {
    (void)h; (void)ctx; (void)path; (void)type;
    pthread_mutex_lock(&mu);
    if (type == ZOO_SESSION_EVENT) connected_state = state;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void node_watcher(zhandle_t *h, int type, int state, const char *path, void *ctx) {
    (void)h; (void)ctx;
    pthread_mutex_lock(&mu);
    if ((qt + 1) % QMAX != qh) {
        q[qt].type = type; q[qt].state = state;
        snprintf(q[qt].path, sizeof q[qt].path, "%s", path ? path : "");
        qt = (qt + 1) % QMAX;
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void print_stat(const struct Stat *s) {
    printf(" czxid=%lld mzxid=%lld ctime=%lld mtime=%lld version=%d cversion=%d"
           " aversion=%d ephemeralOwner=%lld dataLength=%d numChildren=%d pzxid=%lld",
           (long long)s->czxid, (long long)s->mzxid, (long long)s->ctime,
           (long long)s->mtime, s->version, s->cversion, s->aversion,
           (long long)s->ephemeralOwner, s->dataLength, s->numChildren,
           (long long)s->pzxid);
}

static int err(int rc) { printf("ERR %d %s\n", rc, zerror(rc)); return rc; }

static void data_arg(const char *tok, const char **val, int *len) {
    if (!tok || strcmp(tok, "NULL") == 0) { *val = NULL; *len = -1; }
    else if (strcmp(tok, "-") == 0) { *val = ""; *len = 0; }
    else { *val = tok; *len = (int)strlen(tok); }
}

static struct ACL digest_acl[1];
static struct ACL_vector digest_vec = {1, digest_acl};

static const struct ACL_vector *acl_arg(const char *tok) {
    if (!tok || strcmp(tok, "open") == 0) return &ZOO_OPEN_ACL_UNSAFE;
    if (strcmp(tok, "creator") == 0) return &ZOO_CREATOR_ALL_ACL;
    if (strcmp(tok, "read") == 0) return &ZOO_READ_ACL_UNSAFE;
    if (strncmp(tok, "digest:", 7) == 0) {
        free(digest_acl[0].id.id);
        digest_acl[0].perms = ZOO_PERM_ALL;
        digest_acl[0].id.scheme = "digest";
        digest_acl[0].id.id = strdup(tok + 7);
        return &digest_vec;
    }
    return &ZOO_OPEN_ACL_UNSAFE;
}

static void print_strings(const struct String_vector *sv) {
    printf(" children=");
    for (int i = 0; i < sv->count; i++) printf("%s%s", i ? "," : "", sv->data[i]);
}

static int auth_done, auth_rc;
static void auth_completion(int rc, const void *data) {
    (void)data;
    pthread_mutex_lock(&mu);
    auth_done = 1; auth_rc = rc;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int do_multi(char *spec) {
    zoo_op_t ops[32];
    zoo_op_result_t res[32];
    char pbuf[32][512];
    int n = 0;
    char *save = NULL;
    for (char *op = strtok_r(spec, ";", &save); op && n < 32; op = strtok_r(NULL, ";", &save)) {
        char *f[5] = {0};
        int nf = 0;
        char *s2 = NULL;
        for (char *t = strtok_r(op, ",", &s2); t && nf < 5; t = strtok_r(NULL, ",", &s2)) f[nf++] = t;
        const char *v; int vl;
        if (strcmp(f[0], "create") == 0) {
            data_arg(f[2], &v, &vl);
            zoo_create_op_init(&ops[n], f[1], v, vl, &ZOO_OPEN_ACL_UNSAFE, f[3] ? atoi(f[3]) : 0,
                               pbuf[n], sizeof pbuf[n]);
        } else if (strcmp(f[0], "delete") == 0) {
            zoo_delete_op_init(&ops[n], f[1], f[2] ? atoi(f[2]) : -1);
        } else if (strcmp(f[0], "set") == 0) {
            data_arg(f[2], &v, &vl);
            zoo_set_op_init(&ops[n], f[1], v, vl, f[3] ? atoi(f[3]) : -1, NULL);
        } else if (strcmp(f[0], "check") == 0) {
            zoo_check_op_init(&ops[n], f[1], f[2] ? atoi(f[2]) : -1);
        } else {
            printf("ERR -8 bad multi op %s\n", f[0]);
            return -8;
        }
        pbuf[n][0] = 0;
        n++;
    }
    memset(res, 0, sizeof res);
    int rc = zoo_multi(zh, n, ops, res);
    if (rc == ZOK) printf("OK"); else printf("ERR %d", rc);
    for (int i = 0; i < n; i++) {
        printf(" %d", res[i].err);
        if (ops[i].type == ZOO_CREATE_OP && rc == ZOK) printf(":%s", pbuf[i]);
    }
    printf("\n");
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s HOST:PORT [TIMEOUT_MS]\n", argv[0]); return 2; }
    int timeout = argc > 2 ? atoi(argv[2]) : 10000;
    zoo_set_debug_level(getenv("ZKDRIVER_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : ZOO_LOG_LEVEL_ERROR);
    setvbuf(stdout, NULL, _IOLBF, 0);
    zh = zookeeper_init(argv[1], global_watcher, timeout, NULL, NULL, 0);
    if (!zh) { printf("ERR %d zookeeper_init\n", errno); return 1; }

    char line[8192];
    static char buf[1 << 20];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        char *save = NULL;
        char *cmd = strtok_r(line, " ", &save);
        if (!cmd) continue;
        char *a1 = strtok_r(NULL, " ", &save);
        char *a2 = strtok_r(NULL, " ", &save);
        char *a3 = strtok_r(NULL, " ", &save);
        char *a4 = strtok_r(NULL, " ", &save);
        char *a5 = strtok_r(NULL, " ", &save);
        struct Stat st;
        int rc;
        const char *v; int vl;
        memset(&st, 0, sizeof st);

        if (strcmp(cmd, "connect") == 0) {
            struct timespec ts; deadline_in(&ts, a1 ? atoi(a1) : 10000);
            pthread_mutex_lock(&mu);
            while (connected_state != ZOO_CONNECTED_STATE)
                if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) break;
            int ok = connected_state == ZOO_CONNECTED_STATE;
            int s = connected_state;
            pthread_mutex_unlock(&mu);
            if (ok) printf("OK\n"); else printf("ERR -4 not connected (state %d)\n", s);
        } else if (strcmp(cmd, "session") == 0) {
            const clientid_t *id = zoo_client_id(zh);
            printf("OK id=0x%llx timeout=%d\n", (long long)id->client_id, zoo_recv_timeout(zh));
        } else if (strcmp(cmd, "create") == 0 || strcmp(cmd, "create2") == 0) {
            char pb[512] = "";
            data_arg(a2, &v, &vl);
            int flags = a3 ? atoi(a3) : 0;
            long long ttl = a5 ? atoll(a5) : 0;
            if (ttl > 0)
                rc = zoo_create2_ttl(zh, a1, v, vl, acl_arg(a4), flags, ttl, pb, sizeof pb, &st);
            else if (strcmp(cmd, "create2") == 0)
                rc = zoo_create2(zh, a1, v, vl, acl_arg(a4), flags, pb, sizeof pb, &st);
            else
                rc = zoo_create(zh, a1, v, vl, acl_arg(a4), flags, pb, sizeof pb);
            if (rc != ZOK) err(rc);
            else {
                printf("OK path=%s", pb);
                if (strcmp(cmd, "create2") == 0 || ttl > 0) print_stat(&st);
                printf("\n");
            }
        } else if (strcmp(cmd, "get") == 0 || strcmp(cmd, "wget") == 0) {
            int len = sizeof buf - 1;
            rc = cmd[0] == 'w' ? zoo_wget(zh, a1, node_watcher, NULL, buf, &len, &st)
                               : zoo_get(zh, a1, 0, buf, &len, &st);
            if (rc != ZOK) err(rc);
            else {
                if (len < 0) printf("OK data=NULL");
                else { buf[len] = 0; printf("OK data=%s", len ? buf : "-"); }
                print_stat(&st); printf("\n");
            }
        } else if (strcmp(cmd, "set") == 0) {
            data_arg(a2, &v, &vl);
            rc = zoo_set2(zh, a1, v, vl, a3 ? atoi(a3) : -1, &st);
            if (rc != ZOK) err(rc); else { printf("OK"); print_stat(&st); printf("\n"); }
        } else if (strcmp(cmd, "exists") == 0 || strcmp(cmd, "wexists") == 0) {
            rc = cmd[0] == 'w' ? zoo_wexists(zh, a1, node_watcher, NULL, &st)
                               : zoo_exists(zh, a1, 0, &st);
            if (rc != ZOK) err(rc); else { printf("OK"); print_stat(&st); printf("\n"); }
        } else if (strcmp(cmd, "children") == 0 || strcmp(cmd, "wchildren") == 0) {
            struct String_vector sv = {0, NULL};
            rc = cmd[0] == 'w' ? zoo_wget_children(zh, a1, node_watcher, NULL, &sv)
                               : zoo_get_children(zh, a1, 0, &sv);
            if (rc != ZOK) err(rc);
            else { printf("OK"); print_strings(&sv); printf("\n"); deallocate_String_vector(&sv); }
        } else if (strcmp(cmd, "children2") == 0 || strcmp(cmd, "wchildren2") == 0) {
            struct String_vector sv = {0, NULL};
            rc = cmd[0] == 'w' ? zoo_wget_children2(zh, a1, node_watcher, NULL, &sv, &st)
                               : zoo_get_children2(zh, a1, 0, &sv, &st);
            if (rc != ZOK) err(rc);
            else {
                printf("OK"); print_strings(&sv); print_stat(&st); printf("\n");
                deallocate_String_vector(&sv);
            }
        } else if (strcmp(cmd, "delete") == 0) {
            rc = zoo_delete(zh, a1, a2 ? atoi(a2) : -1);
            if (rc != ZOK) err(rc); else printf("OK\n");
        } else if (strcmp(cmd, "getacl") == 0) {
            struct ACL_vector acl = {0, NULL};
            rc = zoo_get_acl(zh, a1, &acl, &st);
            if (rc != ZOK) err(rc);
            else {
                printf("OK acl=");
                for (int i = 0; i < acl.count; i++)
                    printf("%s%d:%s:%s", i ? "," : "", acl.data[i].perms,
                           acl.data[i].id.scheme, acl.data[i].id.id);
                printf(" aversion=%d\n", st.aversion);
                deallocate_ACL_vector(&acl);
            }
        } else if (strcmp(cmd, "auth") == 0) {
            pthread_mutex_lock(&mu); auth_done = 0; pthread_mutex_unlock(&mu);
            rc = zoo_add_auth(zh, a1, a2, a2 ? (int)strlen(a2) : 0, auth_completion, NULL);
            if (rc != ZOK) { err(rc); continue; }
            struct timespec ts; deadline_in(&ts, 10000);
            pthread_mutex_lock(&mu);
            while (!auth_done)
                if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) break;
            int done = auth_done, arc = auth_rc;
            pthread_mutex_unlock(&mu);
            if (!done) printf("ERR -7 auth completion timed out\n");
            else if (arc != ZOK) err(arc);
            else printf("OK\n");
        } else if (strcmp(cmd, "multi") == 0) {
            do_multi(a1 ? a1 : "");
        } else if (strcmp(cmd, "event") == 0) {
            struct timespec ts; deadline_in(&ts, a1 ? atoi(a1) : 5000);
            pthread_mutex_lock(&mu);
            while (qh == qt)
                if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) break;
            if (qh == qt) printf("ERR -7 timeout\n");
            else {
                printf("OK type=%d name=%s state=%d path=%s\n", q[qh].type,
                       evname(q[qh].type), q[qh].state, q[qh].path);
                qh = (qh + 1) % QMAX;
            }
            pthread_mutex_unlock(&mu);
        } else if (strcmp(cmd, "close") == 0) {
            rc = zookeeper_close(zh);
            zh = NULL;
            if (rc != ZOK) err(rc); else printf("OK\n");
        } else if (strcmp(cmd, "quit") == 0) {
            printf("OK\n");
            break;
        } else {
            printf("ERR -8 unknown command %s\n", cmd);
        }
    }
    if (zh) zookeeper_close(zh);
    return 0;
}
