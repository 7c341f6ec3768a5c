import AttnvizRender
import AttnvizTensor
import Foundation

/// attn-scaled: why scores are divided by √d_k, shown on random vectors and on this run.
struct AttnScaledSection: Section {
    let id = "attn-scaled"

    /// Empirical variance of q·k for unit-variance q, k of width d (seeded): each sample a sum of
    /// d products of two independent standard normals.
    static func dotVariance(d: Int, samples: Int = 1000, seed: UInt64) -> Double {
        var rng = SplitMix(state: seed)
        var values: [Double] = []
        values.reserveCapacity(samples)
        for _ in 0..<samples {
            var dot = 0.0
            for _ in 0..<d { let (a, b) = rng.gaussianPair(); dot += a * b }
            values.append(dot)
        }
        let mean = Analysis.mean(values)
        return values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
    }

    static let widths = [2, 4, 8, 16, 32, 64, 128, 256, 512]
    /// The illustration does not depend on the run: computed once per process.
    static let widthVariances = widths.map { dotVariance(d: $0, seed: UInt64($0)) }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let dk = m.headDim
        let widths = Self.widths
        let variances = Self.widthVariances
        let dkVariance = widths.firstIndex(of: dk).map { variances[$0] } ?? Self.dotVariance(d: dk, seed: UInt64(dk))
        let logX = widths.map { log2(Double($0)) }
        let ticks = widths.map { (log2(Double($0)), String($0)) }
        var plot = LinePlot(title: "Variance of q·k for random unit-variance vectors (illustration, not from the run)", series: [
            .init(name: "measured (1000 pairs)", x: logX, y: variances.map(log2), markers: true),
            .init(name: "d_k (theory)", x: logX, y: widths.map { log2(Double($0)) }, dashed: true),
            .init(name: "after dividing by √d_k", x: logX, y: zip(variances, widths).map { log2($0 / Double($1)) }, markers: true),
        ], xLabel: "d_k (log scale)", yLabel: "log₂ variance (0 = 1, 9 = 512)", xTicks: ticks)
        plot.includeZero = true

