;; An Offload plugin in WebAssembly text (assembled by Offload when it loads it):
;; `transform` returns its input unchanged, after logging "echoed" and reporting progress;
;; `validate` answers {"valid":true}.
(module
  (import "offload" "log" (func $log (param i32 i32)))
  (import "offload" "progress" (func $progress (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "echoed")
  (data (i32.const 16) "{\"valid\":true}")

  ;; A bump allocator from 1 KiB up, growing the memory as needed.
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $p))

  ;; (pointer << 32) | length: where the output is, as the contract packs it.
  (func $packed (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len))))

  (func (export "transform") (param $ptr i32) (param $len i32) (result i64)
    (call $log (i32.const 0) (i32.const 6))
    (call $progress (i32.const 1000))
    (call $packed (local.get $ptr) (local.get $len)))

  (func (export "validate") (param $ptr i32) (param $len i32) (result i64)
    (call $packed (i32.const 16) (i32.const 14))))
