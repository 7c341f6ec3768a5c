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
        /// Sections and figures are made in one stage (`ReportPipeline`): its wall time and the
        /// process CPU time spent in it (both cores busy: ≈ 2 × stage).
        public var stage = 0.0, stageCPU = 0.0
        /// Seconds summed over the sections (their experiments included when made on demand) and
        /// over the figures (drawing and writing); with two cores busy each is about twice its wall share.
        public var analyses = 0.0, figures = 0.0
        public var html = 0.0
        /// Each section's own analysis time (seconds), in catalogue order.
        public var sections: [(id: String, seconds: Double)] = []
        public var figureCount = 0
    }

    /// `experiments`: the model layer's runner. Given, the sections' experiments are made while the
    /// sections are built (the timed ones first, one at a time, with nothing else running; each
    /// traced one when a section first needs it, dropped after its last reader — `ExperimentSupply`),
    /// and `study.runs` may be empty. Without it, `study.runs` must hold every outcome already.
    @discardableResult
    public func write(_ study: Study, to output: String,
                      experiments make: (@Sendable (Experiment) -> ExperimentOutcome)? = nil) throws -> Timing {
        var timing = Timing()
        let catalogPath = (templates as NSString).appendingPathComponent("questions.md")
        let catalog = try Catalog.parse(try read(catalogPath), source: catalogPath)
        let library = try loadLibrary()
        let style = try read((templates as NSString).appendingPathComponent("style.css"))

        // Sections are independent: their analyses run in parallel, one slot each.
        let implemented = Dictionary(uniqueKeysWithValues: Sections.all.map { ($0.id, $0) })
        let entries = catalog.entries
        var study = study
        // Each section is asked once; the timed runs are made first (alone), in section order.
        let wanted = entries.map { implemented[$0.id]?.experiments(study) ?? [] }
        let asked = wanted.map { $0.filter { !$0.isTiming && study.runs[$0] == nil } }
        if let make {
            progress?("running \(Set(asked.joined()).count) experiments as the sections ask for them")
            for e in wanted.joined() where e.isTiming && study.runs[e] == nil { study.runs[e] = make(e) }
        }
        let supply = make.map { ExperimentSupply(asked: asked, make: $0) }

        let folder = try OutputFolder(output)
        try folder.checkReplaceable()
        let staging = try folder.makeStaging()
        do {
            var t0 = Self.now()
            let cpu0 = Self.cpuTime()
            let base = study, format = study.format, dir = staging + "/figures"
            let pipeline = ReportPipeline(sections: entries.count, progress: progress, build: { i in
                guard let section = implemented[entries[i].id] else { return nil }
                var local = base
                if let supply { local.runs.merge(supply.outcomes(asked[i])) { made, _ in made } }
                let r = Result { try section.build(local) }
                supply?.done(with: asked[i])
                return r
            }, draw: { job in try Self.draw(job, format: format, into: dir) })
            pipeline.run()
            timing.stage = Self.now() - t0
            timing.stageCPU = Self.cpuTime() - cpu0
            timing.figures = pipeline.figureSeconds
            timing.figureCount = pipeline.figureCount
            timing.sections = entries.indices.filter { implemented[entries[$0].id] != nil }.map { (entries[$0].id, pipeline.seconds[$0]) }
            timing.analyses = timing.sections.reduce(0) { $0 + $1.seconds }
            var built: [(Catalog.Entry, SectionContent?)] = []
            for (i, entry) in entries.enumerated() { built.append((entry, try pipeline.results[i]?.get())) }
            if let error = pipeline.figureError { throw error }
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

    /// Draws one figure and writes it into `dir`; errors name the figure.
    static func draw(_ job: FigureSpec, format: FigureFormat, into dir: String) throws {
        do {
            // PDF cannot be shown by <img>: a PNG preview goes beside it.
            let shown: FigureFormat = format == .pdf ? .png : format
            try OutputFolder.write(try FigureRenderer.render(job.figure, format: shown), to: "\(dir)/\(job.file).\(shown.rawValue)")
            if format == .pdf {
                try OutputFolder.write(try FigureRenderer.render(job.figure, format: .pdf), to: "\(dir)/\(job.file).pdf")
            }
        } catch let e as ReportError {
            throw e
        } catch {
            throw ReportError.figure(id: job.file, RenderErrorDescription(text: "\(error)"))
        }
    }

    static let marker = "<meta name=\"generator\" content=\"attnviz\">"
}