        // This model: each layer's heads with the scale (as run) and without it.
        var rows: [[String]] = []
        var scaledEntropy: [Double] = [], unscaledEntropy: [Double] = []
        var layerEntropyScaled: [Double] = [], layerEntropyUnscaled: [Double] = []
        var example: (Heatmap, Heatmap)?
        var layerVariances: [(layer: Int, variance: Double)] = []
        var jacobians: [(layer: Int, scaled: Double, raw: Double, entropyScaled: Double, maxRaw: Double)] = []
        let root = Double(dk).squareRoot()
        for l in s.layers {
            guard let a = s.trace.layers[l].selfAttention else { continue }
            let n = a.weights.shape[1], k = a.weights.shape[2]
            var hs = 0.0, hu = 0.0, ms = 0.0, mu = 0.0, js = 0.0, ju = 0.0
            var sum = 0.0, sumSq = 0.0, finite = 0.0
            var unscaledWeights = [Float](repeating: 0, count: a.weights.count)
            // Per row, the same arithmetic in the same order as before, into buffers made once
            // (the row arrays were 0.74 s of allocation at 512 tokens).
            var scaled = [Double](repeating: 0, count: k), raw = [Double](repeating: 0, count: k)
            for head in s.heads {
                for i in 0..<n {
                    let base = (head * n + i) * k
                    var top = -Double.infinity
                    for j in 0..<k {
                        let f = a.scores.data[base + j]
                        if f.isFinite { let v = Double(f); sum += v; sumSq += v * v; finite += 1 }
                        scaled[j] = Double(a.weights.data[base + j])
                        raw[j] = Double(f) * root
                        top = max(top, raw[j])
                    }
                    Analysis.softmaxInPlace(&raw, max: k > 0 ? top : 0)
                    for j in 0..<k { unscaledWeights[base + j] = Float(raw[j]) }
                    // The weights are Float already: entropy of the row itself.
                    hs += Analysis.entropy(a.weights.data[base..<(base + k)])
                    hu += Analysis.entropy(unscaledWeights[base..<(base + k)])
                    ms += Double(a.weights.data[base..<(base + k)].max() ?? 0); mu += Analysis.maxOf(raw)
                    js += Analysis.softmaxJacobianNorm(scaled); ju += Analysis.softmaxJacobianNorm(raw)
                }
            }
            let count = Double(max(s.heads.count * n, 1))
            let variance = finite > 0 ? max(0, sumSq / finite - (sum / finite) * (sum / finite)) : 0
            layerVariances.append((l, variance))
            jacobians.append((l, js / count, ju / count, hs / count, mu / count))
            layerEntropyScaled.append(hs / count); layerEntropyUnscaled.append(hu / count)
            scaledEntropy.append(hs / count); unscaledEntropy.append(hu / count)
            rows.append(["\(l)", Analysis.fixed(variance), Analysis.fixed(hs / count), Analysis.fixed(hu / count), Analysis.percent(ms / count), Analysis.percent(mu / count),
                         Analysis.fixed(js / count, 3), Analysis.fixed(ju / count, 3)])
            if example == nil, let head = s.heads.first {
                let unscaled = try Tensor(shape: a.weights.shape, data: unscaledWeights)
                let mask = s.trace.model.architecture == .encoder ? nil : a.scores  // show a causal mask as masked
                var scaledMap = Figures.head(a.weights, head: head, labels: s.labels, title: "Layer \(l), head \(head): softmax(q·k / √\(dk)) — as the model runs",
                                             maskedBy: mask, maskLabel: "future token (causal mask)")
                var unscaledMap = Figures.head(unscaled, head: head, labels: s.labels, title: "Layer \(l), head \(head): softmax(q·k) — without the scale",
                                               maskedBy: mask, maskLabel: "future token (causal mask)")
                // One colour range for both maps, so the sharpening shows as it is.
                let top = max(scaledMap.range?.max ?? 1, unscaledMap.range?.max ?? 1)
                scaledMap.range = ColorRange(0, top); unscaledMap.range = ColorRange(0, top)
                example = (scaledMap, unscaledMap)
            }
        }
        let chart = BarChart(title: "Mean attention entropy per layer, with and without the scale",
                             categories: s.layers.map { "layer \($0)" },
                             series: [("÷ √d_k (as trained)", layerEntropyScaled), ("no scaling", layerEntropyUnscaled)],
                             xLabel: "layer", yLabel: "mean row entropy (nats)")
        var figures = [
            FigureSpec(file: Figures.file(id, "variance"), figure: plot,
                       caption: "For d_k = \(dk) (this model's head width) the measured variance is \(Analysis.fixed(dkVariance, 1)); dividing by √\(dk) brings it back to about 1 at every width."),
            FigureSpec(file: Figures.file(id, "entropy"), figure: chart,
                       caption: sharperCaption(scaled: layerEntropyScaled, unscaled: layerEntropyUnscaled)),
        ]
        if let example {
            figures.append(FigureSpec(file: Figures.file(id, "head-scaled"), figure: example.0, caption: "The head as the model computes it (same colour range as the next map)."))
            figures.append(FigureSpec(file: Figures.file(id, "head-unscaled"), figure: example.1, caption: "The same scores multiplied back by √\(dk), on the same colour range: weight piles onto fewer keys."))
        }
        return SectionContent(
            answer: [
                "If the components of q and k are independent with mean 0 and variance 1, their dot product is a sum of d_k such products, so its variance is d_k: at d_k = 64 the scores spread over roughly ±8 standard units. Fed to a softmax, such large differences push almost all weight onto one key.",
                "A saturated softmax has a tiny gradient: its Jacobian diag(p) − p pᵀ goes to zero as p approaches one-hot, so learning stalls. Dividing by √d_k restores unit variance whatever the head width, so that at the start of training — random weights, the situation this argument is about — the softmax stays in the range where it still passes gradient back.",
            ],
            groups: [FigureGroup(figures: figures)],
            tables: [TableSpec(caption: "Per layer (selected heads, all query rows): variance of the scaled scores as the model runs, mean entropy, mean largest weight, and mean Frobenius norm of the softmax Jacobian, with and without the 1/√d_k scale.",
                               header: ["layer", "var(q·k/√d_k)", "entropy ÷√d_k", "entropy raw", "max weight ÷√d_k", "max weight raw", "‖J‖ ÷√d_k", "‖J‖ raw"], rows: rows)],
            findings: findings(dk: dk, root: root, n: s.n, variances: layerVariances, jacobians: jacobians))
    }

    /// The run's findings: the factor, the real variance of the trained scores, and where the
    /// Jacobian grows without the scale (a flat softmax sharpened) or shrinks (a saturated one).
    func findings(dk: Int, root: Double, n: Int, variances: [(layer: Int, variance: Double)],
                  jacobians: [(layer: Int, scaled: Double, raw: Double, entropyScaled: Double, maxRaw: Double)]) -> [Finding] {
        var out: [Finding] = ["Removing the scale multiplies every score by √\(dk) ≈ \("scale_factor", root, "%.2f") in this model."]
        if let lo = variances.min(by: { $0.variance < $1.variance }), let hi = variances.max(by: { $0.variance < $1.variance }) {
            out.append("The trained model's scaled scores are not unit-variance: their variance per layer runs from \("scaled_score_variance_min", lo.variance, "%.2f") (layer \(lo.layer)) to \("scaled_score_variance_max", hi.variance, "%.2f") (layer \(hi.layer)). The “variance ≈ 1” argument is about independent random q and k, as at initialisation; training then shapes q and k, and the scale only fixes where learning starts.")
        }
        // ‖J‖ is taken with respect to the softmax's own input. The gradient reaching q·k (and so
        // W_Q, W_K) carries the scale once more: ∂p/∂(q·k) = J/√d_k.
        let wrtScores = jacobians.map { (layer: $0.layer, scaled: $0.scaled / root, raw: $0.raw) }
        let rawLarger = wrtScores.filter { $0.raw > $0.scaled }
        if !jacobians.isEmpty {
            let f: Finding = "The table's ‖J‖ is the softmax's Jacobian with respect to its own input. The gradient that reaches q·k — and so W_Q and W_K — carries the scale once more (∂p/∂(q·k) = J/√d_k): measured that way, these trained weights pass \("scaled_jacobian_wrt_qk_mean", Analysis.mean(wrtScores.map(\.scaled)), "%.3f") on average with the scale against \("unscaled_jacobian_mean", Analysis.mean(wrtScores.map(\.raw)), "%.3f") without it, and the unscaled softmax would pass more in \("layers_unscaled_passes_more", rawLarger.count) of \(jacobians.count) layer(s)."
            out.append(f.appending(" So on trained weights the scale is not what keeps the gradient alive; its case is the start of training, when q and k are random: there the score variance is d_k (first figure), which drives an unscaled softmax towards one-hot and its Jacobian towards 0. Trained weights have adapted to the scale they were trained with."))
        }
        if let sat = jacobians.max(by: { $0.maxRaw < $1.maxRaw }) {
            let f: Finding = "Without the scale the largest weight of a row averages up to \(percent: "unscaled_max_weight_max", sat.maxRaw) (layer \(sat.layer))"
            out.append(f.appending(sat.maxRaw >= 0.8 ? ": rows close to one-hot — the saturation the scale avoids at the start of training." : ": sharper rows, though not saturated on these weights."))
        }
        return out
    }

    /// The entropy chart's caption, saying in how many layers the unscaled softmax is sharper
    /// (a claim checked here, not assumed).
    func sharperCaption(scaled: [Double], unscaled: [Double]) -> String {
        let sharper = zip(scaled, unscaled).filter { $0.1 < $0.0 }.count
        let which = sharper == scaled.count ? "every layer's softmax is sharper" : "the softmax is sharper in \(sharper) of \(scaled.count) layers"
        return "Without the scale \(which) (lower entropy): on average \(Analysis.fixed(Analysis.mean(scaled))) nats with it vs \(Analysis.fixed(Analysis.mean(unscaled))) without."
    }
}
