import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation
import Mustache

/// Builds the study report: sections computed from the Study, figures rendered on both cores,
/// HTML through the templates. Everything is written into a temporary folder beside the target
/// and moved into place at the end, so a failure never leaves half a report.
public struct ReportBuilder {
    public let templates: String
    public var progress: (@Sendable (String) -> Void)?
    public static let version = "0.1.0"

    public init(templates: String, progress: (@Sendable (String) -> Void)? = nil) {
        self.templates = templates
        self.progress = progress
    }

    /// Time spent per stage, for benchmarks.
    public struct Timing: Sendable {
        public var analyses = 0.0, figures = 0.0, html = 0.0
        /// Process CPU time spent in the figure stage (both cores busy: ≈ 2 × figures).
        public var figuresCPU = 0.0
        /// Each section's own analysis time (seconds), in catalogue order.
        public var sections: [(id: String, seconds: Double)] = []
        public var figureCount = 0
    }

    @discardableResult
    public func write(_ study: Study, to output: String) throws -> Timing {
        var timing = Timing()
        let catalogPath = (templates as NSString).appendingPathComponent("questions.md")
        let catalog = try Catalog.parse(try read(catalogPath), source: catalogPath)
        let library = try loadLibrary()
        let style = try read((templates as NSString).appendingPathComponent("style.css"))

        var t0 = Self.now()
        // Sections are independent: their analyses run in parallel, one slot each.
        let implemented = Dictionary(uniqueKeysWithValues: Sections.all.map { ($0.id, $0) })
        let entries = catalog.entries
        var results = [Result<SectionContent, Error>?](repeating: nil, count: entries.count)
        var seconds = [Double](repeating: 0, count: entries.count)
        let lock = NSLock()
        // One shared queue: whichever core is free takes the next section.
        Parallel.each(entries.count) { i in
            guard let section = implemented[entries[i].id] else { return }
            let start = Self.now()
            let r = Result { try section.build(study) }
            let took = Self.now() - start
            lock.lock(); results[i] = r; seconds[i] = took; lock.unlock()
        }
        timing.sections = zip(entries, seconds).filter { implemented[$0.0.id] != nil }.map { ($0.0.id, $0.1) }
        var built: [(Catalog.Entry, SectionContent?)] = []
        for (entry, result) in zip(entries, results) { built.append((entry, try result?.get())) }
        timing.analyses = Self.now() - t0

        let folder = try OutputFolder(output)
        try folder.checkReplaceable()
        let staging = try folder.makeStaging()
        do {
            t0 = Self.now()
            let jobs = built.flatMap { $0.1?.groups.flatMap(\.figures) ?? [] }
            timing.figureCount = jobs.count
            let cpu0 = Self.cpuTime()
            try renderFigures(jobs, format: study.format, into: staging + "/figures")
            timing.figuresCPU = Self.cpuTime() - cpu0
            timing.figures = Self.now() - t0
            t0 = Self.now()
            let context = Self.context(study: study, sections: built)
            guard let html = library.render(context, withTemplate: "report") else {
                throw ReportError.templates(path: templates, problem: "no template named report.mustache")
            }
            try write(html, to: staging + "/index.html")
            try write(style, to: staging + "/style.css")
            do { try Self.json(study: study, sections: built).write(to: URL(fileURLWithPath: staging + "/report.json")) } catch let e as ReportError {
                throw e
            } catch {
                throw ReportError.output(path: output + "/report.json", problem: error.localizedDescription)
            }
            timing.html = Self.now() - t0
            try folder.replace(with: staging)
        } catch {
            folder.discard(staging: staging)
            throw error
        }
        return timing
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// CPU time of the whole process (all threads), seconds.
    static func cpuTime() -> Double {
        var t = timespec()
        guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) == 0 else { return 0 }
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(validating: data, as: UTF8.self) else {
            throw ReportError.templates(path: path, problem: "missing or not UTF-8")
        }
        return text
    }

    func write(_ text: String, to path: String) throws {
        try OutputFolder.write(Data(text.utf8), to: path)
    }

    func loadLibrary() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: templates)) ?? []
        for file in files.sorted() where file.hasSuffix(".mustache") {
            let path = (templates as NSString).appendingPathComponent(file)
            do { try library.register(try read(path), named: String(file.dropLast(".mustache".count))) } catch let e as ReportError {
                throw e
            } catch {
                throw ReportError.templates(path: path, problem: "template does not parse: \(error)")
            }
        }
        guard library.getTemplate(named: "report") != nil else {
            throw ReportError.templates(path: templates, problem: "no report.mustache in the templates folder")
        }
        return library
    }

    /// Rough drawing cost of a figure (cells it paints), to start the largest first.
    static func cost(_ f: any Figure) -> Int {
        if let h = f as? Heatmap { return h.rows * h.cols }
        if let g = f as? ThumbnailGrid { return g.tiles.count * g.tileSize * g.tileSize }
        return 1
    }

    /// Renders every figure from one shared queue, largest first, so both cores stay busy to the
    /// end (two fixed halves left one core idle while the other finished the big heatmaps); the
    /// first error wins.
    func renderFigures(_ unordered: [FigureSpec], format: FigureFormat, into dir: String) throws {
        let lock = NSLock()
        var firstError: Error?
        var done = 0
        let progress = self.progress
        let jobs = unordered.enumerated().sorted { (Self.cost($0.element.figure), $1.offset) > (Self.cost($1.element.figure), $0.offset) }.map(\.element)
        Parallel.each(jobs.count) { i in
            let job = jobs[i]
            do {
                // PDF cannot be shown by <img>: a PNG preview goes beside it.
                let shown: FigureFormat = format == .pdf ? .png : format
                try OutputFolder.write(try FigureRenderer.render(job.figure, format: shown), to: "\(dir)/\(job.file).\(shown.rawValue)")
                if format == .pdf {
                    try OutputFolder.write(try FigureRenderer.render(job.figure, format: .pdf), to: "\(dir)/\(job.file).pdf")
                }
            } catch {
                lock.lock()
                if firstError == nil { firstError = error as? ReportError ?? ReportError.figure(id: job.file, RenderErrorDescription(text: "\(error)")) }
                lock.unlock()
                return
            }
            lock.lock()
            done += 1
            let n = done
            lock.unlock()
            if n % 10 == 0 || n == jobs.count { progress?("drawing figures \(n)/\(jobs.count)") }
        }
        if let firstError { throw firstError }
    }

    static let marker = "<meta name=\"generator\" content=\"attnviz\">"
}
