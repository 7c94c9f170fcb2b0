import CurlHTTP
import Foundation

/// One report to import with `POST /api/v2/import-scan/`.
public struct DefectDojoImport: Sendable, Equatable {
    /// The parser, such as `Trivy Scan` (see ``DefectDojoScanType``).
    public var scanType: String
    /// The report file.
    public var file: String
    public var productType: String
    public var product: String
    public var engagement: String
    public var testTitle: String?
    /// `yyyy-MM-dd`.
    public var scanDate: String?
    public var commitHash: String?
    public var branchTag: String?
    public var buildID: String?

    public init(
        scanType: String, file: String, productType: String, product: String, engagement: String, testTitle: String? = nil, scanDate: String? = nil,
        commitHash: String? = nil, branchTag: String? = nil, buildID: String? = nil
    ) {
        self.scanType = scanType
        self.file = file
        self.productType = productType
        self.product = product
        self.engagement = engagement
        self.testTitle = testTitle
        self.scanDate = scanDate
        self.commitHash = commitHash
        self.branchTag = branchTag
        self.buildID = buildID
    }

    /// The form fields, in a fixed order: those of DefectDojo's `ImportScanSerializer` (`dojo/api_v2/serializers.py`):
    /// `scan_type`, `product_type_name`, `product_name`, `engagement_name`, `auto_create_context`, and the optional
    /// `test_title`, `scan_date`, `commit_hash`, `branch_tag`, `build_id`.
    public var fields: [(String, String)] {
        var fields = [
            ("scan_type", scanType), ("product_type_name", productType), ("product_name", product),
            ("engagement_name", engagement), ("auto_create_context", "true"),
        ]
        if let testTitle { fields.append(("test_title", testTitle)) }
        if let scanDate { fields.append(("scan_date", scanDate)) }
        if let commitHash { fields.append(("commit_hash", commitHash)) }
        if let branchTag { fields.append(("branch_tag", branchTag)) }
        if let buildID { fields.append(("build_id", buildID)) }
        return fields
    }
}

/// What DefectDojo answered to an import (`201` with `test_id`, `engagement_id`, `product_id`).
public struct DefectDojoImportResult: Codable, Sendable, Equatable {
    public var test: Int?
    public var engagement: Int?
    public var product: Int?
}

/// The DefectDojo parsers stockops' reports are imported with, by the names DefectDojo's parsers declare
/// (`get_scan_types()` in `dojo/tools/<tool>/parser.py`).
public enum DefectDojoScanType: String, Sendable, CaseIterable {
    case trivy = "Trivy Scan"
    case semgrep = "Semgrep JSON Report"
    case gitleaks = "Gitleaks Scan"
    /// ZAP's XML report: the only format the "ZAP Scan" parser reads.
    case zap = "ZAP Scan"
    case cycloneDX = "CycloneDX Scan"

    /// The parser for a report file, from its content; nil for files DefectDojo should not receive
    /// (xUnit, SARIF and HTML copies of reports imported in another format, ZAP's JSON).
    public static func detect(fileName: String, content: Data) -> DefectDojoScanType? {
        let lower = fileName.lowercased()
        if lower.hasSuffix(".xml") {
            let head = String(decoding: content.prefix(4096), as: UTF8.self)
            return head.contains("<OWASPZAPReport") ? .zap : nil
        }
        // A .json file that is not JSON has no DefectDojo parser either.
        guard lower.hasSuffix(".json"), let object = try? JSONSerialization.jsonObject(with: content) else { return nil }
        if let array = object as? [[String: Any]] {
            return (array.first.map { $0["RuleID"] != nil && $0["File"] != nil } ?? lower.contains("gitleaks")) ? .gitleaks : nil
        }
        guard let dictionary = object as? [String: Any] else { return nil }
        if dictionary["bomFormat"] as? String == "CycloneDX" { return .cycloneDX }
        if dictionary["SchemaVersion"] != nil && (dictionary["Results"] != nil || dictionary["ArtifactName"] != nil) { return .trivy }
        if dictionary["results"] is [Any] && dictionary["errors"] != nil && dictionary["runs"] == nil { return .semgrep }
        return nil
    }
}

