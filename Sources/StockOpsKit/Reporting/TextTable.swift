import Foundation

/// Plain-text tables and times of the commands' text output.
public enum TextTable {
    /// Left-aligned columns separated by two spaces; the first row is the header.
    public static func render(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// `date` in ISO 8601, UTC.
    public static func time(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
