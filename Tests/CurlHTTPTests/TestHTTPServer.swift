import Foundation
import Testing

/// The fixture server `Fixtures/test_server.py`, run by `python3` on a free port of 127.0.0.1.
final class TestHTTPServer: @unchecked Sendable {
    let process: Process
    let port: Int
    let scheme: String

    var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Starts the server; waits for its port on a separate thread, not on the cooperative pool.
    static func start(certificate: TestCertificate? = nil, clientCA: TestCertificate? = nil) async throws -> TestHTTPServer {
        let process = Process()
        let output = Pipe()
        let scheme = try launch(process, output: output, certificate: certificate, clientCA: clientCA)
        let line = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var line = Data()
                while !line.contains(UInt8(ascii: "\n")) {
                    let chunk = output.fileHandleForReading.availableData
                    guard !chunk.isEmpty else { break }
                    line.append(chunk)
                }
                continuation.resume(returning: line)
            }
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw FixtureError(message: "the test server did not print its port (is python3 installed?)")
        }
        return TestHTTPServer(process: process, port: port, scheme: scheme)
    }

    private init(process: Process, port: Int, scheme: String) {
        self.process = process
        self.port = port
        self.scheme = scheme
    }

    private static func launch(
        _ process: Process, output: Pipe, certificate: TestCertificate?, clientCA: TestCertificate?
    ) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/test_server.py").path
        var arguments = ["python3", script]
        if let certificate { arguments += ["--cert", certificate.certificatePath, "--key", certificate.keyPath] }
        if let clientCA { arguments += ["--client-ca", clientCA.certificatePath] }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        return certificate == nil ? "http" : "https"
    }

    func url(_ path: String) -> String { baseURL + path }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// A self-signed certificate for 127.0.0.1 and localhost, made with `openssl req`.
struct TestCertificate: Sendable {
    let directory: String
    var certificatePath: String { directory + "/cert.pem" }
    var keyPath: String { directory + "/key.pem" }

    init() throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("curlhttp-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(message: "openssl req failed with status \(process.terminationStatus)")
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

struct FixtureError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
