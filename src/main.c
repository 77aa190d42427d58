/* herald: `herald serve` runs the broker; `herald <command>` runs a client command.
 * This is the only place that calls exit(). */
#include "cli/cli.h"
#include "server/server.h"
#include "util/config.h"
#include "util/err.h"
#include "util/say.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HERALD_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "herald %s: a Kafka-compatible event backbone in one binary\n\n"
            "usage:\n"
            "  herald serve [--config FILE] [--SETTING VALUE ...]   run the broker\n"
            "  herald topic create|list|describe|delete ...         manage topics\n"
            "  herald produce TOPIC [options]                       produce stdin lines\n"
            "  herald consume TOPIC [options]                       print records\n"
            "  herald group list|describe|delete|reset-offsets ...  consumer groups\n"
            "  herald schema register|get|list|check|delete ...     the schema registry\n"
            "  herald sub create|list|describe|delete|redrive|purge subscriptions (queues)\n"
            "  herald doctor [--http URL]                           architecture health\n"
            "  herald config-doc                                    settings as Markdown\n"
            "  herald --version\n\n"
            "Run `herald serve --help` for the broker's settings and `herald <command> "
            "--help` for a command's options.\n",
            HERALD_VERSION);
}

static int read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if (cap >= (16u << 20))
                break;
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    *text = buf;
    *len = n;
    return 0;
}

static int serve_main(int argc, char **argv)
{
    hd_config_t cfg;
    hd_config_init(&cfg);
    const char *why = "";
    int rc = 0;
    /* The properties file first (flag or HERALD_CONFIG), then the environment, then flags. */
    const char *file = getenv("HERALD_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: herald serve [--config FILE] [--SETTING VALUE ...]\n\n"
                   "Settings (flag, Kafka name, environment variable, default); precedence: "
                   "flags > environment > properties file > defaults:\n"
                   "  --config FILE\n      properties file with Kafka-style settings "
                   "($HERALD_CONFIG)\n");
            hd_config_print_help(stdout);
            hd_config_deinit(&cfg);
            return 0;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file) {
        char *text;
        size_t len;
        if (read_file(file, &text, &len) < 0) {
            fprintf(stderr, "herald: cannot read config file %s\n", file);
            rc = 2;
            goto out;
        }
        int line = 0;
        int r = hd_config_parse_properties(&cfg, text, len, &line, &why);
        free(text);
        if (r < 0) {
            fprintf(stderr, "herald: %s:%d: %s\n", file, line, why);
            rc = 2;
            goto out;
        }
    }
    const char *bad_env = NULL;
    if (hd_config_apply_env(&cfg, &bad_env, &why) < 0) {
        fprintf(stderr, "herald: environment variable %s: %s\n", bad_env, why);
        rc = 2;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2)) {
            fprintf(stderr, "herald serve: unexpected argument '%s' (see --help)\n", a);
            rc = 2;
            goto out;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        char name[128];
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof name) {
            fprintf(stderr, "herald serve: unknown option '%s'\n", argv[i]);
            rc = 2;
            goto out;
        }
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        const char *value = eq ? eq + 1 : NULL;
        if (!strcmp(name, "config")) {
            if (!value)
                i++;
            continue;
        }
        bool is_bool = false;
        if (!hd_config_has_flag(name, &is_bool)) {
            fprintf(stderr, "herald serve: unknown option '--%s' (see --help)\n", name);
            rc = 2;
            goto out;
        }
        if (!value) {
            if (is_bool && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))) {
                value = "true";
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                fprintf(stderr, "herald serve: option '--%s' needs a value\n", name);
                rc = 2;
                goto out;
            }
        }
        if (hd_config_set(&cfg, name, value, &why) < 0) {
            fprintf(stderr, "herald serve: --%s %s: %s\n", name, value, why);
            rc = 2;
            goto out;
        }
    }
    int level = say_level_parse(cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "herald serve: log.level must be error, warn, info or debug\n");
        rc = 2;
        goto out;
    }
    say_level = level;
    int format = say_format_parse(cfg.log_format);
    if (format < 0) {
        fprintf(stderr, "herald serve: log.format must be text or json\n");
        rc = 2;
        goto out;
    }
    say_format = format;
    rc = server_run(&cfg) < 0 ? 1 : 0;
out:
    hd_config_deinit(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("herald %s\n", HERALD_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "serve"))
        return serve_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "topic"))
        return cli_topic_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "produce"))
        return cli_produce_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "consume"))
        return cli_consume_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "group"))
        return cli_group_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "schema"))
        return cli_schema_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "sub"))
        return cli_sub_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "doctor"))
        return cli_doctor_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "config-doc")) {
        hd_config_print_markdown(stdout);
        return 0;
    }
    fprintf(stderr, "herald: unknown command '%s' (see herald --help)\n", cmd);
    return 2;
}
