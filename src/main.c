/* herald: `herald serve` runs the broker; `herald <command>` runs a client command.
 * This is the only place that calls exit(). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: herald serve|topic|produce|consume|group ...\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "topic") == 0)
        return cli_topic_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "produce") == 0)
        return cli_produce_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "consume") == 0)
        return cli_consume_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "group") == 0)
        return cli_group_main(argc - 1, argv + 1);
    fprintf(stderr, "herald: unknown command '%s'\n", argv[1]);
    return 2;
}
