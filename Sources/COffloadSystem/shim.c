#define _GNU_SOURCE
#include "COffloadSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

const int offload_rlimit_data = RLIMIT_DATA;
const int offload_rlimit_cpu = RLIMIT_CPU;

int offload_pipe_cloexec(int fds[2]) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno;
#else
    if (pipe(fds) != 0) return errno;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

int offload_set_pipe_size(int fd, int bytes) {
#if defined(F_SETPIPE_SZ)
    int result = fcntl(fd, F_SETPIPE_SZ, bytes);
    return result < 0 ? -errno : result;
#else
    (void)fd; (void)bytes;
    return -ENOTSUP;
#endif
}

int offload_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags) == 0 ? 0 : errno;
}

int offload_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                  int in_fd, int out_fd, int stdout_fd, int stderr_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return result;
    }
    // Copies above the target numbers, so that no dup2 below overwrites a source it still needs.
    // dup2 clears close-on-exec on the child's copies; the host's descriptors stay close-on-exec.
    int given[4] = {in_fd, out_fd, stdout_fd, stderr_fd};
    int sources[4] = {-1, -1, -1, -1};
    int targets[4] = {3, 4, 1, 2};
    for (int i = 0; i < 4 && result == 0; i++) {
        sources[i] = fcntl(given[i], F_DUPFD_CLOEXEC, 10);
        if (sources[i] < 0) result = errno;
    }
    if (result == 0) result = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    for (int i = 0; i < 4 && result == 0; i++) {
        result = posix_spawn_file_actions_adddup2(&actions, sources[i], targets[i]);
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    if (result == 0 && directory != NULL) result = posix_spawn_file_actions_addchdir_np(&actions, directory);
#else
    if (directory != NULL) result = ENOTSUP;
#endif
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &empty);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &all);
    if (result == 0) result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (result == 0) result = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    for (int i = 0; i < 4; i++) {
        if (sources[i] >= 0) close(sources[i]);
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return result;
}

int offload_set_limit(pid_t pid, int resource, uint64_t value) {
    struct rlimit limit = {.rlim_cur = (rlim_t)value, .rlim_max = (rlim_t)value};
#if defined(__linux__)
    return prlimit(pid, (__rlimit_resource_t)resource, &limit, NULL) == 0 ? 0 : errno;
#else
    if (pid != getpid()) return ENOTSUP;
    return setrlimit(resource, &limit) == 0 ? 0 : errno;
#endif
}

int offload_set_parent_death_kill(void) {
#if defined(__linux__)
    return prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 ? 0 : errno;
#else
    return ENOTSUP;
#endif
}

void offload_set_thread_name(const char *name) {
#if defined(__linux__)
    char shortened[16];
    strncpy(shortened, name, 15);
    shortened[15] = 0;
    pthread_setname_np(pthread_self(), shortened);
#elif defined(__APPLE__)
    pthread_setname_np(name);
#endif
}

void offload_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
}

int offload_decode_wait_status(int status, int *value) {
    if (WIFEXITED(status)) {
        *value = WEXITSTATUS(status);
        return 1;
    }
    if (WIFSIGNALED(status)) {
        *value = WTERMSIG(status);
        return 2;
    }
    return 0;
}

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void offload_trim_heap(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
