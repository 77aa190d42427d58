/* stall_probe: measures how late an otherwise idle thread wakes up, to tell the machine's own
 * stalls from a server's. It sleeps 1 ms at a time until SIGTERM or SIGINT (or for SECONDS), and
 * counts each wake-up more than 2 ms and 5 ms late. A broker cannot answer faster than the
 * machine runs its threads: on a virtual machine whose host stops it now and then, every system
 * measured in that window shows the stall in its tail latency.
 *
 * usage: stall_probe [SECONDS]
 * prints: {"wakeups":N,"late_2ms":N,"late_5ms":N,"max_late_ms":X,"stalled_ms":X} where
 * stalled_ms sums the lateness of the wake-ups more than 2 ms late. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    double limit_ms = argc > 1 ? atof(argv[1]) * 1e3 : 0;
    if (argc > 2 || limit_ms < 0) {
        fprintf(stderr, "usage: stall_probe [SECONDS]\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    long wakeups = 0, late2 = 0, late5 = 0;
    double worst = 0, stalled = 0, start = now_ms();
    const struct timespec one_ms = {.tv_sec = 0, .tv_nsec = 1000000};
    while (!stop) {
        double before = now_ms();
        if (limit_ms > 0 && before - start >= limit_ms)
            break;
        /* A signal cuts the sleep short, which is not lateness: only count full sleeps. */
        if (clock_nanosleep(CLOCK_MONOTONIC, 0, &one_ms, NULL) != 0)
            continue;
        double late = now_ms() - before - 1.0;
        wakeups++;
        if (late > worst)
            worst = late;
        if (late > 2.0) {
            late2++;
            stalled += late;
        }
        if (late > 5.0)
            late5++;
    }
    printf("{\"wakeups\":%ld,\"late_2ms\":%ld,\"late_5ms\":%ld,\"max_late_ms\":%.3f,"
           "\"stalled_ms\":%.3f}\n",
           wakeups, late2, late5, worst, stalled);
    return 0;
}
