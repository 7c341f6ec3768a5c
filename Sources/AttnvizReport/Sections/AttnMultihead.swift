import Foundation
import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// attn-multihead: every selected head of every selected layer, and how the heads differ.
struct AttnMultiheadSection: Section {
    let id = "attn-multihead"
    /// Query rows the head-vs-head Jensen–Shannon divergence averages over at most (every k-th above).
    static let jsRows = 256

    struct HeadStats {
        var layer: Int, head: Int
        var entropy: Double, distance: Double, previous: Double, selfShare: Double, special: Double
        /// Everything else: 1 − the three disjoint shares above.
        var other: Double { max(0, 1 - previous - selfShare - special) }
    }

    static func stats(_ s: Study) -> [HeadStats] {
        let special = s.sinkTokens.indices
        var out: [HeadStats] = []
        for l in s.layers {
            guard let w = s.trace.layers[l].selfAttention?.weights else { continue }
            let n = w.shape[1]
            // Disjoint key sets per query: the sink tokens count only as sink, so a query's own
            // key or its previous key is counted only when it is not a sink; the shares add up.
            let sinks = Set(special), m = w.shape[2]
            for h in s.heads {
                var sp = 0.0, prev = 0.0, own = 0.0
                for i in 0..<n {
                    let row = (h * n + i) * m
                    for j in special where j < m { sp += Double(w.data[row + j]) }
                    if i < m, !sinks.contains(i) { own += Double(w.data[row + i]) }
                    if i >= 1, i - 1 < m, !sinks.contains(i - 1) { prev += Double(w.data[row + i - 1]) }
                }
                let count = Double(max(n, 1))
                out.append(HeadStats(layer: l, head: h, entropy: Analysis.meanEntropy(w, head: h), distance: Analysis.meanDistance(w, head: h),
                                     previous: prev / count, selfShare: own / count, special: sp / count))
            }
        }
        return out
    }

