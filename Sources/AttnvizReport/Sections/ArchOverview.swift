import AttnvizRender
import AttnvizTrace

/// arch-overview: the loaded model drawn from its own config, with parameters per component.
struct ArchOverviewSection: Section {
    let id = "arch-overview"

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let d = m.dModel, ff = m.dFF
        let (boxes, repeated) = Self.boxes(m, tokens: s.n)
        let diagram = BlockDiagram(title: "\(m.name): \(m.architecture.rawValue), \(m.layers) layers, d_model \(d), \(m.normPlacement.rawValue)",
                                   boxes: boxes, repeated: repeated, repeatLabel: "× \(m.layers) layers")

        let total = m.totalParameters
        // The same counts from the config alone, as a check on the checkpoint.
        let attention = 4 * (d * d + d), norm = 2 * d, ffn = (d * ff + ff) + (ff * d + d)
        let perLayer = attention + ffn + 2 * norm
        let positions = m.positions == .learned ? m.maxPositions * d : 0
        let fromConfig: Int
        switch m.architecture {
        case .encoder: fromConfig = m.vocabSize * d + positions + m.typeVocabSize * d + norm + m.layers * perLayer  // + embedding LN
        case .decoder: fromConfig = m.vocabSize * d + positions + m.layers * perLayer + norm                       // + final ln_f
        case .encoderDecoder:  // decoder layers add cross-attention and its norm; the output bias has one entry per token
            fromConfig = m.vocabSize * d + positions + m.layers * perLayer + m.decoderLayers * (perLayer + attention + norm) + m.vocabSize
        }
        let used = m.parameterCounts.filter { !$0.component.hasPrefix("not used") }.reduce(0) { $0 + $1.count }
        let rows = m.parameterCounts.map { [$0.component, Analysis.grouped($0.count), Analysis.percent(Double($0.count) / Double(max(total, 1)))] }
            + [["total in the checkpoint", Analysis.grouped(total), "100%"]]
        let embeddingShare = Double(m.parameterCounts.filter { $0.component.contains("embeddings") }.reduce(0) { $0 + $1.count }) / Double(max(total, 1))
        return SectionContent(
            answer: [
                "A Transformer turns a sequence of token vectors into a sequence of context-aware vectors by stacking identical blocks. An encoder block has two sub-layers: self-attention, where every position mixes in information from the positions it finds relevant, and a position-wise feed-forward network that transforms each vector on its own. A decoder block of the original encoder–decoder has three: masked self-attention, cross-attention to the encoder's output, and the feed-forward network; a decoder-only model such as GPT-2 drops the cross-attention and keeps two. Every sub-layer sits on a residual connection with a LayerNorm — after the addition in the original layout and BERT (post-LN), before the sub-layer in GPT-2 and most newer models (pre-LN).",
                "The encoder (BERT's side) lets every token see every other token and is used to understand text. The decoder (GPT's side) adds a causal mask so a position only sees earlier ones, which lets it generate text one token at a time; in the original encoder–decoder layout the decoder also attends to the encoder's output through cross-attention.",
                "The diagram and the table below are drawn from the loaded checkpoint, not from a textbook figure.",
            ],
            groups: [FigureGroup(figures: [FigureSpec(
                file: Figures.file(id, "block-diagram"), figure: diagram,
                caption: "The loaded model as read from its config.json: \(m.layers) identical blocks of width \(d) with \(m.heads) heads and a \(ff)-wide feed-forward layer, LayerNorm \(m.normPlacement == .pre ? "before each sub-layer (pre-LN) and once more at the end" : "after each residual addition (post-LN)"). Blue lines are the residual connections (they leave the main path at the dot and are added in the “Add” box); yellow boxes are the LayerNorms.")])],
            tables: [TableSpec(caption: "Parameters per component, counted from the tensors in model.safetensors.",
                               header: ["component", "parameters", "share"], rows: rows)],
            findings: [
                Finding("The checkpoint holds \(Analysis.grouped(total)) parameters; the config predicts \(Analysis.grouped(fromConfig)) for the parts attnviz runs, and the loaded weights have \(Analysis.grouped(used))" + (fromConfig == used ? " — they agree." : " — they differ.")),
                "Embedding tables are \(percent: "embedding_share", embeddingShare) of all parameters; each of the \("layers", m.layers) blocks adds \(Analysis.grouped(perLayer)).",
            ], values: [("parameters_checkpoint", .number(Double(total))), ("parameters_from_config", .number(Double(fromConfig))),
                        ("parameters_loaded", .number(Double(used))), ("parameters_per_layer", .number(Double(perLayer)))
            ])
    }

    /// The diagram's boxes, bottom to top, and the ones that repeat per layer.
    static func boxes(_ m: ModelInfo, tokens n: Int) -> ([BlockDiagram.Box], ClosedRange<Int>) {
        let d = m.dModel
        let input = BlockDiagram.Box(title: "Input: \(n) tokens", detail: "ids from a \(m.vocabSize)-entry vocabulary", color: .white)
        let embeddingParts = ["token", "\(m.positions.rawValue) position"] + (m.typeVocabSize > 0 ? ["segment"] : [])
        let embeddings = BlockDiagram.Box(
            title: "Embeddings",
            detail: embeddingParts.joined(separator: " + ") + (m.architecture == .encoder ? ", LayerNorm" : ""),
            color: RGB(hex: 0xE8F1FA))
        let causal = m.architecture != .encoder
        let attentionTitle = causal ? "Masked multi-head self-attention" : "Multi-head self-attention"
        let attentionDetail = "\(m.heads) heads × \(m.headDim) dims" + (causal ? ", causal mask" : " (Q, K, V, O: \(d)×\(d))")
        let ffnDetail = "\(d) → \(m.dFF) → \(d), \(m.activation)"
        // LayerNorm has a colour of its own, so where it sits (post-LN vs pre-LN) shows at a glance.
        let grey = RGB(hex: 0xF1F1F1), orange = RGB(hex: 0xFCE9D9), green = RGB(hex: 0xE2F2EA), yellow = RGB(hex: 0xFFF3C4)
        var boxes = [input, embeddings]
        let first = boxes.count
        switch m.normPlacement {
        case .post:
            boxes += [
                .init(title: attentionTitle, detail: attentionDetail, color: orange, residualAround: true),
                .init(title: "Add", detail: "x + Attention(x)", color: grey),
                .init(title: "LayerNorm", detail: "after the addition (post-LN), eps \(m.layerNormEps)", color: yellow),
                .init(title: "Feed-forward", detail: ffnDetail, color: green, residualAround: true),
                .init(title: "Add", detail: "x + FFN(x)", color: grey),
                .init(title: "LayerNorm", detail: "after the addition (post-LN)", color: yellow),
            ]
        case .pre:
            boxes += [
                .init(title: "LayerNorm", detail: "before attention (pre-LN), eps \(m.layerNormEps)", color: yellow, residualAround: true, residualSkip: 2),
                .init(title: attentionTitle, detail: attentionDetail, color: orange),
                .init(title: "Add", detail: "x + Attention(LN(x))", color: grey),
                .init(title: "LayerNorm", detail: "before the feed-forward (pre-LN)", color: yellow, residualAround: true, residualSkip: 2),
                .init(title: "Feed-forward", detail: ffnDetail, color: green),
                .init(title: "Add", detail: "x + FFN(LN(x))", color: grey),
            ]
        }
        let repeated = first...(boxes.count - 1)
        if m.normPlacement == .pre { boxes.append(.init(title: "Final LayerNorm", detail: "after the last block", color: yellow)) }
        switch m.architecture {
        case .encoder:
            boxes.append(.init(title: "Output", detail: "\(n) contextual vectors of \(d)", color: .white))
        case .decoder:
            boxes.append(.init(title: "Output head (tied to the token embeddings)", detail: "\(n) next-token distributions over \(m.vocabSize) ids", color: .white))
        case .encoderDecoder:
            boxes.append(.init(title: "Decoder: \(m.decoderLayers) layers", detail: "masked self-attention, cross-attention to this output, FFN", color: orange))
            boxes.append(.init(title: "Output head (tied to the token embeddings)", detail: "next-token distributions over \(m.vocabSize) ids", color: .white))
        }
        return (boxes, repeated)
    }
}
