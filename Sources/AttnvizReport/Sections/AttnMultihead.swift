import Foundation
import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// attn-multihead: every selected head of every selected layer, and how the heads differ.
struct AttnMultiheadSection: Section {
    let id = "attn-multihead"

    struct HeadStats {
        var layer: Int, head: Int
        var entropy: Double, distance: Double, previous: Double, selfShare: Double, special: Double
    }

    static func stats(_ s: Study) -> [HeadStats] {
        let special = s.sinkTokens.indices
        var out: [HeadStats] = []
        for l in s.layers {
            guard let w = s.trace.layers[l].selfAttention?.weights else { continue }
            let n = w.shape[1]
            for h in s.heads {
                var sp = 0.0
                for i in 0..<n { for j in special { sp += Double(w.data[(h * n + i) * n + j]) } }
                out.append(HeadStats(layer: l, head: h, entropy: Analysis.meanEntropy(w, head: h), distance: Analysis.meanDistance(w, head: h),
                                     previous: Analysis.share(w, head: h, queries: 1..<max(n, 1)) { $0 - 1 },
                                     selfShare: Analysis.share(w, head: h) { $0 }, special: sp / Double(max(n, 1))))
            }
        }
        return out
    }

    func build(_ s: Study) throws -> SectionContent {
        let stats = Self.stats(s)
        let sink = s.sinkTokens
        // The entropy of attending uniformly to every key a query may see: all n tokens, or
        // under a causal mask the i + 1 tokens up to query i.
        let causal = s.trace.model.architecture != .encoder
        let uniform = causal
            ? "spreading evenly over every visible token would average \(Analysis.fixed(Analysis.mean((1...max(s.n, 1)).map { log(Double($0)) }))) nats under the causal mask."
            : "uniform over \(s.n) tokens would be \(Analysis.fixed(log(Double(max(s.n, 1))))) nats."
        var groups: [FigureGroup] = []
        for (index, l) in s.layers.enumerated() {
            guard let w = s.trace.layers[l].selfAttention?.weights else { continue }
            let layerStats = stats.filter { $0.layer == l }
            var figures: [FigureSpec] = []
            let entropy = BarChart(title: "Layer \(l): how spread out each head is", categories: s.heads.map { "head \($0)" },
                                   series: [("mean entropy (nats)", layerStats.map(\.entropy)), ("mean distance (tokens)", layerStats.map(\.distance))],
                                   xLabel: "head", yLabel: "nats / tokens")
            let focused = layerStats.min { $0.entropy < $1.entropy }, broad = layerStats.max { $0.entropy < $1.entropy }
            figures.append(FigureSpec(file: Figures.file(id, "L\(l)-entropy"), figure: entropy,
                caption: "Head \(focused?.head ?? 0) is the most focused (\(Analysis.fixed(focused?.entropy ?? 0)) nats), head \(broad?.head ?? 0) the most spread out (\(Analysis.fixed(broad?.entropy ?? 0)) nats); " + uniform))
            let hs = s.heads
            let js = Analysis.jsDivergences(w, heads: hs)
            let names = hs.map { "H\($0)" }
            let pairs = hs.indices.flatMap { a in hs.indices.filter { $0 > a }.map { (a, $0) } }
            let closest = pairs.min { js[$0.0 * hs.count + $0.1] < js[$1.0 * hs.count + $1.1] }
            figures.append(FigureSpec(file: Figures.file(id, "L\(l)-dissimilarity"), figure: Heatmap(
                title: "Layer \(l): how differently the heads attend", values: js, rows: hs.count, cols: hs.count, rowLabels: names, colLabels: names,
                xLabel: "head", yLabel: "head", colorbarLabel: "Jensen–Shannon divergence (bits)", colormap: .viridis, range: ColorRange(0, 1)),
                caption: closest.map { "Most alike: heads \(hs[$0.0]) and \(hs[$0.1]) (\(Analysis.fixed(Double(js[$0.0 * hs.count + $0.1]), 3)) bits); 0 would mean identical patterns, 1 disjoint ones." } ?? "One head selected."))
            for h in s.heads {
                let st = layerStats.first { $0.head == h }
                figures.append(FigureSpec(file: Figures.file(id, "L\(l)-H\(h)"),
                    figure: Figures.head(w, head: h, labels: s.labels, title: "Layer \(l), head \(h)",
                                         maskedBy: causal ? s.trace.layers[l].selfAttention?.scores : nil, maskLabel: "future token (causal mask)"),
                    caption: "Entropy \(Analysis.fixed(st?.entropy ?? 0)) nats; \(Analysis.percent(st?.previous ?? 0)) of its weight on the previous token, \(Analysis.percent(st?.selfShare ?? 0)) on the token itself, \(Analysis.percent(st?.special ?? 0)) on \(sink.name)."))
            }
            groups.append(FigureGroup(title: "Layer \(l): \(s.heads.count) heads", open: index == 0, figures: figures))
        }
        var findings: [Finding] = []
        if let prev = stats.max(by: { $0.previous < $1.previous }) {
            findings.append("Head \(prev.head) of layer \(prev.layer) puts \(Analysis.percent(prev.previous)) of its weight on the previous token.")
        }
        if let top = stats.max(by: { $0.special < $1.special }) {
            findings.append("Head \(top.head) of layer \(top.layer) sends \(Analysis.percent(top.special)) of its weight to \(sink.name) — a common “no-op” pattern when a head has nothing to look for.")
        }
        if let focused = stats.min(by: { $0.entropy < $1.entropy }) {
            findings.append("The most focused head overall is head \(focused.head) of layer \(focused.layer) (\(Analysis.fixed(focused.entropy)) nats).")
        }
        return SectionContent(
            answer: [
                "One attention head computes one weighting of the other tokens per position, so it can follow one kind of relation at a time. Splitting the width d into h heads of d/h dimensions lets the layer follow h relations in parallel — the previous token, the sentence boundary, a syntactic head word — for the same cost as one wide head, then mixes their outputs through the output projection.",
                "The maps below are this sentence's. Heads in the same layer differ visibly, which is the point: the divergence matrix measures how differently each pair attends.",
            ],
            groups: groups,
            tables: [TableSpec(caption: "Per head: mean row entropy (nats), mean distance between query and attended key (tokens), and shares of weight on the previous token, on itself, and on \(sink.name).",
                               header: ["layer", "head", "entropy", "distance", "previous", "self", sink.short],
                               rows: stats.map { ["\($0.layer)", "\($0.head)", Analysis.fixed($0.entropy), Analysis.fixed($0.distance, 1),
                                                  Analysis.percent($0.previous), Analysis.percent($0.selfShare), Analysis.percent($0.special)] })],
            findings: findings)
    }
}
