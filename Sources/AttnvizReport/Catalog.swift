import Foundation

/// The question catalogue (templates/questions.md, a copy of the project's QUESTIONS.md): ids with
/// English and Chinese titles, in report order.
public struct Catalog: Sendable {
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var part: String
        public var titleEn: String
        public var titleZh: String
        public var mustShow: String
        public var model: String
    }

    public var entries: [Entry]

    /// Parses the markdown tables: `| id | en / zh | what the run must show |` under `## X. Part` headings.
    public static func parse(_ markdown: String, source: String) throws(ReportError) -> Catalog {
        var entries: [Entry] = []
        var part = ""
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { part = String(line.dropFirst(3)); continue }
            guard line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, let id = cells.first, !id.isEmpty, id != "id", !id.hasPrefix("-"),
                  id.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }) else { continue }
            let titles = cells[1].components(separatedBy: " / ")
            entries.append(Entry(id: id, part: part, titleEn: titles.first ?? cells[1],
                                 titleZh: titles.dropFirst().joined(separator: " / "), mustShow: cells[2], model: ""))
        }
        guard !entries.isEmpty else { throw .templates(path: source, problem: "no question entries found") }
        return Catalog(entries: entries)
    }

    public func entry(_ id: String) -> Entry? { entries.first { $0.id == id } }
}

public enum ReportError: Error, CustomStringConvertible {
    case templates(path: String, problem: String)
    case output(path: String, problem: String)
    case figure(id: String, RenderErrorDescription)
    case option(name: String, problem: String)

    public var description: String {
        switch self {
        case let .templates(path, problem): return "\(path): \(problem)"
        case let .output(path, problem): return "\(path): \(problem)"
        case let .figure(id, error): return "figure \(id): \(error.text)"
        case let .option(name, problem): return "\(name): \(problem)"
        }
    }
}

/// A render error's text (keeps ReportError independent of the renderer's enum).
public struct RenderErrorDescription: Sendable { public let text: String }
