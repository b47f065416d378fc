;; A hostile plugin for the tests and examples/plugins.jsonl: its manifest's version is not a semantic version: invalidPlugin.
(module
  (import "offload" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $p))
  (func (export "transform") (param i32 i32) (result i64) (i64.const 0))
)
