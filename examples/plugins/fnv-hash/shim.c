// What Embedded Swift needs from a C library in a freestanding wasm32 module: a bump
// allocator (memory is never freed: an instance lives for one call), memset/memcpy/memmove,
// and what else the Embedded Swift runtime links to.
#include <stddef.h>
extern unsigned char __heap_base;

__attribute__((import_module("offload"), import_name("log"))) void offload_log(const char *text, int length);
// Swift calls the import through this C function (an import declared in Swift would take
// Swift's calling convention, not the contract's (i32, i32)).
void offload_log_text(const char *text, int length) { offload_log(text, length); }
static unsigned long arena = 0;
void *malloc(size_t size) {
    if (!arena) arena = (unsigned long)&__heap_base;
    unsigned long start = (arena + 15) & ~15UL;
    arena = start + size;
    unsigned long pages = (arena + 65535) / 65536;
    unsigned long have = __builtin_wasm_memory_size(0);
    if (pages > have && __builtin_wasm_memory_grow(0, pages - have) < 0) return 0;
    return (void *)start;
}
void *offload_alloc(size_t size) { return malloc(size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    if (!arena) arena = (unsigned long)&__heap_base;
    arena = (arena + alignment - 1) & ~(alignment - 1);
    *out = malloc(size);
    return *out ? 0 : 12;
}
void free(void *pointer) { (void)pointer; }
void *memset(void *target, int value, size_t count) { unsigned char *p = target; while (count--) *p++ = (unsigned char)value; return target; }
void *memcpy(void *target, const void *source, size_t count) { unsigned char *t = target; const unsigned char *s = source; while (count--) *t++ = *s++; return target; }
void *memmove(void *target, const void *source, size_t count) {
    unsigned char *t = target; const unsigned char *s = source;
    if (t < s) { while (count--) *t++ = *s++; } else { t += count; s += count; while (count--) *--t = *--s; }
    return target;
}
int putchar(int c) { return c; }
void arc4random_buf(void *buffer, size_t count) { memset(buffer, 0, count); }
