import ArgumentParser
import Foundation
import Offload
import OffloadServer

struct SignCardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-card",
        abstract: "Print the signed URL of a card, for a service started with --card-key and --card-salt.",
        discussion: """
            The query is the card's parameters as in GET /og.png?…, e.g. 'title=Hello&template=midnight'. The URL carries
            sig, the URL-safe base64 of HMAC-SHA256(key, salt ‖ path ‖ ? ‖ the parameters sorted and percent-encoded), as
            imgproxy signs its URLs; --expires-in adds an expiry that is signed with the rest.
            """
    )

    @Argument(help: ArgumentHelp("The card's query parameters.", valueName: "query"))
    var query: String

    @Option(name: .long, help: "png, jpg or webp.")
    var format = "png"

    @Option(name: .long, help: "Seconds the URL works for (default: for ever).")
    var expiresIn: Int?

    @Option(name: .long, help: "What to put before the path, such as https://example.com or https://example.com/admin.")
    var base = ""

    @OptionGroup var signing: CardSigningOptions

    func validate() throws {
        guard ["png", "jpg", "webp"].contains(format) else { throw ValidationError("--format must be png, jpg or webp") }
        if let expiresIn, expiresIn < 1 { throw ValidationError("--expires-in must be at least 1") }
    }

    func run() throws {
        guard let signer = try signing.signer() else {
            throw ValidationError("sign-card needs --card-key and --card-salt (or $OFFLOAD_CARD_KEY and $OFFLOAD_CARD_SALT)")
        }
        let parameters: [String: String]
        do { parameters = try CardSigner.parameters(of: query) } catch { throw ValidationError(error.message) }
        let expires = expiresIn.map { Date().addingTimeInterval(Double($0)) }
        print(base + signer.sign(parameters, path: "/og.\(format)", expires: expires))
    }
}
