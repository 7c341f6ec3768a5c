import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// block-activations: ReLU, GELU (erf and tanh forms) and Swish/SiLU with their derivatives, the
/// loaded model's choice, and where this run's FFN pre-activations fall on its curve.
struct BlockActivationsSection: Section {
    let id = "block-activations"

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let curve = ActivationCurve(config: m.activation)
        let answer = [
            "ReLU(x) = max(0, x) is cheap and passes gradients unchanged for x > 0, but its output and gradient are exactly 0 for every negative input, so a unit that only sees negative inputs stops learning. GELU(x) = x·Φ(x) weighs the input by the probability that a standard normal variable is below it: almost the identity for large x, almost 0 for very negative x, and smooth in between, with a small negative dip (minimum ≈ −0.17 at x ≈ −0.75). BERT and GPT-2 use it; GPT-2 and the original BERT code use the tanh approximation 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), which differs from the erf form by less than 5·10⁻⁴ anywhere.",
            "Swish/SiLU(x) = x·σ(x) has the same shape with a logistic gate instead of the normal CDF (it dips to ≈ −0.28). Because GELU and Swish have non-zero slope for moderately negative inputs, units are not cut off abruptly; the derivative plot shows the difference: ReLU's slope jumps from 0 to 1, the smooth ones rise gradually and overshoot 1 slightly.",
        ]
        let grid = stride(from: -4.0, through: 4.0, by: 0.05).map { $0 }
        let curves = LinePlot(title: "Activation functions (illustration: computed curves, not from the run)",
                              series: ActivationCurve.allCases.map { c in .init(name: c.label, x: grid, y: grid.map(c.value), dashed: c == .geluTanh) },
                              xLabel: "input x", yLabel: "f(x)")
        let slopes = LinePlot(title: "Their derivatives f′(x) (illustration: computed, not from the run)",
                              series: ActivationCurve.allCases.map { c in .init(name: c.label, x: grid, y: grid.map(c.derivative), dashed: c == .geluTanh) },
                              xLabel: "input x", yLabel: "f′(x)")
        var figures = [
            FigureSpec(file: Figures.file(id, "curves"), figure: curves,
                       caption: "Illustration (functions computed on a grid). The GELU forms lie on top of each other; Swish dips lower; ReLU is exactly 0 left of 0."),
            FigureSpec(file: Figures.file(id, "derivatives"), figure: slopes,
                       caption: "Illustration. ReLU's slope is a step; GELU's and Swish's rise smoothly, are slightly negative below x ≈ −0.75 (GELU) and −1.28 (Swish), and exceed 1 above x ≈ 0.75 (GELU, peak ≈ 1.13 at x ≈ 1.41) and 1.28 (Swish, peak ≈ 1.10 at x ≈ 2.40)."),
        ]
        guard let curve else {
            return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)],
                                  unavailable: "this model's activation '\(m.activation)' is not one attnviz draws")
        }
        // This run's pre-activations: a strided sample of every layer (fast at 512 tokens).
        var sample: [Float] = []
        var total = 0
        for l in s.trace.layers {
            let t = l.ffnPre.data
            total += t.count
            let step = max(1, t.count / 5_000)
            sample += stride(from: 0, to: t.count, by: step).map { t[$0] }
        }
        sample = sample.filter(\.isFinite).sorted()
        guard !sample.isEmpty else {
            return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], unavailable: "the run recorded no feed-forward pre-activations")
        }
        let q01 = BlockAnalysis.quantile(sample, 0.01), q50 = BlockAnalysis.quantile(sample, 0.5), q99 = BlockAnalysis.quantile(sample, 0.99)
        let lo = min(BlockAnalysis.quantile(sample, 0.001), -1), hi = max(BlockAnalysis.quantile(sample, 0.999), 1)
        let xs = (0...200).map { lo + (hi - lo) * Double($0) / 200 }
        let y = xs.map(curve.value)
        let yLo = y.min() ?? 0, yHi = y.max() ?? 1
        func vertical(_ name: String, _ x: Double) -> LinePlot.Series { .init(name: name, x: [x, x], y: [yLo, yHi], dashed: true) }
        let onCurve = LinePlot(title: "This run's FFN pre-activations on \(m.name)'s \(curve.label)", series: [
            .init(name: "\(curve.label) (the model's activation)", x: xs, y: y),
            vertical("1% quantile (\(Chrome.format(q01)))", q01), vertical("median (\(Chrome.format(q50)))", q50), vertical("99% quantile (\(Chrome.format(q99)))", q99),
        ], xLabel: "pre-activation x (range: 0.1% to 99.9% quantile of this run)", yLabel: "f(x)")
        let bins = 60
        let hist = BlockAnalysis.histogram(sample, lo: lo, hi: hi, bins: bins)
        let centers = (0..<bins).map { lo + (Double($0) + 0.5) * (hi - lo) / Double(bins) }
        var histPlot = LinePlot(title: "Distribution of this run's FFN pre-activations (all layers)", series: [
            .init(name: "% of values per bin", x: centers, y: hist.map { $0 * 100 }),
        ], xLabel: "pre-activation x (\(bins) bins, ends include the outer 0.1%)", yLabel: "% of values per bin")
        histPlot.includeZero = true
        figures.append(FigureSpec(file: Figures.file(id, "run-on-curve"), figure: onCurve,
                                  caption: "Computed from the run: 98% of the \(sample.count) sampled inputs lie between the outer dashed lines (\(Chrome.format(q01)) to \(Chrome.format(q99))); the median \(Chrome.format(q50)) is on the curve's \(q50 < 0 ? "negative side, where GELU-like functions differ most from ReLU" : "positive side")."))
        figures.append(FigureSpec(file: Figures.file(id, "run-histogram"), figure: histPlot,
                                  caption: "The same sample as a histogram: read it against the curve above — mass left of 0 is \(curve == .relu ? "where ReLU outputs exactly 0 (GELU would output small negative values there)" : "where \(curve.label) outputs small negative values instead of ReLU's exact 0")."))

        let negative = Double(sample.filter { $0 < 0 }.count) / Double(sample.count)
        let bump = Double(sample.filter { $0 < 0 && $0 > -3 }.count) / Double(sample.count)
        var gapRelu = 0.0, slope = 0.0, tanhGap = 0.0
        for v in sample {
            let x = Double(v)
            gapRelu += abs(curve.value(x) - ActivationCurve.relu.value(x))
            slope += curve.derivative(x)
            tanhGap = max(tanhGap, abs(ActivationCurve.gelu.value(x) - ActivationCurve.geluTanh.value(x)))
        }
        gapRelu /= Double(sample.count); slope /= Double(sample.count)
        let step = max(1, (s.trace.layers.first?.ffnPre.count ?? 0) / 5_000)
        let sampleText = step == 1 ? "all \(total) FFN pre-activations of the run" : "a strided sample of \(sample.count) of the run's \(total) FFN pre-activations (every \(Self.ordinal(step)) of each layer)"
        var findings: [Finding] = [
            "The loaded model uses \("activation", text: m.activation) (\(curve.label)). Of \(sampleText), \(percent: "negative_share", negative) are negative and \(percent: "between_minus3_and_0_share", bump) lie in (−3, 0), where \(curve == .relu ? "GELU and ReLU differ most (ReLU outputs 0 for every negative input, GELU a small negative value)" : "\(curve.label) outputs a small negative value and ReLU would output 0"); the 1%, 50% and 99% quantiles are \("quantile_01", q01, "%.2f"), \("median", q50, "%.2f") and \("quantile_99", q99, "%.2f").",
            "On these inputs the mean slope f′(x) is \("mean_derivative", slope, "%.3f"), and \(curve.label) differs from ReLU by \("mean_abs_diff_from_relu", gapRelu, "%.3f") on average; the erf and tanh forms of GELU differ by at most \("gelu_erf_tanh_max_abs_diff", tanhGap, "%.1e") here.",
        ]
        if curve == .relu { findings.removeLast(); findings.append("On these inputs the mean slope is \("mean_derivative", slope, "%.3f"): the share of inputs above 0.") }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings, values: [("sampled_values", .number(Double(sample.count)))])
    }

    /// 1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, 21st.
    static func ordinal(_ k: Int) -> String {
        let tens = k % 100
        if (11...13).contains(tens) { return "\(k)th" }
        switch k % 10 {
        case 1: return "\(k)st"
        case 2: return "\(k)nd"
        case 3: return "\(k)rd"
        default: return "\(k)th"
        }
    }
}