    func build(_ s: Study) throws -> SectionContent {
        let stats = Self.stats(s)
        let sink = s.sinkTokens
        // The entropy of attending uniformly to every key a query may see: all n tokens, or
        // under a causal mask the i + 1 tokens up to query i.
        let causal = s.trace.model.architecture == .decoder
        let uniform = causal
            ? "spreading evenly over every visible token would average \(Analysis.fixed(Analysis.mean((1...max(s.n, 1)).map { log(Double($0)) }))) nats under the causal mask."
            : "uniform over \(s.n) tokens would be \(Analysis.fixed(log(Double(max(s.n, 1))))) nats."
        var groups: [FigureGroup] = []
        for (index, l) in s.layers.enumerated() {
            guard let w = s.trace.layers[l].selfAttention?.weights else { continue }
            let layerStats = stats.filter { $0.layer == l }
            var figures: [FigureSpec] = []
            let entropy = BarChart(title: "Layer \(l): how spread out each head is", categories: s.heads.map { "head \($0)" },
                                   series: [("mean row entropy", layerStats.map(\.entropy))],
                                   xLabel: "head", yLabel: "mean entropy of a row (nats)")
            let focused = layerStats.min { $0.entropy < $1.entropy }, broad = layerStats.max { $0.entropy < $1.entropy }
            figures.append(FigureSpec(file: Figures.file(id, "L\(l)-entropy"), figure: entropy,
                caption: "Head \(focused?.head ?? 0) is the most focused (\(Analysis.fixed(focused?.entropy ?? 0)) nats), head \(broad?.head ?? 0) the most spread out (\(Analysis.fixed(broad?.entropy ?? 0)) nats); " + uniform))
            let hs = s.heads
            // Above 256 tokens: every `jsStride`-th query row (the caption says so); the 66 pairs × n²
            // logs were 1.35 s at 512 tokens.
            let jsStride = (s.n + Self.jsRows - 1) / Self.jsRows
            let js = Analysis.jsDivergences(w, heads: hs, rowStride: jsStride)
            let jsNote = jsStride > 1 ? " Averaged over every \(jsStride == 2 ? "2nd" : jsStride == 3 ? "3rd" : "\(jsStride)th") query row (\((s.n + jsStride - 1) / jsStride) of \(s.n)) to keep long inputs fast." : ""
            let names = hs.map { "H\($0)" }
            let pairs = hs.indices.flatMap { a in hs.indices.filter { $0 > a }.map { (a, $0) } }
            let closest = pairs.min { js[$0.0 * hs.count + $0.1] < js[$1.0 * hs.count + $1.1] }
            figures.append(FigureSpec(file: Figures.file(id, "L\(l)-dissimilarity"), figure: Heatmap(
                title: "Layer \(l): how differently the heads attend", values: js, rows: hs.count, cols: hs.count, rowLabels: names, colLabels: names,
                xLabel: "head", yLabel: "head", colorbarLabel: "Jensen–Shannon divergence (bits)", colormap: .viridis, range: ColorRange(0, 1)),
                caption: closest.map { "Most alike: heads \(hs[$0.0]) and \(hs[$0.1]) (\(Analysis.fixed(Double(js[$0.0 * hs.count + $0.1]), 3)) bits); 0 would mean identical patterns, 1 disjoint ones." + jsNote } ?? "One head selected."))
            for h in s.heads {
                let st = layerStats.first { $0.head == h }
                var map = Figures.head(w, head: h, labels: s.labels, title: "Layer \(l), head \(h)",
                                       maskedBy: causal ? s.trace.layers[l].selfAttention?.scores : nil, maskLabel: "future token (causal mask)")
                // One map per head: above 128 tokens each shows blocks of tokens (the largest
                // weight of each block, so a single strong link still shows; the x-axis title
                // says how many); the detail view below has single tokens.
                if s.n > 128 { map.maxCells = 128; map.maxPlot = 512 }
                figures.append(FigureSpec(file: Figures.file(id, "L\(l)-H\(h)"),
                    figure: map,
                    caption: "Entropy \(Analysis.fixed(st?.entropy ?? 0)) nats; of its weight \(Analysis.percent(st?.special ?? 0)) goes to \(sink.name), \(Analysis.percent(st?.selfShare ?? 0)) to the token itself, \(Analysis.percent(st?.previous ?? 0)) to the previous token and \(Analysis.percent(st?.other ?? 0)) elsewhere (disjoint shares, adding up to 100%)."))
            }
            groups.append(FigureGroup(title: "Layer \(l): \(s.heads.count) heads", open: index == 0, figures: figures))
        }
        var tables: [TableSpec] = []
        // Long inputs: the per-head maps above are too small to read token by token; a band of
        // full-size rows of the most focused head, around its strongest long-range link, and
        // each of those queries' heaviest keys carry what they cannot.
        if s.n > Figures.detailAbove, let focused = stats.min(by: { $0.entropy < $1.entropy }),
           let w = s.trace.layers[focused.layer].selfAttention?.weights, focused.head < w.shape[0] {
            let (l, h) = (focused.layer, focused.head)
            let q = Figures.interestingQuery(w, head: h, sinks: sink.indices)
            let lo = max(0, min(q - 12, s.n - 24)), hi = min(s.n, lo + 24)
            let full = Figures.head(w, head: h, labels: s.labels, title: "")
            let band = Figures.band(w, head: h, rows: lo, hi, labels: s.labels,
                                    title: "Layer \(l), head \(h): queries \(lo)–\(hi - 1) at full size", range: full.range)
            groups.append(FigureGroup(title: "Detail: layer \(l), head \(h), queries \(lo)–\(hi - 1)", open: true, figures: [
                FigureSpec(file: Figures.file(id, "detail-band"), figure: band,
                           caption: "The \(s.n)-token maps above give each token \(String(format: "%.1f", Heatmap.labelledCell(s.n))) px and label every few tokens. These \(hi - lo) rows of the most focused head (layer \(l), head \(h)) are drawn at full height with every query labelled, over all \(s.n) keys, around query \(q), whose strongest weight on a key two or more tokens away (not \(sink.name)) is the largest of this head. Same colour scale as the head's full map; the table below lists each row's three heaviest keys."),
            ]))
            tables.append(TableSpec(caption: "Layer \(l), head \(h): each query's three heaviest keys (position, token, weight), queries \(lo)–\(hi - 1).",
                                    header: ["query", "1st key", "2nd key", "3rd key"], rows: Figures.topKeys(w, head: h, rows: lo, hi, labels: s.labels)))
        }
        var findings: [Finding] = []
        if let prev = stats.max(by: { $0.previous < $1.previous }) {
            findings.append("Head \("previous_head", prev.head) of layer \("previous_layer", prev.layer) puts \(percent: "previous_share", prev.previous) of its weight on the previous token (not counting \(sink.name)).")
        }
        if let top = stats.max(by: { $0.special < $1.special }) {
            findings.append("Head \("sink_head", top.head) of layer \("sink_layer", top.layer) sends \(percent: "sink_share", top.special) of its weight to \(sink.name)\(top.special >= 0.3 ? " — a common “no-op” pattern when a head has nothing to look for" : ", the most of any head; that is too little for the “no-op” pattern (a head parking most of its weight there)").")
        }
        if let focused = stats.min(by: { $0.entropy < $1.entropy }) {
            findings.append("The most focused head overall is head \("focused_head", focused.head) of layer \("focused_layer", focused.layer) (\("focused_entropy_nats", focused.entropy, "%.3f") nats).")
        }
        return SectionContent(
            answer: [
                "One attention head computes one weighting of the other tokens per position, so it can follow one kind of relation at a time. Splitting the width d into h heads of d/h dimensions lets the layer follow h relations in parallel — the previous token, the sentence boundary, a syntactic head word — for the same cost as one wide head, then mixes their outputs through the output projection.",
                "The maps below are this sentence's. Heads in the same layer differ visibly, which is the point: the divergence matrix measures how differently each pair attends.",
            ],
            groups: groups,
            tables: tables + [TableSpec(caption: "Per head: mean row entropy (nats), mean distance between query and attended key (tokens), and the head's weight split into disjoint shares — on \(sink.name), on the token itself, on the previous token (each counted only when it is not \(sink.name)) and elsewhere; the four shares add up to 100%.",
                               header: ["layer", "head", "entropy (nats)", "distance (tokens)", sink.short, "self", "previous", "elsewhere"],
                               rows: stats.map { ["\($0.layer)", "\($0.head)", Analysis.fixed($0.entropy), Analysis.fixed($0.distance, 1),
                                                  Analysis.percent($0.special), Analysis.percent($0.selfShare), Analysis.percent($0.previous), Analysis.percent($0.other)] })],
            findings: findings)
    }
}
