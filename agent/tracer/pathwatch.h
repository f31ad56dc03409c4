/*
 * Path watch: was a path redirected while an open ran without its exit stop?
 *
 * An open whose exit stop is skipped (_core.c, "exit stops nobody needs") is
 * recorded from where its claimed path led when the agent looked, at the entry.
 * Another process (a sidecar sharing a volume, a racing helper) can rename a file
 * or a symlink onto a component of that path after the agent looked and before the
 * kernel's lookup: the open then reads another file under a harmless name. Every
 * such redirection binds a name in a directory (IN_CREATE, IN_MOVED_TO), so the
 * directories a skippable path goes through are watched with inotify, learned once
 * per path (pw_learn). At the thread's next stop, after the kernel's lookup for
 * certain, the skip is handed to a checker thread (pw_check_later), off the
 * application's path: it looks where the path leads now, then reads the events
 * since the skip and matches them against the path's components. Between batches
 * the checker reads events as they come, so that the next open of a path whose name
 * was rebound sees it (pw_changed_between) and takes its exit. A match, or a
 * path that leads elsewhere, is reported (the caller publishes the record again,
 * marked: an alert).
 *
 * Components are (watch descriptor, name) pairs, kept per path as a 256-bit Bloom
 * filter: a false match costs a spurious "changed" (an alert), never a miss.
 * A rename is visible a few instructions before its event is queued; the checker's
 * look at the path before it reads the events covers that for one renaming thread
 * (it queues each event before its next rename), not for two caught in that window
 * at once. Not seen either: a mount over a directory by an untraced process (mount
 * is a traced syscall: every verdict is forgotten).
 */
#ifndef TRACEHOUND_PATHWATCH_H
#define TRACEHOUND_PATHWATCH_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define PW_RING 4096 /* events remembered; a skip older than that is "changed" */

typedef struct {
    uint64_t w[4];
} PathBloom;

/* What the agent saw at a skipped open's entry. */
typedef struct {
    uint64_t seq;      /* pw_now() before the path was looked at */
    uint64_t dev, ino; /* where it led */
    int err;           /* or the errno of looking */
    int nofollow;      /* O_NOFOLLOW: the last link itself */
    PathBloom bloom;   /* its components (pw_learn) */
} PwSkip;

typedef void (*pw_raced_fn)(void *ctx, char *record, size_t len);
typedef void (*pw_forget_fn)(void *ctx);

typedef struct {
    int fd; /* inotify, non-blocking; -1 when off */
    pthread_mutex_t mu;
    uint64_t seq;      /* events read so far */
    uint64_t lost_seq; /* seq when events were lost (queue overflow): all before is suspect */
    uint64_t ring[PW_RING];
    uint64_t changes;  /* events read that could redirect a name */
    uint64_t races;    /* skips reported */
    /* the checker thread and its queue: PwSkip, record length, record, path */
    pthread_mutex_t qmu;
    pthread_cond_t donecv;
    int wake_fd; /* eventfd: a push to an idle checker, a flush, the stop */
    uint64_t taken, checked; /* batches */
    int flushers;
    char *q;
    size_t qlen, qcap;
    int running, stopping, idle;
    pthread_t thread;
    pw_raced_fn raced;
    pw_forget_fn forget;
    void *ctx;
} PathWatch;

void pw_init(PathWatch *w);  /* off: no inotify yet */
int pw_open(PathWatch *w);   /* the inotify instance; -1 if there is none */
void pw_close(PathWatch *w);

/* Start the checker: `raced` gets each skipped open's record whose path changed,
 * `forget` is called when verdicts must be learned again (a watch went away). */
int pw_start(PathWatch *w, pw_raced_fn raced, pw_forget_fn forget, void *ctx);
/* Check these later (copied): the skipped open is over. False if it could not be queued. */
int pw_check_later(PathWatch *w, const PwSkip *s, const char *record, size_t len, const char *path);
/* Return once what is queued now is checked (and reported): before a thread's
 * exit or exec record, so that a report never comes after it. */
void pw_flush(PathWatch *w);
/* Check what is queued, then end the checker. */
void pw_stop(PathWatch *w);

/* Watch every directory `path` goes through, as the kernel would walk it for task
 * `tid` (following symlinks, the last one only unless `nofollow`), and put its
 * components in `b`. 0: the path cannot be vouched for (too many links, another
 * process's /proc magic link, a watch refused); the caller then takes the exit. */
int pw_learn(PathWatch *w, const char *path, int nofollow, pid_t tid, PathBloom *b);

/* Events read so far: taken when an open's exit is skipped. */
uint64_t pw_now(PathWatch *w);

/* Without the lock, at an open's entry: could a name in `b` have been rebound by an
 * event read after `since` and up to `now` (pw_now)? 1 also when the events since
 * were lost or are no longer remembered. What is read after `now` is the checker's. */
int pw_changed_between(PathWatch *w, const PathBloom *b, uint64_t since, uint64_t now);


#endif
