import AttnvizRender
import AttnvizTrace

/// arch-overview: the loaded model drawn from its own config, with parameters per component.
struct ArchOverviewSection: Section {
    let id = "arch-overview"

    /// An encoder main model: the companion's blocks are drawn too (the decoder side it lacks).
    func experiments(_ s: Study) -> [Experiment] { s.trace.model.architecture == .encoder ? [CompanionAnalysis.run(s)] : [] }

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let d = m.dModel, ff = m.dFF
        let (boxes, repeated) = Self.boxes(m, tokens: s.n, scale: s.trace.embeddings?.wordScale ?? 1)
        let stackName = m.architecture == .encoderDecoder ? "encoder–decoder, encoder stack" : m.architecture.rawValue
        let diagram = BlockDiagram(title: "\(m.name): \(stackName), \(m.layers) layers, d_model \(d), \(m.normPlacement.rawValue)",
                                   boxes: boxes, repeated: repeated, repeatLabel: "× \(m.layers) layers")
        var figures = [FigureSpec(
            file: Figures.file(id, "block-diagram"), figure: diagram,
            caption: "The loaded model as read from its config.json: \(m.layers) identical \(m.architecture == .encoderDecoder ? "encoder " : "")blocks of width \(d) with \(m.heads) heads and a \(ff)-wide feed-forward layer, LayerNorm \(m.normPlacement == .pre ? "before each sub-layer (pre-LN) and once more at the end" : "after each residual addition (post-LN)"). Blue lines are the residual connections (they leave the main path at the dot and are added in the “Add” box); yellow boxes are the LayerNorms.")]
        var extra: [String] = []
        if let full = s.encoderDecoder {
            figures.append(FigureSpec(file: Figures.file(id, "decoder-block"), figure: Self.decoderDiagram(full, label: full.model.name),
                                      caption: Self.decoderCaption(full, whose: "The loaded model's")))
            extra.append("\(m.name) is an encoder–decoder in the original layout (post-LN, sinusoidal positions, token embeddings × √d_model): the first diagram is its encoder stack, the second its decoder stack, whose every block has three sub-layers. The cross-attention's keys and values are the encoder's output.")
        } else if m.architecture == .encoder {
            let outcome = s.run(CompanionAnalysis.run(s))
            if let t = outcome.trace {
                let c = t.model
                if c.architecture == .encoderDecoder {
                    let (eb, er) = Self.boxes(c, tokens: t.tokens.count, scale: t.embeddings?.wordScale ?? 1)
                    figures.append(FigureSpec(file: Figures.file(id, "companion-encoder"), figure: BlockDiagram(
                        title: "Companion \(c.name): encoder stack, \(c.layers) layers, d_model \(c.dModel), \(c.normPlacement.rawValue)", boxes: eb, repeated: er, repeatLabel: "× \(c.layers) layers"),
                        caption: "The companion encoder–decoder's encoder (not the main model), drawn from its config.json: \(c.layers) blocks of two sub-layers, as in the main model, on the \(t.tokens.count) source tokens it read\(t.tokens.last?.text == "</s>" ? " (\(t.tokens.count - 1) characters + </s>)" : "")."))
                    figures.append(FigureSpec(file: Figures.file(id, "companion-decoder"), figure: Self.decoderDiagram(t, label: "Companion \(c.name)"),
                                              caption: Self.decoderCaption(t, whose: "The companion's")))
                    extra.append("\(m.name) has no decoder, so the second and third diagrams show the companion encoder–decoder \(c.name) that the decoder and training sections use: its encoder stack beside its decoder stack, whose every block has three sub-layers.")
                } else {
                    let (db, dr) = Self.boxes(c, tokens: t.tokens.count, scale: 1)
                    figures.append(FigureSpec(file: Figures.file(id, "companion-decoder"), figure: BlockDiagram(
                        title: "Companion \(c.name): decoder only, \(c.layers) layers, d_model \(c.dModel), \(c.normPlacement.rawValue)", boxes: db, repeated: dr, repeatLabel: "× \(c.layers) layers"),
                        caption: "The companion decoder (not the main model), drawn from its config.json: \(c.layers) decoder-only blocks with two sub-layers each (masked self-attention and feed-forward; no encoder, so no cross-attention), LayerNorm \(c.normPlacement == .pre ? "before each sub-layer (pre-LN) and once more at the end" : "after each residual addition")."))
                    extra.append("\(m.name) has no decoder, so the second diagram shows the companion decoder \(c.name) that the decoder sections use: a decoder-only model, whose blocks have two sub-layers (no cross-attention).")
                }
            } else if let reason = outcome.reason {
                extra.append("\(m.name) has no decoder; the companion model that would show one is not available (\(reason)).")
            }
        }

