import AttnvizRender
import AttnvizTrace
import Foundation

/// attn-head-roles: every head classified by where its weight goes on this sentence, and the
/// run's strongest long-distance links.
struct AttnHeadRolesSection: Section {
    let id = "attn-head-roles"

    func build(_ s: Study) throws -> SectionContent {
        typealias Role = AttentionAnalysis.Role
        let m = s.trace.model
        let causal = m.architecture == .decoder
        let sink = s.sinkTokens
        let sinkSet = Set(sink.indices)
        let punctuation = s.trace.tokens.indices.map { AttentionAnalysis.isPunctuation(s.labels[$0], special: s.trace.tokens[$0].isSpecial) }
        let answer = [
            "Trained heads specialise, and on any sentence many of them can be told apart by where their weight goes: some look at the previous or the next token (local syntax, word pieces), some at the token itself, some at punctuation, and many give the largest share of their weight to \(sink.name) — a “no-op” when the head has nothing to contribute. Others spread their weight broadly or follow long-distance relations such as a pronoun to the noun it refers to, or a verb to its object.",
            "Below each head is classified by the category that receives the largest mean share of its weight on this sentence. The categories are disjoint: for each query, every key belongs to exactly one of them, checked in this order — \(sink.name) (the sink), the query itself, the previous token, the next token, punctuation, and everything else (broad / other) — so a head's six shares add up to 100%. “Broad / other” collects all the remaining keys of a query (n − 5 or so of them), so it wins for any head without one dominant pattern; such heads may still carry sharp long-distance links, listed at the end. A label describes this sentence only; the same head may behave differently on another input\(causal ? ". In this causal decoder no query can see the next token, so that share is always 0" : "").",
        ]
        var shares: [(layer: Int, head: Int, values: [Double])] = []
        let roleMatrix = AttentionAnalysis.roleMatrix(queries: s.n, keys: s.n, sink: sinkSet, punctuation: punctuation)
        for l in s.layers where l < s.trace.layers.count {
            guard let w = s.trace.layers[l].selfAttention?.weights, w.shape[1] == s.n, w.shape[2] == s.n else { continue }
            for h in s.heads where h < w.shape[0] {
                shares.append((l, h, AttentionAnalysis.roleShares(w, head: h, sink: sinkSet, punctuation: punctuation, roles: roleMatrix)))
            }
        }
        guard !shares.isEmpty else { return SectionContent(answer: answer, unavailable: "no attention heads were selected") }
        let roles = Role.allCases
        let classOf = shares.map { sh in roles[sh.values.indices.max { sh.values[$0] < sh.values[$1] } ?? 0] }
        let headNames = shares.map { "L\($0.layer) H\($0.head)" }
        var transposed = [Float](repeating: 0, count: roles.count * shares.count)
        for (c, sh) in shares.enumerated() { for r in roles.indices { transposed[r * shares.count + c] = Float(sh.values[r]) } }
        // Few heads: heads across. Many (a whole model): heads down, so every label stays readable.
        let tall = shares.count > 24
        let byHead = shares.flatMap { sh in roles.indices.map { Float(sh.values[$0]) } }  // [heads, roles]
        var map = tall
            ? Heatmap(title: "Share of each head's weight by key category on this sentence", values: byHead,
                      rows: shares.count, cols: roles.count, rowLabels: headNames, colLabels: roles.map(\.name),
                      xLabel: "key category", yLabel: "layer and head", colorbarLabel: "share of the head's weight",
                      colormap: .viridis, range: ColorRange(0, 1))
            : Heatmap(title: "Share of each head's weight by key category on this sentence", values: transposed,
                      rows: roles.count, cols: shares.count, rowLabels: roles.map(\.name), colLabels: headNames,
                      xLabel: "layer and head", yLabel: "key category", colorbarLabel: "share of the head's weight",
                      colormap: .viridis, range: ColorRange(0, 1))
        if tall { map.columnWidth = 64 }
        var counts = [Int](repeating: 0, count: roles.count)
        for c in classOf { counts[c.rawValue] += 1 }
        let sumDeviation = shares.reduce(0.0) { max($0, abs($1.values.reduce(0, +) - 1)) }

        // Class table: one row per layer, one column per selected head.
        let heads = s.heads.filter { $0 < m.heads }
        var classRows: [[String]] = []
        for l in s.layers where l < s.trace.layers.count {
            var row = ["\(l)"]
            for h in heads {
                guard let k = shares.firstIndex(where: { $0.layer == l && $0.head == h }) else { row.append("—"); continue }
                row.append("\(classOf[k].name) \(Analysis.percent(shares[k].values[classOf[k].rawValue]))")
            }
            classRows.append(row)
        }

        // Long-distance links.
        let links = AttentionAnalysis.longLinks(s.trace, layers: s.layers, heads: s.heads, punctuation: punctuation)
        let linkRows = links.map { k in [s.labels[k.query], s.labels[k.key], "\(abs(k.query - k.key))", "L\(k.layer) H\(k.head)", String(format: "%.3f", k.weight)] }
        let countText = roles.indices.filter { counts[$0] > 0 }.map { "\(counts[$0]) \(roles[$0].name)" }.joined(separator: ", ")

        var findings: [Finding] = [
            "Of the \("heads_classified", shares.count) heads shown, \("heads_sink", counts[Role.sink.rawValue]) give their largest share to \(sink.name), \("heads_previous", counts[Role.previous.rawValue]) on the previous token, \("heads_next", counts[Role.next.rawValue]) on the next, \("heads_self", counts[Role.own.rawValue]) on the token itself, \("heads_punctuation", counts[Role.punctuation.rawValue]) on punctuation and \("heads_broad", counts[Role.broad.rawValue]) spread it elsewhere (broad) — “largest share”, not necessarily a majority: the table gives each head's shares.",
            "Each head's six shares add up to 100% (largest deviation \("share_sum_max_deviation", sumDeviation, "%.1e")): the categories do not overlap.",
        ]
        for role in [Role.previous, .next, .own] {
            guard let k = shares.indices.max(by: { shares[$0].values[role.rawValue] < shares[$1].values[role.rawValue] }), shares[k].values[role.rawValue] > 0 else { continue }
            let key = role == .own ? "self" : (role == .previous ? "previous" : "next")
            findings.append("The strongest \(role.name) head is \("strongest_\(key)_head", text: headNames[k]), with \(percent: "strongest_\(key)_share", shares[k].values[role.rawValue]) of its weight there.")
        }
        if let top = links.first {
            findings.append("The strongest long-distance link (|i − j| ≥ 3, no specials or punctuation) is “\("top_link_query", text: s.labels[top.query])” → “\("top_link_key", text: s.labels[top.key])”, \("top_link_distance", abs(top.query - top.key)) tokens apart, made by \("top_link_head", text: "L\(top.layer) H\(top.head)") with weight \("top_link_weight", top.weight, "%.3f").")
            if let far = links.max(by: { (abs($0.query - $0.key), $0.weight) < (abs($1.query - $1.key), $1.weight) }), abs(far.query - far.key) > abs(top.query - top.key) {
                let same = s.trace.tokens[far.query].id == s.trace.tokens[far.key].id ? " (the same token twice: a head matching repeated words)" : ""
                findings.append("The farthest of the \(links.count) strongest links spans \("farthest_link_distance", abs(far.query - far.key)) tokens: “\("farthest_link_query", text: s.labels[far.query])” → “\("farthest_link_key", text: s.labels[far.key])”\(same), by \("farthest_link_head", text: "L\(far.layer) H\(far.head)") with weight \("farthest_link_weight", far.weight, "%.3f").")
            }
        } else {
            findings.append("This input has no pair of ordinary tokens at least 3 positions apart, so there are no long-distance links to rank.")
        }
        var tables = [TableSpec(caption: "Each head's class on this sentence (the category with the largest share) and that share. Classes: \(countText).",
                                header: ["layer"] + heads.map { "H\($0)" }, rows: classRows)]
        if !linkRows.isEmpty {
            tables.append(TableSpec(caption: "The run's strongest long-distance links: query → key pairs at least 3 tokens apart, neither a special nor punctuation, each pair with the head that gives it the most weight\(causal ? " (a causal decoder only looks back)" : "").",
                                    header: ["query token", "key token", "distance", "layer/head", "weight"], rows: linkRows))
        }
        return SectionContent(
            answer: answer,
            groups: [FigureGroup(figures: [FigureSpec(file: Figures.file(id, "shares"), figure: map,
                                                      caption: "One column per head, one row per key category; each column sums to 1. \(shares.count) heads: \(countText). The brightest cell of a column is the head's class.")])],
            tables: tables, findings: findings)
    }
}
