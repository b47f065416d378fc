import Foundation

/// Whether the tests that measure a rate over seconds (and the heaviest) run: `scripts/test` runs them in a pass of
/// their own after the suite (`OFFLOAD_MEASURED_ALONE=1`), where no other test shares the cores.
public let measuredAlone = ProcessInfo.processInfo.environment["OFFLOAD_MEASURED_ALONE"] == "1"