/// A client of DefectDojo's API v2 import endpoint. The API key (`Authorization: Token <key>`) is a ``Secret``.
public struct DefectDojoClient: Sendable {
    public var baseURL: String
    public var token: Secret
    public var http: HTTPClientConfiguration

    public init(baseURL: String, token: Secret, http: HTTPClientConfiguration = DefectDojoClient.http) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.http = http
    }

    /// Generous timeouts (DefectDojo parses the report before answering) and retries of connection errors, 5xx and 429.
    public static let http = HTTPClientConfiguration(
        connectTimeout: .seconds(10), totalTimeout: .seconds(300),
        retry: RetryPolicy(maxAttempts: 3, baseDelay: .seconds(1), maxDelay: .seconds(8)))

    /// The request for `import`: a `multipart/form-data` POST to `/api/v2/import-scan/`. It may be sent again
    /// after a connection error or a 5xx: DefectDojo deduplicates the findings of a repeated import.
    public func request(_ item: DefectDojoImport, content: Data, boundary: String = "stockops-" + UUID().uuidString) -> HTTPRequest {
        let body = Self.multipart(
            fields: item.fields, fileField: "file", fileName: (item.file as NSString).lastPathComponent, fileContent: content, boundary: boundary)
        return HTTPRequest(
            method: .post, url: baseURL + "/api/v2/import-scan/",
            headers: [
                "Authorization": "Token " + token.reveal(), "Content-Type": "multipart/form-data; boundary=\(boundary)",
                "Accept": "application/json",
            ],
            body: body, isMarkedIdempotent: true)
    }

    /// Imports one report. Throws ``StageFailure``: transient for connection errors and 5xx/429 (after the
    /// client's own retries), infrastructure for a refused key, failed for a report DefectDojo rejects.
    public func importScan(_ item: DefectDojoImport) async throws -> DefectDojoImportResult {
        guard let content = FileManager.default.contents(atPath: item.file) else {
            throw StageFailure.failed("cannot read the report \(item.file)")
        }
        let response: HTTPResponse
        do {
            response = try await HTTPClient(configuration: http).send(request(item, content: content))
        } catch let error as HTTPClientError {
            throw StageFailure.transient("DefectDojo at \(baseURL) is unreachable: \(error.code) (\(SecretMasker.shared.mask(error.message)))")
        }
        let detail = SecretMasker.shared.mask(String(response.text.prefix(300)))
        switch response.status {
        case 200..<300:
            struct Body: Decodable {
                var test_id: Int?
                var test: Int?
                var engagement_id: Int?
                var product_id: Int?
            }
            // The import succeeded; the ids are only shown, so a body without them is no failure.
            let body = try? JSONDecoder().decode(Body.self, from: response.body)
            return DefectDojoImportResult(test: body?.test_id ?? body?.test, engagement: body?.engagement_id, product: body?.product_id)
        case 401, 403:
            throw StageFailure.infrastructure("DefectDojo refused the API key (\(response.status)): check the key in Vault and the user's import permission")
        case 429, 500...599:
            throw StageFailure.transient("DefectDojo answered \(response.status) to the import of \((item.file as NSString).lastPathComponent): \(detail)")
        default:
            throw StageFailure.failed("DefectDojo rejected \((item.file as NSString).lastPathComponent) as \(item.scanType) (\(response.status)): \(detail)")
        }
    }

    /// A `multipart/form-data` body (RFC 7578): text fields, then one file part.
    public static func multipart(fields: [(String, String)], fileField: String, fileName: String, fileContent: Data, boundary: String) -> Data {
        var body = Data()
        func append(_ text: String) { body.append(Data(text.utf8)) }
        for (name, value) in fields {
            append("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
        }
        let safeName = fileName.replacingOccurrences(of: "\"", with: "_").replacingOccurrences(of: "\r", with: "_").replacingOccurrences(of: "\n", with: "_")
        append(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(fileField)\"; filename=\"\(safeName)\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        body.append(fileContent)
        append("\r\n--\(boundary)--\r\n")
        return body
    }
}