        let total = m.totalParameters
        // The same counts from the config alone, as a check on the checkpoint.
        let attention = 4 * (d * d + d), norm = 2 * d, ffn = (d * ff + ff) + (ff * d + d)
        let perLayer = attention + ffn + 2 * norm
        let positions = m.positions == .learned ? m.maxPositions * d : 0
        let decoderPerLayer = perLayer + attention + norm  // encoder–decoder: + cross-attention and its LayerNorm
        let fromConfig: Int
        switch m.architecture {
        case .encoder: fromConfig = m.vocabSize * d + positions + m.typeVocabSize * d + norm + m.layers * perLayer  // + embedding LN
        case .decoder: fromConfig = m.vocabSize * d + positions + m.layers * perLayer + norm                       // + final ln_f
        case .encoderDecoder:  // decoder layers add cross-attention and its norm; the output bias has one entry per token
            fromConfig = m.vocabSize * d + positions + m.layers * perLayer + m.decoderLayers * decoderPerLayer + m.vocabSize
        }
        let used = m.parameterCounts.filter { !$0.component.hasPrefix("not used") }.reduce(0) { $0 + $1.count }
        let rows = m.parameterCounts.map { [$0.component, Analysis.grouped($0.count), Analysis.percent(Double($0.count) / Double(max(total, 1)))] }
            + [["total in the checkpoint", Analysis.grouped(total), "100%"]]
        let embeddingShare = Double(m.parameterCounts.filter { $0.component.contains("embeddings") }.reduce(0) { $0 + $1.count }) / Double(max(total, 1))
        return SectionContent(
            answer: [
                "A Transformer turns a sequence of token vectors into a sequence of context-aware vectors by stacking identical blocks. An encoder block has two sub-layers: self-attention, where every position mixes in information from the positions it finds relevant, and a position-wise feed-forward network that transforms each vector on its own. A decoder block of the original encoder–decoder has three: masked self-attention, cross-attention to the encoder's output, and the feed-forward network; a decoder-only model such as GPT-2 drops the cross-attention and keeps two. Every sub-layer sits on a residual connection with a LayerNorm — after the addition in the original layout and BERT (post-LN), before the sub-layer in GPT-2 and most newer models (pre-LN).",
                "The encoder (BERT's side) lets every token see every other token and is used to understand text. The decoder (GPT's side) adds a causal mask so a position only sees earlier ones, which lets it generate text one token at a time; in the original encoder–decoder layout the decoder also attends to the encoder's output through cross-attention.",
                "The diagrams and the table below are drawn from the loaded checkpoints, not from a textbook figure.",
            ] + extra,
            groups: [FigureGroup(figures: figures)],
            tables: [TableSpec(caption: "Parameters per component, counted from the tensors in model.safetensors.",
                               header: ["component", "parameters", "share"], rows: rows)],
            findings: [
                Finding("The checkpoint holds \(Analysis.grouped(total)) parameters; the config predicts \(Analysis.grouped(fromConfig)) for the parts attnviz runs, and the loaded weights have \(Analysis.grouped(used))" + (fromConfig == used ? " — they agree." : " — they differ.")),
                m.architecture == .encoderDecoder
                    ? "Embedding tables are \(percent: "embedding_share", embeddingShare) of all parameters; each of the \("layers", m.layers) encoder blocks adds \(Analysis.grouped(perLayer)) and each of the \("decoder_layers", m.decoderLayers) decoder blocks \(Analysis.grouped(decoderPerLayer)) (the same two sub-layers plus cross-attention and its LayerNorm)."
                    : "Embedding tables are \(percent: "embedding_share", embeddingShare) of all parameters; each of the \("layers", m.layers) blocks adds \(Analysis.grouped(perLayer)).",
            ], values: [("parameters_checkpoint", .number(Double(total))), ("parameters_from_config", .number(Double(fromConfig))),
                        ("parameters_loaded", .number(Double(used))), ("parameters_per_layer", .number(Double(perLayer)))]
                + (m.architecture == .encoderDecoder ? [("parameters_per_decoder_layer", .number(Double(decoderPerLayer)))] : []))
    }

    /// The diagram's boxes, bottom to top, and the ones that repeat per layer.
    static func boxes(_ m: ModelInfo, tokens n: Int, scale: Float = 1) -> ([BlockDiagram.Box], ClosedRange<Int>) {
        let d = m.dModel
        let input = BlockDiagram.Box(title: "Input: \(n) tokens", detail: "ids from a \(m.vocabSize)-entry vocabulary", color: .white)
        let embeddingParts = [scale == 1 ? "token" : "token × √\(d)", "\(m.positions.rawValue) position"] + (m.typeVocabSize > 0 ? ["segment"] : [])
        let embeddings = BlockDiagram.Box(
            title: "Embeddings",
            detail: embeddingParts.joined(separator: " + ") + (m.architecture == .encoder ? ", LayerNorm" : ""),
            color: RGB(hex: 0xE8F1FA))
        let causal = m.architecture == .decoder
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
            boxes.append(.init(title: "Encoder output: \(n) vectors of \(d)", detail: "keys and values of every decoder layer's cross-attention", color: .white))
        }
        return (boxes, repeated)
    }

    /// An encoder–decoder's decoder stack (post-LN or pre-LN), bottom to top: three sub-layers per block.
    static func decoderDiagram(_ t: Trace, label: String) -> BlockDiagram {
        let m = t.model, d = m.dModel, nd = t.decoderTokens.count, ns = t.tokens.count
        let heads = m.decoderHeads, hd = m.dModel / max(m.decoderHeads, 1)
        let grey = RGB(hex: 0xF1F1F1), orange = RGB(hex: 0xFCE9D9), purple = RGB(hex: 0xEDE4F6), green = RGB(hex: 0xE2F2EA), yellow = RGB(hex: 0xFFF3C4)
        let scale = t.decoderEmbeddings?.wordScale ?? 1
        var boxes: [BlockDiagram.Box] = [
            .init(title: "Decoder input: \(nd) tokens", detail: "start token + target shifted right (teacher forcing)", color: .white),
            .init(title: "Embeddings (shared with the encoder)", detail: "\(scale == 1 ? "token" : "token × √\(d)") + \(m.positions.rawValue) position", color: RGB(hex: 0xE8F1FA)),
        ]
        let first = boxes.count
        let selfAttention = BlockDiagram.Box(title: "Masked multi-head self-attention", detail: "\(heads) heads × \(hd) dims, causal mask", color: orange, residualAround: m.normPlacement == .post)
        let cross = BlockDiagram.Box(title: "Cross-attention over the encoder output", detail: "Q from the decoder; K, V from the \(ns) encoder vectors", color: purple, residualAround: m.normPlacement == .post)
        let ffn = BlockDiagram.Box(title: "Feed-forward", detail: "\(d) → \(m.dFF) → \(d), \(m.activation)", color: green, residualAround: m.normPlacement == .post)
        switch m.normPlacement {
        case .post:
            boxes += [selfAttention, .init(title: "Add", detail: "x + SelfAttention(x)", color: grey), .init(title: "LayerNorm", detail: "after the addition (post-LN)", color: yellow),
                      cross, .init(title: "Add", detail: "x + CrossAttention(x, encoder)", color: grey), .init(title: "LayerNorm", detail: "after the addition (post-LN)", color: yellow),
                      ffn, .init(title: "Add", detail: "x + FFN(x)", color: grey), .init(title: "LayerNorm", detail: "after the addition (post-LN)", color: yellow)]
        case .pre:
            for (box, name) in [(selfAttention, "SelfAttention"), (cross, "CrossAttention"), (ffn, "FFN")] {
                boxes += [.init(title: "LayerNorm", detail: "before the sub-layer (pre-LN)", color: yellow, residualAround: true, residualSkip: 2), box,
                          .init(title: "Add", detail: "x + \(name)(LN(x))", color: grey)]
            }
        }
        let repeated = first...(boxes.count - 1)
        if m.normPlacement == .pre { boxes.append(.init(title: "Final LayerNorm", detail: "after the last block", color: yellow)) }
        boxes.append(.init(title: "Output head (tied to the token embeddings)", detail: "\(nd) next-token distributions over \(m.vocabSize) ids", color: .white))
        return BlockDiagram(title: "\(label): decoder stack, \(m.decoderLayers) layers, \(m.normPlacement.rawValue)", boxes: boxes, repeated: repeated,
                            repeatLabel: "× \(m.decoderLayers) layers")
    }

    static func decoderCaption(_ t: Trace, whose: String) -> String {
        let m = t.model
        return "\(whose) decoder stack, drawn from its config.json: \(m.decoderLayers) blocks, each with three sub-layers — masked (causal) self-attention over the \(t.decoderTokens.count) decoder inputs, cross-attention whose keys and values are the \(t.tokens.count) encoder output vectors, and the feed-forward network — each on a residual connection with a LayerNorm \(m.normPlacement == .post ? "after the addition (post-LN)" : "before the sub-layer (pre-LN)"). The purple box is the sub-layer an encoder block does not have."
    }
}
