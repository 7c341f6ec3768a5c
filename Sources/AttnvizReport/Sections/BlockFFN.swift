import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// block-ffn: the feed-forward block's real shape and parameter share; how its units fire on
/// this sentence, layer by layer.
struct BlockFFNSection: Section {
    let id = "block-ffn"

    /// Pre-activations below this count as inactive for the smooth activations (GELU, SiLU):
    /// there |GELU(x)| < 0.046 and |GELU′(x)| < 0.09, the flat negative tail.
    static let threshold: Float = -2

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model, d = m.dModel, ff = m.dFF
        let relu = m.activation == "relu"
        let curve = ActivationCurve(config: m.activation)
        let actName = curve?.label ?? m.activation
        // An encoder–decoder's components are named per stack ("encoder feed-forward"): its encoder stack is the one shown.
        let encoderDecoder = m.architecture == .encoderDecoder
        let counts = m.parameterCounts.map { (component: encoderDecoder ? ($0.component.hasPrefix("encoder ") ? String($0.component.dropFirst(8)) : "other: " + $0.component) : $0.component, count: $0.count) }
        let ffnTotal = counts.filter { $0.component.hasPrefix("feed-forward") && !$0.component.contains("LayerNorm") }.reduce(0) { $0 + $1.count }
        let total = max(m.totalParameters, 1)
        let inLayers = counts.filter { c in
            ["self-attention", "feed-forward", "attention LayerNorms", "pre-attention LayerNorms", "pre-FFN LayerNorms", "LayerNorms"].contains { c.component.hasPrefix($0) }
        }.reduce(0) { $0 + $1.count }
        let perLayer = 2 * d * ff + ff + d
        let answer = [
            "Every block ends with a feed-forward network applied to each token on its own: a linear map up from d_model to a wider d_ff, an element-wise nonlinearity, and a linear map back down to d_model. Attention only mixes tokens with weights that sum to 1, so apart from the softmax it is a weighted average of linear maps of the inputs; the FFN is where each token's vector goes through a nonlinearity, and it is position-wise, so the same weights serve every position.",
            "It also holds \(ff >= 2 * d ? "most" : "a large share") of a layer's parameters: 2·d_model·d_ff weights against 4·d_model² for attention (here \(2 * d * ff) vs \(4 * d * d)). And it can be read as a key–value memory (Geva et al., 2021): each row of the first matrix is a key matched against the token's vector, the activation says how strongly it matches, and the matching column of the second matrix is the value added to the residual stream. Units that are inactive for a token contribute nothing to its output.",
            relu ? "This model uses ReLU, so an inactive unit outputs exactly 0."
                : "This model uses \(actName), which has no exact zeros; below, a unit counts as inactive for a token when its pre-activation is below \(Int(Self.threshold)) (the flat tail where the output is within 0.05 of 0 and the slope within 0.09). For comparison the share with a pre-activation ≤ 0 (what ReLU would zero) is shown too.",
        ]
        let layers = s.trace.layers
        guard !layers.isEmpty, ff > 0 else { return SectionContent(answer: answer, unavailable: "the run recorded no feed-forward layers") }

