#define _GNU_SOURCE
#include "COffloadPlugins.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

static _Thread_local volatile uint64_t *interrupt_cell;
static _Thread_local volatile int interrupt_call;
static pthread_once_t interrupt_once = PTHREAD_ONCE_INIT;
static int interrupt_status;

static int interrupt_signal(void) { return SIGRTMIN + 7; }

static void on_interrupt(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)context;
    volatile uint64_t *cell = interrupt_cell;
    if (cell && info->si_value.sival_int == interrupt_call) *cell = 0;
}

static void install_interrupt(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_interrupt;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    interrupt_status = sigaction(interrupt_signal(), &action, NULL) == 0 ? 0 : errno;
}

int offload_interrupt_install(void) {
    pthread_once(&interrupt_once, install_interrupt);
    return interrupt_status;
}

static _Thread_local int interrupt_unblocked;

void offload_interrupt_arm(uint64_t *cell, int call) {
    if (!interrupt_unblocked) {
        // Dispatch's worker threads (Swift concurrency's too) block every signal they can;
        // this one is sent only by the watchdog, so it stays open on this thread from now on.
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, interrupt_signal());
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        interrupt_unblocked = 1;
    }
    interrupt_cell = NULL;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    interrupt_call = call;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    interrupt_cell = cell;
}

void offload_interrupt_disarm(void) {
    interrupt_cell = NULL;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

int offload_interrupt_send(unsigned long thread, int call) {
    union sigval value;
    value.sival_int = call;
    return pthread_sigqueue((pthread_t)thread, interrupt_signal(), value);
}

size_t offload_allocation_size(const void *block) { return malloc_usable_size((void *)block); }
