/// The run as a JUnit document: one test case per node, for CI test report viewers.
public enum JUnitReport {
    /// The document, with every secret registered in ``SecretMasker/shared`` masked.
    public static func render(_ result: RunResult, suite: String = "stockops") -> String {
        SecretMasker.shared.mask(document(result, suite: suite))
    }

    private static func document(_ result: RunResult, suite: String) -> String {
        let failures = result.results.filter { $0.result.status.isFailure }.count
        let skipped = result.results.filter { [.skipped, .blocked, .cancelled, .wouldRun].contains($0.result.status) }.count
        let total = result.finished.timeIntervalSince(result.started)
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml +=
            "<testsuites>\n<testsuite name=\"\(escape(suite))\" tests=\"\(result.results.count)\" failures=\"\(failures)\" skipped=\"\(skipped)\" time=\"\(seconds(total))\">\n"
        for item in result.results {
            xml += "  <testcase classname=\"\(escape(suite))\" name=\"\(escape(item.id.description))\" time=\"\(seconds(item.result.duration))\""
            let reason = escape(item.result.reason ?? item.result.status.rawValue)
            switch item.result.status {
            case .failed, .timedOut:
                xml += ">\n    <failure message=\"\(reason)\"/>\n  </testcase>\n"
            case .skipped, .blocked, .cancelled, .wouldRun:
                xml += ">\n    <skipped message=\"\(escape(item.result.status.rawValue)): \(reason)\"/>\n  </testcase>\n"
            case .passed, .cached, .external:
                xml += "/>\n"
            }
        }
        return xml + "</testsuite>\n</testsuites>\n"
    }

    private static func seconds(_ value: Double) -> String {
        String(Double(Int(value * 1000)) / 1000)
    }

    static func escape(_ text: String) -> String { HTML.escape(text) }
}
