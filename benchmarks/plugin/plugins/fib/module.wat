;; The plugin suite's compute figure: recursive Fibonacci. `execute` takes n as a JSON number and
;; answers fib(n); `fib` is exported too, for wasmtime to call on the same module.
(module
  (memory (export "memory") 1)
  ;; One input buffer at 1024 (inputs are a few digits); output digits are written below 1024.
  (func (export "alloc") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (i32.const 60000)) (then (return (i32.const 0))))
    (i32.const 1024))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "execute") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32) (local $c i32) (local $n i32) (local $r i32) (local $p i32)
    (block $done
      (loop $digits
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 48)) (i32.le_u (local.get $c) (i32.const 57)))
          (then (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digits)))
    (local.set $r (call $fib (local.get $n)))
    (local.set $p (i32.const 1000))
    (loop $out
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $r) (i32.const 10))))
      (local.set $r (i32.div_u (local.get $r) (i32.const 10)))
      (br_if $out (i32.ne (local.get $r) (i32.const 0))))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (i32.const 1000) (local.get $p))))))
