/* Path watch: see pathwatch.h. */
#define _GNU_SOURCE
#include "pathwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PW_MASK (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) /* what binds a name */
#define PW_MAX_LINKS 40                               /* as the kernel's MAXSYMLINKS */
#define PW_PATH (PATH_MAX * 2)
#define PW_PERIOD_NS 10000000 /* a busy checker's pause between batches: it looks at each
                                 * distinct path once per batch (W5: 32 files, every 2 ms
                                 * cost ~3 % of a CPU and ~4 % of nginx's rps) */

void pw_init(PathWatch *w) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->qmu, NULL);
    pthread_cond_init(&w->donecv, NULL);
    w->fd = -1;
    w->wake_fd = -1;
}

int pw_open(PathWatch *w) {
    if (w->fd < 0) w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return w->fd < 0 ? -1 : 0;
}

void pw_close(PathWatch *w) {
    pw_stop(w);
    if (w->fd >= 0) close(w->fd);
    if (w->wake_fd >= 0) close(w->wake_fd);
    w->fd = w->wake_fd = -1;
    free(w->q);
    w->q = NULL;
}

static uint64_t component(int wd, const char *name, size_t len) {
    uint64_t h = 1469598103934665603ull ^ ((uint64_t)(uint32_t)wd * 0x9E3779B97F4A7C15ull);
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
    return h ^ (h >> 31);
}

/* Three bits of the 256 per component. */
static void bloom_add(PathBloom *b, uint64_t h) {
    for (int k = 0; k < 3; k++, h >>= 8) b->w[(h >> 6) & 3] |= 1ull << (h & 63);
}

static int bloom_has(const PathBloom *b, uint64_t h) {
    for (int k = 0; k < 3; k++, h >>= 8)
        if (!(b->w[(h >> 6) & 3] >> (h & 63) & 1)) return 0;
    return 1;
}

/* A /proc entry of task `tid` whose link names one of its own objects (cwd, root,
 * exe, an fd): fixed while that task is in the open (no other task shares its
 * fs or files; _core.c skips nothing otherwise). */
static int own_magic(const char *dir, const char *name, pid_t tid) {
    char self[32];
    int n = snprintf(self, sizeof self, "/proc/%d", (int)tid);
    if (strncmp(dir, self, (size_t)n) != 0) return 0;
    if (dir[n] == 0) return !strcmp(name, "cwd") || !strcmp(name, "root") || !strcmp(name, "exe");
    return !strcmp(dir + n, "/fd");
}

static void read_events(PathWatch *w, int *forget);

/* Read what is queued now: a skip decided after this is not charged with it. */
static void drain(PathWatch *w) {
    int forget = 0;
    pthread_mutex_lock(&w->mu);
    read_events(w, &forget);
    pthread_mutex_unlock(&w->mu);
    if (forget && w->forget) w->forget(w->ctx);
}

