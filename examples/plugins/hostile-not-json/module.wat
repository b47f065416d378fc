;; A hostile plugin for the tests and examples/plugins.jsonl: its output is "not json!": invalidPluginOutput.
(module
  (import "offload" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $p))
  (data (i32.const 0) "not json!")
  (func (export "transform") (param i32 i32) (result i64) (i64.const 9))
)
