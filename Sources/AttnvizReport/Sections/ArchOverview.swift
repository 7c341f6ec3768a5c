import AttnvizRender
import AttnvizTrace

/// arch-overview: the loaded model drawn from its own config, with parameters per component.
struct ArchOverviewSection: Section {
    let id = "arch-overview"

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let d = m.dModel, ff = m.dFF
        var boxes: [BlockDiagram.Box] = [
            .init(title: "Input: \(s.n) tokens", detail: "ids from a \(m.vocabSize)-entry vocabulary", color: RGB(hex: 0xFFFFFF)),
            .init(title: "Embeddings", detail: "token + \(m.positions.rawValue) position" + (m.typeVocabSize > 0 ? " + segment" : "") + ", LayerNorm",
                  color: RGB(hex: 0xE8F1FA)),
            .init(title: "Multi-head self-attention", detail: "\(m.heads) heads × \(m.headDim) dims (Q, K, V, O: \(d)×\(d))",
                  color: RGB(hex: 0xFCE9D9), residualAround: true),
            .init(title: "Add & LayerNorm", detail: "x + Attention(x), eps \(m.layerNormEps)", color: RGB(hex: 0xF1F1F1)),
            .init(title: "Feed-forward", detail: "\(d) → \(ff) → \(d), \(m.activation)", color: RGB(hex: 0xE2F2EA), residualAround: true),
            .init(title: "Add & LayerNorm", detail: "x + FFN(x)", color: RGB(hex: 0xF1F1F1)),
            .init(title: "Output", detail: "\(s.n) contextual vectors of \(d)", color: RGB(hex: 0xFFFFFF)),
        ]
        if m.normPlacement == .pre { boxes[3].title = "Add"; boxes[5].title = "Add" }
        let diagram = BlockDiagram(title: "\(m.name): \(m.architecture.rawValue), \(m.layers) layers, d_model \(d)", boxes: boxes,
                                   repeated: 2...5, repeatLabel: "× \(m.layers) layers")

        let total = m.totalParameters
        // The same counts from the config alone, as a check on the checkpoint.
        let perLayer = 4 * (d * d + d) + 2 * d + (d * ff + ff) + (ff * d + d) + 2 * d
        let fromConfig = m.vocabSize * d + m.maxPositions * d + m.typeVocabSize * d + 2 * d + m.layers * perLayer
        let used = m.parameterCounts.filter { !$0.component.hasPrefix("not used") }.reduce(0) { $0 + $1.count }
        let rows = m.parameterCounts.map { [$0.component, grouped($0.count), Analysis.percent(Double($0.count) / Double(max(total, 1)))] }
            + [["total in the checkpoint", grouped(total), "100%"]]
        let embeddingShare = Double(m.parameterCounts.prefix(4).reduce(0) { $0 + $1.count }) / Double(max(total, 1))
        return SectionContent(
            answer: [
                "A Transformer turns a sequence of token vectors into a sequence of context-aware vectors by stacking identical blocks. Each block has two sub-layers: self-attention, where every position mixes in information from the positions it finds relevant, and a position-wise feed-forward network that transforms each vector on its own. A residual connection and a LayerNorm wrap each sub-layer.",
                "The encoder (BERT's side) lets every token see every other token and is used to understand text. The decoder (GPT's side) adds a causal mask so a position only sees earlier ones, which lets it generate text one token at a time; in the original encoder–decoder layout the decoder also attends to the encoder's output through cross-attention.",
                "The diagram and the table below are drawn from the loaded checkpoint, not from a textbook figure.",
            ],
            groups: [FigureGroup(figures: [FigureSpec(
                file: Figures.file(id, "block-diagram"), figure: diagram,
                caption: "The loaded model as read from its config.json: \(m.layers) identical blocks of width \(d) with \(m.heads) heads and a \(ff)-wide feed-forward layer. Arrows on the right are the residual connections.")])],
            tables: [TableSpec(caption: "Parameters per component, counted from the tensors in model.safetensors.",
                               header: ["component", "parameters", "share"], rows: rows)],
            findings: [
                "The checkpoint holds \(grouped(total)) parameters; the config predicts \(grouped(fromConfig)) for the parts attnviz runs, and the loaded weights have \(grouped(used))" + (fromConfig == used ? " — they agree." : " — they differ."),
                "Embedding tables are \(Analysis.percent(embeddingShare)) of all parameters; each of the \(m.layers) blocks adds \(grouped(perLayer)).",
            ])
    }

    func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0, i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return String(out.reversed())
    }
}
