#if canImport(Glibc)
import Glibc
#endif
import Offload

/// Plugin folders written for a test: a manifest and a WAT module each, well-behaved or hostile.
struct PluginFixtures {
    let directory: String

    init(_ name: String) {
        directory = "/tmp/offload-plugins-\(getpid())-\(name)"
        mkdir(directory, 0o755)
    }

    func remove() {
        for entry in ["upper", "upper-2", "spin", "grow", "trap", "recurse", "pointer", "notjson", "noexport", "badmanifest", "checksum", "wasi", "badlog", "bigstart"] {
            for file in ["plugin.json", "module.wat"] { unlink("\(directory)/\(entry)/\(file)") }
            rmdir("\(directory)/\(entry)")
        }
        rmdir(directory)
    }

    func write(_ text: String, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// A plugin folder `id` with `body` as the module's functions after the common parts.
    func add(_ id: String, folder: String? = nil, version: String = "1.0.0", operations: String = #"["transform"]"#, limits: String = "{}", extra: String = "",
             imports: String = Self.offloadImports, memory: String = "(memory (export \"memory\") 1)", body: String) {
        let folder = "\(directory)/\(folder ?? id)"
        mkdir(folder, 0o755)
        write(#"{"id":"\#(id)","version":"\#(version)","module":"module.wat","operations":\#(operations),"limits":\#(limits)\#(extra)}"#,
              to: "\(folder)/plugin.json")
        write("(module \(imports) \(memory) \(Self.alloc) \(body))", to: "\(folder)/module.wat")
    }

    static let offloadImports = #"(import "offload" "log" (func $log (param i32 i32))) (import "offload" "progress" (func $progress (param i32)))"#

    /// A bump allocator from 1 KiB up, growing memory as needed.
    static let alloc = """
        (global $next (mut i32) (i32.const 1024))
        (func (export "alloc") (param $len i32) (result i32) (local $p i32)
          (local.set $p (global.get $next))
          (global.set $next (i32.add (global.get $next) (local.get $len)))
          (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
            (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
          (local.get $p))
        (data (i32.const 0) "upper-casing")
        """

    /// Returns `(ptr << 32) | len`.
    static func packed(_ pointer: String, _ length: String) -> String {
        "(i64.or (i64.shl (i64.extend_i32_u \(pointer)) (i64.const 32)) (i64.extend_i32_u \(length)))"
    }

    /// Every plugin of the tests.
    func addAll() {
        add("upper", version: "1.2.0", operations: #"["transform","validate"]"#, body: """
            (func (export "transform") (param $ptr i32) (param $len i32) (result i64) (local $i i32) (local $c i32)
              (call $log (i32.const 0) (i32.const 12))
              (call $progress (i32.const 500))
              (block $done (loop $l
                (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
                (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
                (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
                  (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $l)))
              \(Self.packed("(local.get $ptr)", "(local.get $len)")))
            (func (export "validate") (param $ptr i32) (param $len i32) (result i64)
              \(Self.packed("(local.get $ptr)", "(local.get $len)")))
            """)
        add("upper", folder: "upper-2", version: "2.0.0", body: """
            (func (export "transform") (param $ptr i32) (param $len i32) (result i64) \(Self.packed("(local.get $ptr)", "(local.get $len)")))
            """)
        add("spin", body: #"(func (export "transform") (param i32 i32) (result i64) (loop $l (br $l)) (i64.const 0))"#)
        add("grow", limits: #"{"memoryMb":2}"#, body: """
            (func (export "transform") (param i32 i32) (result i64)
              (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
              unreachable)
            """)
        add("trap", body: #"(func (export "transform") (param i32 i32) (result i64) unreachable)"#)
        add("recurse", body: #"(func $f (export "transform") (param i32 i32) (result i64) (call $f (local.get 0) (local.get 1)))"#)
        add("pointer", body: #"(func (export "transform") (param i32 i32) (result i64) (i64.const 0xFFFF00000000000A))"#)
        add("notjson", body: #"(func (export "transform") (param i32 i32) (result i64) \#(Self.packed("(i32.const 0)", "(i32.const 12)")))"#)
        add("noexport", body: #"(func (export "analyze") (param i32 i32) (result i64) (i64.const 0))"#)
        add("checksum", extra: #","sha256":"0000000000000000000000000000000000000000000000000000000000000000""#,
            body: #"(func (export "transform") (param i32 i32) (result i64) (i64.const 0))"#)
        add("wasi", imports: #"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
            body: #"(func (export "transform") (param i32 i32) (result i64) (i64.const 0))"#)
        add("badlog", body: #"(func (export "transform") (param i32 i32) (result i64) (call $log (i32.const 70000) (i32.const 10)) (i64.const 0))"#)
        add("bigstart", memory: "(memory (export \"memory\") 2000)", body: #"(func (export "transform") (param i32 i32) (result i64) (i64.const 0))"#)
        mkdir("\(directory)/badmanifest", 0o755)
        write(#"{"id":"badmanifest","version":"1.0","module":"module.wat","operations":["transform"]}"#, to: "\(directory)/badmanifest/plugin.json")
    }
}
