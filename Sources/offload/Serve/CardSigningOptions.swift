import ArgumentParser
import Foundation
import Offload
import OffloadServer

/// `--card-key` and `--card-salt`, of `offload serve` and `offload sign-card`: imgproxy's model,
/// keys and salt in hexadecimal.
struct CardSigningOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Sign card URLs with these keys, in hexadecimal, comma-separated; the first signs, every one checks (rotation). Default: $OFFLOAD_CARD_KEY.",
            valueName: "key[,key…]"))
    var cardKey: String?

    @Option(name: .long, help: ArgumentHelp("The salt signed before each card URL, in hexadecimal. Default: $OFFLOAD_CARD_SALT.", valueName: "salt"))
    var cardSalt: String?

    /// The signer the options name; `nil` when no key is given.
    func signer() throws -> CardSigner? {
        let environment = ProcessInfo.processInfo.environment
        let keys = (cardKey ?? environment["OFFLOAD_CARD_KEY"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !keys.isEmpty else {
            if cardSalt != nil { throw ValidationError("--card-salt needs --card-key") }
            return nil
        }
        guard let salt = cardSalt ?? environment["OFFLOAD_CARD_SALT"], !salt.isEmpty else {
            throw ValidationError("--card-key needs --card-salt (openssl rand -hex 32 makes one)")
        }
        do { return try CardSigner(hexKeys: keys, hexSalt: salt) } catch { throw ValidationError(error.message) }
    }
}
