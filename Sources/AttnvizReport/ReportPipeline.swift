import AttnvizRender
import AttnvizTensor
import Foundation

/// Sections and their figures from one shared queue on every core: a worker draws a waiting
/// figure if there is one (largest first), else builds the next section, whose figures then join
/// the queue. A figure's values are dropped once it is drawn, and a section's experiments once its
/// last reader is built (`ExperimentSupply`), so a long report never holds every section's
/// figures (≈ 175 MB of heatmap values at 512 tokens) and every experiment at once.
final class ReportPipeline: @unchecked Sendable {
    typealias Build = @Sendable (Int) -> Result<SectionContent, Error>?
    typealias Draw = @Sendable (FigureSpec) throws -> Void

    private struct Job {
        let spec: FigureSpec
        let cost: Int
        let order: Int
    }

    private let count: Int
    private let build: Build
    private let draw: Draw
    private let progress: (@Sendable (String) -> Void)?
    private let condition = NSCondition()
    private var nextSection = 0
    private var building = 0
    private var jobs: [Job] = []
    private var queued = 0
    private var drawn = 0
    private var sectionsDone = 0
    private(set) var results: [Result<SectionContent, Error>?]
    private(set) var seconds: [Double]
    /// Seconds spent drawing and writing figures, summed over workers.
    private(set) var figureSeconds = 0.0
    private(set) var figureError: Error?

    init(sections count: Int, progress: (@Sendable (String) -> Void)?, build: @escaping Build, draw: @escaping Draw) {
        self.count = count
        self.build = build
        self.draw = draw
        self.progress = progress
        results = Array(repeating: nil, count: count)
        seconds = Array(repeating: 0, count: count)
    }

    var figureCount: Int { queued }

    /// Runs until every section is built and every figure drawn (or a figure failed).
    func run() {
        Parallel.each(max(1, Parallel.workers)) { _ in self.work() }
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty && nextSection >= count && building > 0 && figureError == nil { condition.wait() }
            if figureError == nil, let k = jobs.indices.max(by: { (jobs[$0].cost, jobs[$1].order) < (jobs[$1].cost, jobs[$0].order) }) {
                let job = jobs.remove(at: k)
                condition.unlock()
                figure(job)
                continue
            }
            guard figureError == nil, nextSection < count else {
                condition.unlock()
                return
            }
            let i = nextSection
            nextSection += 1
            building += 1
            condition.unlock()
            section(i)
        }
    }

    private func section(_ i: Int) {
        let start = ReportBuilder.now()
        var result = build(i)
        let took = ReportBuilder.now() - start
        var made: [FigureSpec] = []
        if case var .success(content)? = result {
            // The content keeps each figure's file, caption and title; the values travel in the job.
            for g in content.groups.indices {
                for f in content.groups[g].figures.indices {
                    let spec = content.groups[g].figures[f]
                    made.append(spec)
                    content.groups[g].figures[f].figure = TitleOnly(title: spec.figure.title)
                }
            }
            result = .success(content)
        }
        condition.lock()
        for spec in made {
            jobs.append(Job(spec: spec, cost: ReportBuilder.cost(spec.figure), order: queued))
            queued += 1
        }
        results[i] = result
        seconds[i] = took
        building -= 1
        sectionsDone += 1
        let done = sectionsDone
        condition.broadcast()
        condition.unlock()
        progress?("built \(done) of \(count) sections")
    }

    private func figure(_ job: Job) {
        let start = ReportBuilder.now()
        var failure: Error?
        do { try draw(job.spec) } catch { failure = error }
        let took = ReportBuilder.now() - start
        condition.lock()
        figureSeconds += took
        drawn += 1
        if let failure, figureError == nil { figureError = failure }
        let n = drawn
        condition.broadcast()
        condition.unlock()
        if n % 10 == 0 { progress?("drew \(n) figures") }
    }
}

/// What a section's content keeps of a figure once the figure is queued for drawing: its title
/// (the page's alt text). Never drawn.
struct TitleOnly: Figure {
    let title: String
    func size(measuring canvas: Canvas) throws(RenderError) -> Size {
        throw .invalidFigure(figure: title, problem: "already drawn")
    }
    func draw(on canvas: Canvas) throws(RenderError) {
        throw .invalidFigure(figure: title, problem: "already drawn")
    }
}