        // Histogram ranges from pooled quantiles of a strided sample (fast at 512 tokens).
        func sample(_ pick: (LayerRecord) -> Tensor) -> [Float] {
            var out: [Float] = []
            for l in layers { let t = pick(l).data; let step = max(1, t.count / 5_000); out += stride(from: 0, to: t.count, by: step).map { t[$0] } }
            return out.filter(\.isFinite).sorted()
        }
        let preSorted = sample(\.ffnPre), actSorted = sample(\.ffnAct)
        let preLo = min(BlockAnalysis.quantile(preSorted, 0.001), Double(Self.threshold) - 1), preHi = max(BlockAnalysis.quantile(preSorted, 0.999), 1)
        let actLo = min(BlockAnalysis.quantile(actSorted, 0.001), -0.2), actHi = max(BlockAnalysis.quantile(actSorted, 0.999), 0.5)
        let bins = 60
        let shown = Self.evenly(layers.count, max: 6)  // the palette's first six colours (the seventh, yellow, is faint on white)
        func histogramPlot(title: String, pick: (LayerRecord) -> Tensor, lo: Double, hi: Double, xLabel: String) -> LinePlot {
            let centers = (0..<bins).map { lo + (Double($0) + 0.5) * (hi - lo) / Double(bins) }
            let series = shown.map { l in
                LinePlot.Series(name: "layer \(layers[l].index)", x: centers,
                                y: BlockAnalysis.histogram(pick(layers[l]).data, lo: lo, hi: hi, bins: bins).map { $0 * 100 })
            }
            var plot = LinePlot(title: title, series: series, xLabel: xLabel, yLabel: "% of values per bin")
            plot.includeZero = true
            return plot
        }
        let prePlot = histogramPlot(title: "FFN pre-activations per layer (fc1 output, all tokens × \(ff) units)", pick: \.ffnPre, lo: preLo, hi: preHi,
                                    xLabel: "pre-activation value (\(bins) bins, ends include the outer 0.1%)" + (relu ? "" : "; inactive: below \(Int(Self.threshold))"))
        let actPlot = histogramPlot(title: "FFN activations per layer (after \(actName))", pick: \.ffnAct, lo: actLo, hi: actHi,
                                    xLabel: "activation value (\(bins) bins, ends include the outer 0.1%)")

        var inactive: [Double] = [], nonPositive: [Double] = [], dead: [Int] = []
        for l in layers {
            inactive.append(BlockAnalysis.inactiveFraction(pre: l.ffnPre, act: l.ffnAct, relu: relu, threshold: Self.threshold))
            nonPositive.append(BlockAnalysis.inactiveFraction(pre: l.ffnPre, act: l.ffnAct, relu: false, threshold: .leastNonzeroMagnitude))
            dead.append(Self.unitsInactiveForEveryToken(l, relu: relu))
        }
        let definition = relu ? "output exactly 0" : "pre-activation < \(Int(Self.threshold))"
        var series: [(name: String, values: [Double])] = [("inactive (\(definition))", inactive.map { $0 * 100 })]
        if !relu { series.append(("pre-activation ≤ 0 (ReLU would output 0)", nonPositive.map { $0 * 100 })) }
        let bars = BarChart(title: "Share of inactive FFN units per layer (all tokens × \(ff) units)", categories: layers.map { "L\($0.index)" },
                            series: series, xLabel: "layer", yLabel: "% of unit activations")

        let diagram = BlockDiagram(title: "The feed-forward block of \(m.name) (one token; real sizes)", boxes: [
            .init(title: "x: the token's vector", detail: "\(d) values (output of the attention sub-layer)", color: .white),
            .init(title: "fc1: linear \(d) → \(ff)", detail: "W₁ \(d)×\(ff) + b₁ = \(d * ff + ff) parameters", color: RGB(hex: 0xDCEBF7)),
            .init(title: actName, detail: "element-wise, on each of the \(ff) units", color: RGB(hex: 0xFCE9D9)),
            .init(title: "fc2: linear \(ff) → \(d)", detail: "W₂ \(ff)×\(d) + b₂ = \(ff * d + d) parameters", color: RGB(hex: 0xDCEBF7)),
            .init(title: "FFN(x)", detail: "\(d) values, added to the residual stream", color: .white),
        ], repeated: nil, repeatLabel: "")

