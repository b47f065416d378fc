;; A hostile plugin for the tests and examples/plugins.jsonl: it imports WASI's fd_write, which no plugin is granted: permissionDenied.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "transform") (param i32 i32) (result i64) (i64.const 0)))