int pw_learn(PathWatch *w, const char *path, int nofollow, pid_t tid, PathBloom *b) {
    static __thread char dir[PW_PATH], rest[PW_PATH], next[PW_PATH], link[PATH_MAX];
    if (w->fd < 0 || path[0] != '/' || strlen(path) >= PW_PATH) return 0;
    memset(b, 0, sizeof *b);
    strcpy(dir, "/");
    strcpy(rest, path + 1);
    int links = 0, in_proc = 0, magic_depth = -1; /* depth below an own magic link */
    while (rest[0]) {
        /* the next component, and what follows it */
        size_t n = strcspn(rest, "/");
        char *after = rest + n;
        while (*after == '/') after++;
        int last = *after == 0;
        char name[NAME_MAX + 1];
        if (n > NAME_MAX) return 0;
        memcpy(name, rest, n);
        name[n] = 0;
        memmove(rest, after, strlen(after) + 1);
        if (n == 0 || !strcmp(name, ".")) continue;
        if (!strcmp(name, "..")) {
            /* Above where an own magic link led: a directory no watch covers moved.
             * Out of /proc: the walk would go on unwatched. */
            if (magic_depth == 0 || in_proc) return 0;
            if (magic_depth > 0) magic_depth--;
        }
        if (!in_proc) {
            int wd = inotify_add_watch(w->fd, dir, PW_MASK);
            if (wd < 0 && errno != ENOENT && errno != ENOTDIR) return 0;
            if (wd < 0) break; /* leads nowhere: the open fails, unless a name is bound */
            bloom_add(b, component(wd, name, n));
        }
        int len = snprintf(next, sizeof next, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
        if (len < 0 || len >= (int)sizeof next) return 0;
        struct stat st;
        if ((last && nofollow) || lstat(next, &st) < 0 || !S_ISLNK(st.st_mode)) {
            if (!strcmp(dir, "/") && !strcmp(name, "proc")) in_proc = 1; /* nothing there is renamed */
            if (strcmp(name, "..") && magic_depth >= 0) magic_depth++;
            strcpy(dir, next);
            continue;
        }
        if (in_proc) {
            /* /proc/TID/cwd, fd/N: the object itself, not a path to resolve */
            if (!own_magic(dir, name, tid)) return 0;
            strcpy(dir, next);
            in_proc = 0;
            magic_depth = 0;
            continue;
        }
        if (++links > PW_MAX_LINKS) return 0;
        ssize_t ln = readlink(next, link, sizeof link - 1);
        if (ln <= 0) return 0;
        link[ln] = 0;
        /* the link's text goes in front of what is left */
        len = snprintf(next, sizeof next, "%s%s%s", link, rest[0] ? "/" : "", rest);
        if (len < 0 || len >= (int)sizeof next) return 0;
        if (link[0] == '/') {
            strcpy(dir, "/");
            in_proc = 0;
            magic_depth = -1;
            strcpy(rest, next + 1);
        } else {
            strcpy(rest, next);
        }
    }
    /* A path is learned again after a name on it was rebound (a new inode, a new
     * key): that rename's event, still queued, would otherwise count against the
     * first skips of the new key, as if it had raced them. */
    drain(w);
    return 1;
}

uint64_t pw_now(PathWatch *w) { return __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE); }

/* Called with mu held. */
static void read_events(PathWatch *w, int *forget) {
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t got = read(w->fd, buf, sizeof buf);
        if (got <= 0) return; /* EAGAIN: nothing more */
        for (char *p = buf; p < buf + got;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            uint64_t seq = w->seq + 1;
            if (ev->mask & IN_Q_OVERFLOW) {
                __atomic_store_n(&w->lost_seq, seq, __ATOMIC_RELAXED);
                *forget = 1;
            } else if (ev->mask & IN_IGNORED) {
                *forget = 1; /* its directory is gone: nothing watches a new one there */
                continue;
            } else {
                uint64_t h = component(ev->wd, ev->name, strnlen(ev->name, ev->len));
                __atomic_store_n(&w->ring[seq % PW_RING], h, __ATOMIC_RELAXED); /* read unlocked */
                w->changes++;
            }
            __atomic_store_n(&w->seq, seq, __ATOMIC_RELEASE);
        }
    }
}

int pw_changed_between(PathWatch *w, const PathBloom *b, uint64_t since, uint64_t now) {
    if (now - since >= PW_RING || __atomic_load_n(&w->lost_seq, __ATOMIC_RELAXED) > since) return 1;
    for (uint64_t s = since + 1; s <= now; s++)
        if (bloom_has(b, __atomic_load_n(&w->ring[s % PW_RING], __ATOMIC_RELAXED))) return 1;
    /* the reader may have gone round the ring meanwhile, overwriting what was read */
    return pw_now(w) - since >= PW_RING;
}

/* Where a path leads now, looked at once per batch (paths repeat: a loop over a
 * few files), so the checker does not fight the application for the dentries. */
#define PW_SEEN 1024
typedef struct {
    const char *path;
    int nofollow, err;
    uint64_t dev, ino;
} Seen;

