import Foundation

/// A user name and password (or robot account secret) for a registry.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: Secret

    public init(username: String, password: Secret) {
        self.username = username
        self.password = password
    }

    /// The `Authorization` value for HTTP Basic authentication.
    var basicAuthorization: String {
        "Basic " + Data((username + ":" + password.reveal()).utf8).base64EncodedString()
    }
}

/// A parsed `WWW-Authenticate` challenge.
public enum RegistryChallenge: Sendable, Equatable {
    case basic(realm: String?)
    /// The token flow: fetch a token from `realm` for `service` and `scope` with Basic credentials.
    case bearer(realm: String, service: String?, scope: String?)

    /// Parses `Basic realm="…"` or `Bearer realm="…",service="…",scope="…"`; nil for other schemes or a bearer
    /// challenge without a realm.
    public static func parse(_ header: String) -> RegistryChallenge? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        let scheme = trimmed.prefix { !$0.isWhitespace }.lowercased()
        let parameters = parseParameters(trimmed.drop { !$0.isWhitespace })
        switch scheme {
        case "basic": return .basic(realm: parameters["realm"])
        case "bearer":
            guard let realm = parameters["realm"], !realm.isEmpty else { return nil }
            return .bearer(realm: realm, service: parameters["service"], scope: parameters["scope"])
        default: return nil
        }
    }

    /// `name=value` or `name="quoted, value"` pairs separated by commas; names are lowercased.
    static func parseParameters(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var index = text.startIndex
        func skip(_ characters: Set<Character>) {
            while index < text.endIndex, characters.contains(text[index]) { index = text.index(after: index) }
        }
        while index < text.endIndex {
            skip([" ", "\t", ","])
            let nameStart = index
            while index < text.endIndex, text[index] != "=", text[index] != "," { index = text.index(after: index) }
            let name = text[nameStart..<index].trimmingCharacters(in: .whitespaces).lowercased()
            guard index < text.endIndex, text[index] == "=" else { continue }
            index = text.index(after: index)
            skip([" ", "\t"])
            var value = ""
            if index < text.endIndex, text[index] == "\"" {
                index = text.index(after: index)
                while index < text.endIndex, text[index] != "\"" {
                    if text[index] == "\\", text.index(after: index) < text.endIndex { index = text.index(after: index) }
                    value.append(text[index])
                    index = text.index(after: index)
                }
                if index < text.endIndex { index = text.index(after: index) }
            } else {
                while index < text.endIndex, text[index] != "," {
                    value.append(text[index])
                    index = text.index(after: index)
                }
                value = value.trimmingCharacters(in: .whitespaces)
            }
            if !name.isEmpty { result[name] = value }
        }
        return result
    }
}
