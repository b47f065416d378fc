#if canImport(Glibc)
import Glibc
#endif
import OffloadTestSupport
import Testing
@testable import Offload

/// The suites that run the `offload` executable on heavy inputs, one test at a time: each
/// keeps a core or two busy, and the pool tests beside them measure time.
@Suite(.serialized) enum CommandLineTests {}
