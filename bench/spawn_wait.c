/* spawn_wait: starts a server and measures the time from its exec to the first TCP connection
 * it accepts on 127.0.0.1:PORT, polling every 100 µs. The server is left running.
 *
 * usage: spawn_wait PORT TIMEOUT_S LOGFILE -- COMMAND [ARGS...]
 * prints: {"pid":N,"ms":X} (ms < 0 when the port did not open in time) */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: spawn_wait PORT TIMEOUT_S LOGFILE -- COMMAND [ARGS...]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double timeout_ms = atof(argv[2]) * 1e3;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("spawn_wait: fork");
        return 1;
    }
    if (pid == 0) {
        int fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[5], argv + 5);
        _exit(127);
    }
    double ms = -1;
    while (now_ms() - t0 < timeout_ms) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            ms = now_ms() - t0;
            close(fd);
            break;
        }
        if (fd >= 0)
            close(fd);
        usleep(100);
    }
    printf("{\"pid\":%d,\"ms\":%.1f}\n", (int)pid, ms);
    return ms < 0;
}
