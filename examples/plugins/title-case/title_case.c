// An Offload plugin in freestanding C (clang --target=wasm32, wasm-ld; no C library).
// `transform` upper-cases the first letter of each word inside the JSON strings of its input,
// leaving keys, numbers and escapes alone; `validate` answers {"valid":true} for any input.

#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(name) __attribute__((import_module("offload"), import_name(name)))

IMPORT("log") void offload_log(const char *text, int length);
IMPORT("progress") void offload_progress(int permille);

extern unsigned char __heap_base;
static unsigned long next_free;

// A bump allocator after the module's data, growing memory by whole pages as needed.
EXPORT("alloc") int alloc(int length) {
    if (!next_free) next_free = (unsigned long)&__heap_base;
    unsigned long start = (next_free + 7) & ~7UL;
    next_free = start + (unsigned long)length;
    unsigned long pages = (next_free + 65535) / 65536;
    unsigned long have = __builtin_wasm_memory_size(0);
    if (pages > have && __builtin_wasm_memory_grow(0, pages - have) < 0) return 0;
    return (int)start;
}

static long long packed(int pointer, int length) {
    return ((long long)(unsigned)pointer << 32) | (unsigned)length;
}

EXPORT("transform") long long transform(int pointer, int length) {
    unsigned char *text = (unsigned char *)pointer;
    int in_string = 0, escaped = 0, word_start = 1, is_key = 0;
    for (int i = 0; i < length; i++) {
        unsigned char c = text[i];
        if (!in_string) {
            if (c == '"') {
                in_string = 1;
                word_start = 1;
                // A string right after '{' or ',' is a key: left as it is.
                int j = i - 1;
                while (j >= 0 && (text[j] == ' ' || text[j] == '\n' || text[j] == '\t' || text[j] == '\r')) j--;
                is_key = j >= 0 && (text[j] == '{' || text[j] == ',');
            }
            continue;
        }
        if (escaped) { escaped = 0; continue; }
        if (c == '\\') { escaped = 1; continue; }
        if (c == '"') { in_string = 0; continue; }
        if (!is_key && word_start && c >= 'a' && c <= 'z') text[i] = (unsigned char)(c - 32);
        word_start = c == ' ' || c == '-';
        if ((i & 0xFFFF) == 0) offload_progress((int)((long long)i * 1000 / length));
    }
    offload_log("title-cased", 11);
    return packed(pointer, length);
}

EXPORT("validate") long long validate(int pointer, int length) {
    (void)pointer;
    (void)length;
    static const char answer[] = "{\"valid\":true}";
    return packed((int)answer, sizeof answer - 1);
}