        let lo = inactive.indices.min { inactive[$0] < inactive[$1] } ?? 0, hi = inactive.indices.max { inactive[$0] < inactive[$1] } ?? 0
        let ratio = Double(ff) / Double(max(d, 1))
        var findings: [Finding] = [
            "Each of the \("layers", layers.count) layers maps d_model = \("d_model", d) → d_ff = \("d_ff", ff) (\("d_ff_ratio", ratio, "%.1f")×) → \(d); one layer's FFN has \("ffn_parameters_per_layer", perLayer) parameters, and the \(encoderDecoder ? "encoder's " : "")FFNs together hold \(percent: "ffn_parameter_share", Double(ffnTotal) / Double(total)) of the model's \(total) parameters and \(percent: "ffn_share_within_layers", Double(ffnTotal) / Double(max(inLayers, 1))) of those inside the \(encoderDecoder ? "encoder layers" : "layers").",
            "Inactive (\(definition)): from \(percent: "inactive_share_min", inactive[lo]) of the unit activations in layer \(layers[lo].index) to \(percent: "inactive_share_max", inactive[hi]) in layer \(layers[hi].index); \("units_inactive_for_every_token", dead.reduce(0, +)) units (summed over layers) are inactive for every token of this sentence.",
        ]
        if !relu {
            findings.append("A pre-activation ≤ 0 — where ReLU would output exactly 0 but \(actName) passes a small negative value — occurs for \(percent: "nonpositive_share_mean", Analysis.mean(nonPositive)) of the unit activations on average over layers.")
        }
        let caption = relu ? "" : " Everything left of \(Int(Self.threshold)) on the x axis counts as inactive."
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [
                FigureSpec(file: Figures.file(id, "shape"), figure: diagram,
                           caption: "The sizes are \(m.name)'s: \(d) → \(ff) → \(d) for every token, \(perLayer) parameters per layer."),
                FigureSpec(file: Figures.file(id, "pre-hist"), figure: prePlot,
                           caption: "Where the fc1 outputs fall, per layer\(shown.count < layers.count ? " (\(shown.count) of \(layers.count) layers, evenly spaced)" : ""). Most mass sits below 0.\(caption)"),
                FigureSpec(file: Figures.file(id, "act-hist"), figure: actPlot,
                           caption: relu ? "After ReLU every negative input becomes exactly 0: the spike at 0."
                               : "After \(actName) the negative side is squeezed into a narrow band just below 0 (its minimum is ≈ −0.17), while positive inputs pass almost unchanged: a spike near 0 and a long right tail."),
                FigureSpec(file: Figures.file(id, "inactive"), figure: bars,
                           caption: "Share of (token, unit) pairs that are inactive, per layer; lowest in layer \(layers[lo].index) (\(Self.percent1(inactive[lo]))), highest in layer \(layers[hi].index) (\(Self.percent1(inactive[hi])))."),
            ])],
            tables: [TableSpec(caption: "Per layer: inactive share (\(definition)), share with pre-activation ≤ 0, and units inactive for every token.",
                               header: ["layer", "inactive", "pre ≤ 0", "units never active"],
                               rows: layers.indices.map { ["\(layers[$0].index)", Analysis.percent(inactive[$0]), Analysis.percent(nonPositive[$0]), "\(dead[$0])"] })],
            findings: findings,
            values: layers.indices.map { ("inactive_share_L\(layers[$0].index)", .number(inactive[$0])) })
    }

    /// Units (columns of ffnPre/ffnAct) inactive for every token.
    static func unitsInactiveForEveryToken(_ l: LayerRecord, relu: Bool) -> Int {
        let t = relu ? l.ffnAct : l.ffnPre
        let n = t.rowCount, w = t.rowWidth
        guard n > 0 else { return 0 }
        var count = 0
        for u in 0..<w {
            var all = true
            for i in 0..<n {
                let v = t.data[i * w + u]
                if relu ? v != 0 : v >= threshold { all = false; break }
            }
            if all { count += 1 }
        }
        return count
    }

    /// At most `max` indices of 0..<count, evenly spaced, first and last included.
    static func evenly(_ count: Int, max: Int) -> [Int] {
        guard count > max, max > 1 else { return Array(0..<count) }
        var out: [Int] = []
        for k in 0..<max { let i = Int((Double(k) * Double(count - 1) / Double(max - 1)).rounded()); if !out.contains(i) { out.append(i) } }
        return out
    }

    /// A share with one decimal when whole percents would print two different layers as equal.
    static func percent1(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
}