static const Seen *look(Seen *seen, const char *path, int nofollow) {
    if (!seen) return NULL; /* no memory for the table */
    uint64_t h = component(nofollow, path, strlen(path));
    for (size_t i = h % PW_SEEN, n = 0; n < 16; i = (i + 1) % PW_SEEN, n++) {
        Seen *s = &seen[i];
        if (s->path && (s->nofollow != nofollow || strcmp(s->path, path))) continue;
        if (!s->path) {
            struct stat st;
            s->path = path;
            s->nofollow = nofollow;
            s->err = fstatat(AT_FDCWD, path, &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) < 0 ? errno : 0;
            s->dev = s->err ? 0 : (uint64_t)st.st_dev;
            s->ino = s->err ? 0 : (uint64_t)st.st_ino;
        }
        return s;
    }
    return NULL; /* a crowded batch: the caller reports it */
}

/* The path leads to another object now than at the entry. A path that leads nowhere
 * now (deleted, its directory gone, its process's /proc entry gone) was not rebound:
 * a redirect binds a name, and a rebound name that is gone again had its event queued
 * before it went (see check_batch). Counting it was a false alert for every process
 * that reads a file and then deletes it. */
static int moved(Seen *seen, const PwSkip *s, const char *path) {
    const Seen *now = look(seen, path, s->nofollow);
    if (!now) return 1; /* a crowded batch: cannot tell */
    return !now->err && (s->err || now->dev != s->dev || now->ino != s->ino);
}

/* One queued item: PwSkip, then the record's length, the record, the path. */
typedef struct {
    PwSkip skip;
    size_t len, path_len;
    int moved;
} Item;

static void wake(PathWatch *w) {
    uint64_t one = 1;
    ssize_t r = write(w->wake_fd, &one, sizeof one); /* fails only when already woken */
    (void)r;
}

int pw_check_later(PathWatch *w, const PwSkip *s, const char *record, size_t len, const char *path) {
    Item it = {*s, len, strlen(path) + 1, 0};
    size_t need = sizeof it + len + it.path_len;
    need = (need + 7) & ~(size_t)7; /* keep each Item aligned */
    pthread_mutex_lock(&w->qmu);
    if (!w->running || w->stopping) {
        pthread_mutex_unlock(&w->qmu);
        return 0;
    }
    if (w->qlen + need > w->qcap) {
        size_t cap = w->qcap ? w->qcap * 2 : 65536;
        while (cap < w->qlen + need) cap *= 2;
        char *q = realloc(w->q, cap);
        if (!q) {
            pthread_mutex_unlock(&w->qmu);
            return 0;
        }
        w->q = q;
        w->qcap = cap;
    }
    char *at = w->q + w->qlen;
    memcpy(at, &it, sizeof it);
    memcpy(at + sizeof it, record, len);
    memcpy(at + sizeof it + len, path, it.path_len);
    w->qlen += need;
    if (w->idle) wake(w); /* else it comes by within PW_PERIOD_NS */
    pthread_mutex_unlock(&w->qmu);
    return 1;
}

/* A batch: every path is looked at first, then the events are read. If a path
 * still leads where it did, a rename in between is either not done (no race) or
 * undone by a later one, and a renaming thread queues each event before its next
 * rename: the read below sees it. */
