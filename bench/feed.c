/* feed FILE PROGRAM [ARG]...: runs PROGRAM with FILE on its stdin. hyperfine 1.15 gives
 * every command /dev/null as stdin, and the credential protocols of git, Bazel and cargo
 * read their request there; the benchmark times `feed noop` too and subtracts it. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	int fd;

	if (argc < 3) {
		fputs("usage: feed FILE PROGRAM [ARG]...\n", stderr);
		return 64;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) {
		perror(argv[1]);
		return 66;
	}
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
