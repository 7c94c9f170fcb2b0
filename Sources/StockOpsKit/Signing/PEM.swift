import Foundation

/// A PEM block: `-----BEGIN TYPE-----`, base64 lines, `-----END TYPE-----`.
struct PEMBlock: Sendable, Equatable {
    let type: String
    let bytes: [UInt8]

    /// Every block of `text`, in order; text outside blocks is ignored.
    static func all(in text: String) throws(SigningError) -> [PEMBlock] {
        var blocks: [PEMBlock] = []
        var type: String?
        var body = ""
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if let current = type {
                if line == "-----END \(current)-----" {
                    guard let bytes = Data(base64Encoded: body) else {
                        throw SigningError(.invalidKey, "the \(current) PEM block is not valid base64")
                    }
                    blocks.append(PEMBlock(type: current, bytes: [UInt8](bytes)))
                    type = nil
                    body = ""
                } else if line.hasPrefix("-----") {
                    throw SigningError(.invalidKey, "the \(current) PEM block has no END line")
                } else {
                    body += line
                }
            } else if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                type = String(line.dropFirst("-----BEGIN ".count).dropLast("-----".count))
            }
        }
        if let type { throw SigningError(.invalidKey, "the \(type) PEM block has no END line") }
        return blocks
    }
}
