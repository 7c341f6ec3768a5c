import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// train-lr: the warmup schedule of Vaswani et al. for the companion's d_model and several
/// warmups, and the shipped companion's real learning-rate and loss curves from its training log.
struct TrainLrSection: Section {
    let id = "train-lr"

    func experiments(_ s: Study) -> [Experiment] { [CompanionAnalysis.run(s), .companionTrainingLog] }

    /// The schedule sampled at `steps` for one warmup.
    static func curve(_ c: CompanionAnalysis.Config, warmup: Double, steps: [Double]) -> [Double] {
        steps.map { CompanionAnalysis.learningRate(step: $0, dModel: c.dModel, warmup: warmup, factor: c.factor) }
    }

    func build(_ s: Study) throws -> SectionContent {
        var answer = [
            "The original Transformer is trained with Adam (β₁ 0.9, β₂ 0.98, ε 10⁻⁹) and a learning rate that is not constant: lr = factor · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5). For the first `warmup` steps it rises linearly; after that it decays like 1/√step. The peak, reached at step = warmup, is factor · (d_model · warmup)^-0.5.",
            "The warm-up protects the start of training: Adam's second-moment estimates are still poor, the weights are random, and a large step would move a post-LN network far from a region it can train in. The d_model^-0.5 factor gives wider models smaller steps.",
        ]
        let outcome = s.run(CompanionAnalysis.run(s))
        answer[1] += " " + CompanionAnalysis.whyCompanion(s, outcome.trace, lacks: "ships without its training log")
        guard let t = outcome.trace else {
            return SectionContent(answer: answer, unavailable: outcome.reason ?? "the companion run is missing")
        }
        answer.append(CompanionAnalysis.describe(t, s))
        let c = CompanionAnalysis.config(t.model)
        let total = Double(max(c.steps, Int(c.warmup) * 4, 100))
        let grid = (0...200).map { 1 + (total - 1) * Double($0) / 200 }
        let warmups = [c.warmup / 4, c.warmup, c.warmup * 4].map { max(1, $0.rounded()) }
        let schedule = LinePlot(title: "Warmup schedule for d_model = \(c.dModel), factor \(Chrome.format(c.factor))\(c.recorded ? "" : " (formula only, not this model's training)")", series: warmups.map { w in
            .init(name: "warmup \(Int(w))\(w == c.warmup ? (c.recorded ? " (used)" : " (paper)") : "")", x: grid, y: Self.curve(c, warmup: w, steps: grid), dashed: w != c.warmup)
        }, xLabel: "training step", yLabel: "learning rate")
        let peak = CompanionAnalysis.learningRate(step: c.warmup, dModel: c.dModel, warmup: c.warmup, factor: c.factor)
        let used = c.recorded
            ? "The solid curve (warmup \(Int(c.warmup))) is the one the companion was trained with"
            : "\(t.model.name)'s config.json records no schedule (GPT-2 was not trained with this one), so the solid curve uses the paper's warmup \(Int(c.warmup)) with its d_model — an illustration of the formula, not its training"
        var figures = [FigureSpec(file: Figures.file(id, "schedule"), figure: schedule,
                                  caption: "The formula for the companion's d_model \(c.dModel) and three warmups. \(used): it peaks at step \(Int(c.warmup)) with lr = \(String(format: "%.2e", peak)). A longer warmup gives a lower, later peak.")]
        var findings: [Finding] = [
            "With d_model = \("d_model", c.dModel) and warmup = \("warmup", Int(c.warmup))\(c.recorded ? "" : " (the paper's value; the companion records none)") the learning rate peaks at step \(Int(c.warmup)) at \("peak_lr", peak, "%.3e").",
        ]
        var unavailable: String?
        if case let .measured(_, tensors) = s.run(.companionTrainingLog), let step = tensors["step"], let lr = tensors["lr"], let loss = tensors["loss"],
           step.count == lr.count, step.count == loss.count, step.count > 0 {
            let x = step.data.map(Double.init)
            let formula = x.map { CompanionAnalysis.learningRate(step: $0, dModel: c.dModel, warmup: c.warmup, factor: c.factor) }
            var worst = 0.0
            for (l, f) in zip(lr.data, formula) where f > 0 { worst = max(worst, abs(Double(l) - f) / f) }
            figures.append(FigureSpec(file: Figures.file(id, "logged"), figure: LinePlot(title: "\(t.model.name): logged learning rate vs the formula", series: [
                .init(name: "training_log.jsonl", x: x, y: lr.data.map(Double.init), markers: true),
                .init(name: "formula", x: x, y: formula, dashed: true),
            ], xLabel: "training step", yLabel: "learning rate"),
                caption: "The learning rate the trainer logged every \(x.count > 1 ? Int(x[1] - x[0]) : 0) steps (markers) lies on the formula (dashed): largest relative difference \(String(format: "%.1e", worst)) over \(x.count) records."))
            // Where the loss fell fastest (largest drop between consecutive records, per step), and the
            // floor label smoothing puts under it: the entropy of the smoothed target.
            var fastest = 0, fastestRate = -Double.infinity
            for k in 1..<max(x.count, 1) where x[k] > x[k - 1] {
                let rate = (Double(loss.data[k - 1]) - Double(loss.data[k])) / (x[k] - x[k - 1])
                if rate > fastestRate { fastestRate = rate; fastest = k }
            }
            let floor = CompanionAnalysis.smoothedEntropy(vocab: c.vocab, epsilon: c.labelSmoothing)
            let fastestSentence = fastest > 0
                ? String(format: " It falls fastest between steps %d and %d (by %.2f), where the learning rate is %.0f%% of its peak.", Int(x[fastest - 1]), Int(x[fastest]),
                         Double(loss.data[fastest - 1]) - Double(loss.data[fastest]), 100 * CompanionAnalysis.learningRate(step: x[fastest], dModel: c.dModel, warmup: c.warmup, factor: c.factor) / max(peak, .leastNormalMagnitude))
                : ""
            let floorSentence = c.labelSmoothing > 0 && c.vocab > 1
                ? String(format: " With label smoothing ε = %g over %d ids the loss cannot go below the smoothed target's entropy, %.3f nats (dashed), even for a perfect model.", c.labelSmoothing, c.vocab, floor)
                : ""
            figures.append(FigureSpec(file: Figures.file(id, "loss"), figure: LinePlot(title: "\(t.model.name): training loss (label-smoothed cross-entropy)", series: [
                .init(name: "loss", x: x, y: loss.data.map(Double.init)),
            ] + (floorSentence.isEmpty ? [] : [.init(name: "floor: entropy of the smoothed target", x: [x.first ?? 0, x.last ?? 0], y: [floor, floor], dashed: true)]), xLabel: "training step", yLabel: "loss (nats per target token)"),
                caption: "The real loss curve of the shipped model: \(String(format: "%.2f", loss.data.first ?? 0)) at step \(Int(x.first ?? 0)), \(String(format: "%.2f", loss.data.last ?? 0)) at step \(Int(x.last ?? 0)).\(fastestSentence)\(floorSentence)"))
            findings.append("The companion's training log has \("log_records", x.count) records; the logged learning rate equals the formula to a relative difference of at most \("log_lr_max_rel_diff", worst, "%.1e") (attnviz reads the log into 32-bit floats, whose rounding alone is up to 6e-8), and the loss fell from \("loss_first", Double(loss.data.first ?? 0), "%.3f") to \("loss_last", Double(loss.data.last ?? 0), "%.3f").")
        } else {
            unavailable = s.run(.companionTrainingLog).reason ?? "the companion's training log could not be read"
        }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings, unavailable: unavailable)
    }
}
