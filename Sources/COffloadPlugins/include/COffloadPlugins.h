#ifndef COFFLOAD_PLUGINS_H
#define COFFLOAD_PLUGINS_H

#include <stddef.h>
#include <stdint.h>

/// Interrupts for plugin calls. A plugin call's thread arms itself with the address of its
/// store's fuel counter and a call number; `offload_interrupt_send` then makes that thread, in a
/// signal handler on itself, zero the counter if it is still running that call, so the
/// interpreter traps "out of fuel" at its next charge. (Written from another thread, the zero
/// is lost to the interpreter's own load-subtract-store of the counter.)
/// Installs the handler once per process; returns 0 or an errno value.
int offload_interrupt_install(void);
/// Arms the calling thread for call `call` with the counter at `cell` (and unblocks the signal
/// on it, once).
void offload_interrupt_arm(uint64_t *cell, int call);
/// Disarms the calling thread: signals that arrive later do nothing.
void offload_interrupt_disarm(void);
/// The usable size of a block from `malloc` (a Swift object's allocation).
size_t offload_allocation_size(const void *block);
/// Asks `thread` to zero its counter if it is armed for `call`; returns 0 or an errno value.
int offload_interrupt_send(unsigned long thread, int call);

#endif
