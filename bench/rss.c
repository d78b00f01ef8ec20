/* rss RUNS PROGRAM [ARG]...: the largest peak RSS (KiB) of RUNS runs of PROGRAM, stdin as
 * given, stdout on /dev/null. The kernel keeps a process's high-water mark across exec, so
 * the launcher must be small: bench/run.sh links this statically, and a fork (not vfork)
 * of it brings a few pages, not an interpreter's heap, into the child's peak. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	long runs, peak = 0;
	struct rusage usage;
	int status, null_fd;
	pid_t pid;

	if (argc < 3 || (runs = strtol(argv[1], NULL, 10)) < 1) {
		fputs("usage: rss RUNS PROGRAM [ARG]...\n", stderr);
		return 64;
	}
	null_fd = open("/dev/null", O_WRONLY);
	if (null_fd < 0) {
		perror("/dev/null");
		return 72;
	}
	for (; runs > 0; runs--) {
		/* each run reads a file on stdin from its start */
		lseek(STDIN_FILENO, 0, SEEK_SET);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 71;
		}
		if (pid == 0) {
			dup2(null_fd, STDOUT_FILENO); /* our stdout is the answer */
			execv(argv[2], argv + 2);
			perror(argv[2]);
			_exit(127);
		}
		if (wait4(pid, &status, 0, &usage) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "rss: %s failed\n", argv[2]);
			return 1;
		}
		if (usage.ru_maxrss > peak)
			peak = usage.ru_maxrss;
	}
	printf("%ld\n", peak);
	return 0;
}