static void check_batch(PathWatch *w, char *q, size_t qlen, Seen *seen) {
    int forget = 0;
    if (seen) memset(seen, 0, PW_SEEN * sizeof *seen);
    for (size_t off = 0; off < qlen;) {
        Item *it = (Item *)(q + off);
        char *path = q + off + sizeof *it + it->len;
        it->moved = moved(seen, &it->skip, path);
        off += (sizeof *it + it->len + it->path_len + 7) & ~(size_t)7;
    }
    pthread_mutex_lock(&w->mu);
    read_events(w, &forget);
    for (size_t off = 0; off < qlen;) {
        Item *it = (Item *)(q + off);
        if (it->moved || pw_changed_between(w, &it->skip.bloom, it->skip.seq, w->seq)) {
            /* moved without an event (a mount by an untraced process): what verdicts
             * vouch for may be stale too */
            if (it->moved) forget = 1;
            w->races++;
            w->raced(w->ctx, q + off + sizeof *it, it->len);
        }
        off += (sizeof *it + it->len + it->path_len + 7) & ~(size_t)7;
    }
    pthread_mutex_unlock(&w->mu);
    if (forget) w->forget(w->ctx);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Without qmu: wait until woken (wake_fd) or `until` (now_ns; 0: no limit), reading
 * inotify events as they come, so that an open's entry sees a rebinding done while
 * nothing was queued (pw_changed_between). */
static void wait_reading_events(PathWatch *w, uint64_t until) {
    struct pollfd p[2] = {{w->wake_fd, POLLIN, 0}, {w->fd, POLLIN, 0}};
    for (;;) {
        uint64_t now = now_ns();
        if (until && now >= until) return;
        int ms = until ? (int)((until - now + 999999) / 1000000) : -1;
        if (poll(p, 2, ms) < 0 && errno != EINTR) return;
        if (p[1].revents) drain(w);
        if (p[0].revents) {
            uint64_t n;
            ssize_t r = read(w->wake_fd, &n, sizeof n); /* resets it; EAGAIN: already reset */
            (void)r;
            return;
        }
    }
}

/* Idle, the checker waits for the first push; busy, it comes by every PW_PERIOD_NS
 * for a batch: a wake-up per skipped open would cost the application more than
 * the exit stop it saved. */
static void *checker(void *arg) {
    PathWatch *w = arg;
    char *mine = NULL;
    size_t mine_cap = 0;
    Seen *seen = malloc(PW_SEEN * sizeof *seen);
    pthread_mutex_lock(&w->qmu);
    for (;;) {
        while (!w->qlen && !w->stopping) {
            w->idle = 1; /* set under qmu: a push after this wakes the poll */
            pthread_mutex_unlock(&w->qmu);
            wait_reading_events(w, 0);
            pthread_mutex_lock(&w->qmu);
            w->idle = 0;
        }
        if (!w->qlen) break; /* stopping, and everything checked */
        w->taken++;
        /* take the queue, leave an empty buffer: pushes go on meanwhile */
        char *q = w->q;
        size_t qlen = w->qlen, qcap = w->qcap;
        w->q = mine;
        w->qcap = mine_cap;
        w->qlen = 0;
        pthread_mutex_unlock(&w->qmu);
        check_batch(w, q, qlen, seen);
        mine = q;
        mine_cap = qcap;
        pthread_mutex_lock(&w->qmu);
        w->checked++;
        pthread_cond_broadcast(&w->donecv);
        if (!w->stopping && !w->flushers) { /* a pause; pw_flush and pw_stop cut it short */
            pthread_mutex_unlock(&w->qmu);
            wait_reading_events(w, now_ns() + PW_PERIOD_NS);
            pthread_mutex_lock(&w->qmu);
        }
    }
    pthread_mutex_unlock(&w->qmu);
    free(mine);
    free(seen);
    return NULL;
}

int pw_start(PathWatch *w, pw_raced_fn raced, pw_forget_fn forget, void *ctx) {
    if (w->fd < 0 || w->running) return -1;
    w->raced = raced;
    w->forget = forget;
    w->ctx = ctx;
    if (w->wake_fd < 0) w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) return -1;
    if (pthread_create(&w->thread, NULL, checker, w) != 0) return -1;
    w->running = 1;
    return 0;
}

void pw_flush(PathWatch *w) {
    pthread_mutex_lock(&w->qmu);
    if (w->running) {
        uint64_t want = w->qlen ? w->taken + 1 : w->taken;
        if (w->checked < want) {
            w->flushers++;
            wake(w);
            while (w->checked < want) pthread_cond_wait(&w->donecv, &w->qmu);
            w->flushers--;
        }
    }
    pthread_mutex_unlock(&w->qmu);
}

void pw_stop(PathWatch *w) {
    if (!w->running) return;
    pthread_mutex_lock(&w->qmu);
    w->stopping = 1;
    wake(w);
    pthread_mutex_unlock(&w->qmu);
    pthread_join(w->thread, NULL);
    w->running = 0;
}
