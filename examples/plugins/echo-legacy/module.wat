;; An older version of the echo plugin (1.0.0): `transform` answers {"legacy":true}. A job that
;; asks for "^1.2" or no version gets echo 1.2.0; one that asks for "1.0.0" or "~1.0" gets this.
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"legacy\":true}")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "transform") (param i32 i32) (result i64) (i64.const 15)))
