import Yams

/// A YAML node with the file and key path it was reached by, so every error can say where it is.
struct YAMLValue {
    let node: Yams.Node
    let file: String
    let path: String

    var line: Int? { node.mark?.line }

    func error(_ code: ConfigError.Code, _ message: String) -> ConfigError {
        ConfigError(code: code, file: file, keyPath: path, line: line, message: message)
    }

    private func child(_ node: Yams.Node, _ component: String) -> YAMLValue {
        YAMLValue(node: node, file: file, path: path.isEmpty ? component : path + "." + component)
    }

    private var kind: String {
        switch node {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// The entries of a mapping; fails when keys outside `allowed` are present.
    func mapping(allowed: Set<String>? = nil) throws(ConfigError) -> [(key: String, value: YAMLValue)] {
        guard case .mapping(let mapping) = node else {
            throw error(.wrongType, "expected a mapping, found \(kind)")
        }
        var entries: [(key: String, value: YAMLValue)] = []
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? ""
            let value = child(valueNode, key)
            if let allowed, !allowed.contains(key) {
                throw ConfigError(
                    code: .unknownKey, file: file, keyPath: value.path, line: keyNode.mark?.line,
                    message: "unknown key; expected one of " + allowed.sorted().joined(separator: ", "))
            }
            entries.append((key, value))
        }
        return entries
    }

    /// The entries of a mapping keyed by environment names, each one of `known` (the pipeline's `environments:`).
    func environmentMapping(_ known: Set<Environment>) throws(ConfigError) -> [(environment: Environment, value: YAMLValue)] {
        var entries: [(environment: Environment, value: YAMLValue)] = []
        for (key, value) in try mapping() {
            entries.append((try value.environmentName(key, known: known), value))
        }
        return entries
    }

    /// `text` as one of the `known` environments; `self` is where an error points.
    func environmentName(_ text: String, known: Set<Environment>) throws(ConfigError) -> Environment {
        guard let environment = Environment(rawValue: text), known.contains(environment) else {
            throw error(
                .invalidValue,
                "no environment '\(text)' under environments:; add it there or use "
                    + known.sorted().map(\.rawValue).joined(separator: ", "))
        }
        return environment
    }

    func optional(_ key: String) throws(ConfigError) -> YAMLValue? {
        try mapping().first { $0.key == key }?.value
    }

    func required(_ key: String) throws(ConfigError) -> YAMLValue {
        guard let value = try optional(key) else {
            throw ConfigError(code: .missingKey, file: file, keyPath: path.isEmpty ? key : path + "." + key, line: line, message: "required key is missing")
        }
        return value
    }

    func list() throws(ConfigError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else {
            throw error(.wrongType, "expected a list, found \(kind)")
        }
        return sequence.enumerated().map { index, node in
            YAMLValue(node: node, file: file, path: path + "[\(index)]")
        }
    }

    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else {
            throw error(.wrongType, "expected a string, found \(kind)")
        }
        return scalar.string
    }

    func nonEmptyString() throws(ConfigError) -> String {
        let value = try string()
        guard !value.isEmpty else { throw error(.invalidValue, "must not be empty") }
        return value
    }

    func int() throws(ConfigError) -> Int {
        guard case .scalar = node, let value = node.int else {
            throw error(.wrongType, "expected an integer, found '\(node.string ?? kind)'")
        }
        return value
    }

    func double() throws(ConfigError) -> Double {
        guard case .scalar = node, let value = node.float else {
            throw error(.wrongType, "expected a number, found '\(node.string ?? kind)'")
        }
        return value
    }

    func bool() throws(ConfigError) -> Bool {
        guard case .scalar = node, let value = node.bool else {
            throw error(.wrongType, "expected true or false, found '\(node.string ?? kind)'")
        }
        return value
    }

    func strings() throws(ConfigError) -> [String] {
        var values: [String] = []
        for item in try list() { values.append(try item.nonEmptyString()) }
        return values
    }
}
