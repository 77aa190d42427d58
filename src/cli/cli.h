/* Client subcommands (`herald topic|produce|consume|group ...`), built on librdkafka so they work
 * against Herald or any Kafka cluster. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

/* Exit codes every entry point returns. The entry points never call exit(). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* Entry points: argv[0] is the command name ("topic", "produce", ...), the rest its arguments.
 * Results go to stdout, errors to stderr as one line "herald <cmd>: ...". */
int cli_topic_main(int argc, char **argv);
int cli_produce_main(int argc, char **argv);
int cli_consume_main(int argc, char **argv);
int cli_group_main(int argc, char **argv);
/* `herald schema ...` talks to a schema registry over HTTP (libcurl), not to Kafka. */
int cli_schema_main(int argc, char **argv);
/* `herald sub ...` manages subscriptions over Herald's HTTP API (libcurl). */
int cli_sub_main(int argc, char **argv);
/* `herald doctor` asks a running broker's HTTP API for its architecture check. */
int cli_doctor_main(int argc, char **argv);

#endif
