import ArgumentParser
import StockOpsKit

/// Where a command renders what an operation returned: the report on standard output, warnings and errors on
/// standard error (both masked), and the exit code from the error's classification.
struct Terminal {
    let output = Console(fd: 1)
    let errors = Console(fd: 2)

    /// `body` as the command's `--json` document.
    func json(_ body: some Encodable) {
        output.write(JSONOutput.document(body))
    }

    /// A run or plan record as `--json` prints it (the record carries its own `schemaVersion`).
    func record(_ record: RunRecord) {
        // Only a non-finite number fails to encode, and a record holds none; {} keeps the output JSON.
        output.write(((try? record.encoded()).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n")
    }

    func warn(_ text: String) {
        errors.write("warning: \(text)\n")
    }

    /// Runs `operation`; its error is written as `error: …` and ends the command with the documented exit code
    /// (usage and configuration 2, infrastructure 3, locked 4).
    func report<Value>(_ operation: () async throws(StockOpsError) -> Value) async throws -> Value {
        do {
            return try await operation()
        } catch {
            errors.write("error: \(error.message)\n")
            throw ExitCode(error.exitStatus.rawValue)
        }
    }
}
