/* Partition files made ahead of need: when CreateTopics creates a topic, one thread creates each
 * partition's directory and first segment file (log_partition_precreate), and the answer waits
 * until it is done, so that the first writes to the topic find their files. Without it the first
 * Produce request naming many new partitions created every one of them on the loop thread
 * (about 0.05-1 ms each here, most of it the file system allocating inodes), stalling every
 * connection meanwhile; Kafka too creates a partition's log when the partition is created.
 *
 * Nothing is held open: the files cost no descriptor until the partition is written. Topics with
 * more than BROKER_PRECREATE_MAX partitions and partitions added later are left to their first
 * write, as before. An auto-created topic is queued too, but nothing waits for it, so its first
 * writes may open some partitions first: log_partition_precreate never truncates, and an open
 * that finds an empty first segment opens it as a new log, so either order is safe.
 *
 * Threads: jobs are queued by the loop thread and run in order by one thread (started with the
 * first job), which hands each finished job back through the broker's notify callback (the
 * loop then runs broker__precreate_drain from broker_on_durable). A job's `mu` is held around
 * each partition's creation, and deleting the topic sets `cancel` under it: after that no
 * directory of the topic is created, and the deletion removes the ones that were. */
#include "broker/broker_int.h"
#include "log/log.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"
#include "util/sched.h"

#include <stdlib.h>
#include <string.h>

struct broker__precreate {
    broker__precreate_t *next;
    char **dirs;
    int32_t n;
    pthread_mutex_t mu; /* held around each creation */
    bool cancel;        /* mu */
    /* Loop thread only: the topic (NULL once deleted) and the request waiting for the job. */
    broker_topic_t *topic;
    broker_waiter_t *waiter;
};

static void *precreate_main(void *arg)
{
    broker_t *b = arg;
    hd_thread_name("hd-precreate");
    pthread_mutex_lock(&b->pre_mu);
    for (;;) {
        while (!b->pre_queue && !b->pre_stop)
            pthread_cond_wait(&b->pre_cv, &b->pre_mu);
        if (b->pre_stop)
            break;
        broker__precreate_t *j = b->pre_queue;
        b->pre_queue = j->next;
        pthread_mutex_unlock(&b->pre_mu);
        int failed = 0, first_err = 0;
        for (int32_t i = 0; i < j->n; i++) {
            pthread_mutex_lock(&j->mu);
            bool cancel = j->cancel;
            int rc = cancel ? 0 : log_partition_precreate(j->dirs[i]);
            pthread_mutex_unlock(&j->mu);
            if (cancel)
                break;
            if (rc < 0 && failed++ == 0)
                first_err = rc;
        }
        if (failed) /* the first write creates what is missing, or reports the error then */
            say_warn("%d partition director%s not created ahead: %s", failed,
                     failed == 1 ? "y" : "ies", hd_strerror(first_err));
        pthread_mutex_lock(&b->pre_mu);
        j->next = b->pre_done;
        b->pre_done = j;
        pthread_mutex_unlock(&b->pre_mu);
        if (b->notify)
            b->notify(b->notify_ctx);
        pthread_mutex_lock(&b->pre_mu);
    }
    pthread_mutex_unlock(&b->pre_mu);
    return NULL;
}

static void job_free(broker__precreate_t *j)
{
    for (int32_t i = 0; i < j->n; i++)
        free(j->dirs[i]);
    free(j->dirs);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* Fires j's waiter, if any, with err (loop thread). */
static void job_answer(broker__precreate_t *j, int err)
{
    broker_waiter_t *w = j->waiter;
    j->waiter = NULL;
    if (w)
        w->cb(w, err);
}

void broker__precreate_start(broker_t *b, broker_topic_t *t)
{
    if (t->nparts > BROKER_PRECREATE_MAX || t->nparts < 1)
        return;
    if (!b->pre_started) {
        pthread_mutex_init(&b->pre_mu, NULL);
        pthread_cond_init(&b->pre_cv, NULL);
        if (pthread_create(&b->pre_thread, NULL, precreate_main, b) != 0) {
            pthread_cond_destroy(&b->pre_cv);
            pthread_mutex_destroy(&b->pre_mu);
            return; /* the first writes create the files, as without this */
        }
        b->pre_started = true;
    }
    broker__precreate_t *j = hd_calloc(1, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    j->n = t->nparts;
    j->dirs = hd_malloc((size_t)j->n * sizeof *j->dirs);
    for (int32_t i = 0; i < j->n; i++)
        j->dirs[i] = hd_strdup(t->parts[i]->dir);
    j->topic = t;
    t->precreate = j;
    pthread_mutex_lock(&b->pre_mu);
    broker__precreate_t **tail = &b->pre_queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    pthread_cond_signal(&b->pre_cv);
    pthread_mutex_unlock(&b->pre_mu);
}

bool broker_topic_precreate_wait(broker_topic_t *t, broker_waiter_t *w)
{
    broker__precreate_t *j = t->precreate;
    if (!j || j->waiter)
        return false;
    j->waiter = w;
    return true;
}

void broker_topic_precreate_cancel_wait(broker_topic_t *t, broker_waiter_t *w)
{
    if (t && t->precreate && t->precreate->waiter == w)
        t->precreate->waiter = NULL;
}

void broker__precreate_topic_gone(broker_topic_t *t)
{
    broker__precreate_t *j = t->precreate;
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->cancel = true;
    pthread_mutex_unlock(&j->mu);
    j->topic = NULL;
    t->precreate = NULL;
    job_answer(j, HD_ENOTFOUND);
}

void broker__precreate_drain(broker_t *b)
{
    if (!b->pre_started)
        return;
    pthread_mutex_lock(&b->pre_mu);
    broker__precreate_t *done = b->pre_done;
    b->pre_done = NULL;
    pthread_mutex_unlock(&b->pre_mu);
    while (done) {
        broker__precreate_t *j = done;
        done = j->next;
        if (j->topic)
            j->topic->precreate = NULL;
        job_answer(j, 0);
        job_free(j);
    }
}

void broker__precreate_stop(broker_t *b)
{
    if (!b->pre_started)
        return;
    pthread_mutex_lock(&b->pre_mu);
    b->pre_stop = true;
    pthread_cond_signal(&b->pre_cv);
    pthread_mutex_unlock(&b->pre_mu);
    pthread_join(b->pre_thread, NULL);
    b->pre_started = false;
    broker__precreate_t *lists[] = {b->pre_queue, b->pre_done};
    b->pre_queue = b->pre_done = NULL;
    for (size_t k = 0; k < HD_ARRAY_LEN(lists); k++)
        while (lists[k]) {
            broker__precreate_t *j = lists[k];
            lists[k] = j->next;
            if (j->topic)
                j->topic->precreate = NULL;
            job_answer(j, HD_ECLOSED);
            job_free(j);
        }
    pthread_cond_destroy(&b->pre_cv);
    pthread_mutex_destroy(&b->pre_mu);
}
