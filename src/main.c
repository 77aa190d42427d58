/* herald: `herald serve` runs the broker; `herald <command>` runs a client command.
 * This is the only place that calls exit(). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: herald serve|topic|produce|consume ...\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "herald: unknown command '%s'\n", argv[1]);
    return 2;
}
