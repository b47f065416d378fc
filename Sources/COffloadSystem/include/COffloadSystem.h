#ifndef COFFLOAD_SYSTEM_H
#define COFFLOAD_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

/// Thin wrappers over the process and pipe calls Swift cannot reach directly (variadic
/// `fcntl`/`prctl`, the `W*` status macros) or should make in one place (`posix_spawn`).
/// Every function returns 0 on success or an `errno` value.

/// A pipe whose two ends are close-on-exec.
int offload_pipe_cloexec(int fds[2]);

/// Raises a pipe's buffer to `bytes` (best effort: the kernel caps it); returns the new size or -errno.
int offload_set_pipe_size(int fd, int bytes);

/// Makes `fd` non-blocking (`on` != 0) or blocking.
int offload_set_nonblocking(int fd, int on);

/// Starts `path` with `argv` and `envp` (NULL-terminated), in `directory` when not NULL.
/// The child's fd 0 is /dev/null, fds 1 and 2 are `stdout_fd` and `stderr_fd`, and fds 3 and 4
/// are `in_fd` and `out_fd`; every other descriptor of the host is close-on-exec. Signal
/// dispositions and the signal mask are reset to their defaults in the child.
int offload_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                  int in_fd, int out_fd, int stdout_fd, int stderr_fd, pid_t *pid);

/// Sets the soft and hard limit of `resource` (RLIMIT_DATA, RLIMIT_CPU, …) on process `pid`.
int offload_set_limit(pid_t pid, int resource, uint64_t value);

extern const int offload_rlimit_data;
extern const int offload_rlimit_cpu;

/// In the calling process: asks for SIGKILL when the thread that started it ends.
int offload_set_parent_death_kill(void);

/// Names the calling thread (at most 15 bytes are kept).
void offload_set_thread_name(const char *name);

/// Ignores SIGPIPE in this process, so a write to a dead worker returns EPIPE instead of killing the host.
void offload_ignore_sigpipe(void);

/// Decodes a `waitpid` status: returns 1 and the exit code in `*value` for a normal exit,
/// 2 and the signal number for a death by signal, 0 otherwise.
int offload_decode_wait_status(int status, int *value);

/// Returns the allocator's free pages to the system (glibc's `malloc_trim`; nothing elsewhere).
void offload_trim_heap(void);

#endif
