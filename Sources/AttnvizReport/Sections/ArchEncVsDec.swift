import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// arch-enc-vs-dec: the encoder block (bidirectional self-attention + FFN) vs the decoder block
/// (causal self-attention + cross-attention + FFN), drawn from the companion encoder–decoder's
/// config and run, with the main model placed among the encoder / decoder / seq2seq lines.
struct ArchEncVsDecSection: Section {
    let id = "arch-enc-vs-dec"

    func experiments(_ s: Study) -> [Experiment] { [CompanionAnalysis.run(s)] }

    /// The mean share of later keys under uniform attention over n keys: (n − 1) / (2n).
    static func uniformLater(_ n: Int) -> Double { n > 0 ? Double(n - 1) / Double(2 * n) : 0 }

    /// Sum of the weight on later keys (mean over heads and queries), over the self-attention
    /// records of one kind; nil when there is none.
    static func later(_ layers: [LayerRecord], kind: AttentionKind) -> (mean: Double, max: Double, layers: Int)? {
        var total = 0.0, largest = 0.0, rows = 0, count = 0
        for l in layers {
            guard let a = l.attention.first(where: { $0.kind == kind }), a.weights.shape.count == 3, a.weights.shape[1] == a.weights.shape[2] else { continue }
            let f = DecoderAnalysis.futureWeight(a.weights)
            total += f.mean * Double(f.rows); rows += f.rows; largest = max(largest, f.max); count += 1
        }
        return count == 0 ? nil : (rows == 0 ? 0 : total / Double(rows), largest, count)
    }

    /// The parameters of one layer of a stack, from the checkpoint's per-component counts ("encoder …", "decoder …").
    static func perLayer(_ m: ModelInfo, stack: String, layers: Int) -> [(component: String, count: Int)] {
        m.parameterCounts.filter { $0.component.hasPrefix(stack + " ") }.map { ($0.component, $0.count / max(layers, 1)) }
    }

    /// The main model's share of weight on later positions, beside the uniform baseline (encoders).
    static func mainLater(_ s: Study) -> Finding? {
        let main = s.trace.model
        guard let m = later(s.trace.layers, kind: main.architecture == .decoder ? .decoderSelf : .encoderSelf) else { return nil }
        let which = main.architecture == .decoder ? "causal" : "bidirectional"
        let baseline = main.architecture == .decoder ? "" : String(format: " (evenly spread attention: %.1f%%)", 100 * uniformLater(s.n))
        return "The main model \(main.name) (\(which)) gives later positions on average \(percent: "main_later_weight_mean", m.mean, digits: 2) of a query's weight over its \(m.layers) layers and \(main.heads) heads on the \(s.n) tokens of this sentence\(baseline)."
    }

    /// A head-averaged layer-0 self-attention map with the report's fixed 0–1 range.
    static func selfMap(_ a: AttentionRecord, labels: [String], title: String) -> Heatmap? {
        guard a.weights.shape == [a.heads, labels.count, labels.count], a.heads > 0 else { return nil }
        var map = Heatmap(title: title, values: DecoderAnalysis.headMean(a), rows: labels.count, cols: labels.count, rowLabels: labels, colLabels: labels,
                          xLabel: "key token (attended to)", yLabel: "query token (attending)", colorbarLabel: "attention weight", colormap: .viridis, range: ColorRange(0, 1))
        map.maskLabel = "future (causal mask, −∞)"
        return map
    }

    /// The main model's layer-0 self-attention (full or causal) as a figure.
    func mainMap(_ s: Study) -> FigureSpec? {
        guard let a = s.trace.layers.first?.selfAttention,
              let map = Self.selfMap(a, labels: s.labels, title: "Main model \(s.trace.model.name), layer 0 self-attention, mean of \(a.heads) heads") else { return nil }
        let kind = a.kind == .decoderSelf ? "causal: the upper triangle is masked" : "bidirectional: weight on both sides of the diagonal"
        return FigureSpec(file: Figures.file(id, "main-self"), figure: map,
                          caption: "The main model on the report's sentence (layer 0, heads averaged), \(kind). Colour range 0–1.")
    }

    /// A decoder-only companion (GPT-2): no encoder side to compare; its causal self-attention
    /// beside the main model's, and the share of weight on later positions in each.
    func decoderOnly(_ t: Trace, _ s: Study, answer: [String]) -> SectionContent {
        var answer = answer
        answer.append(CompanionAnalysis.describe(t, s) + " This companion is decoder-only: it has no encoder and no cross-attention, so there is no encoder block of its own to set beside its decoder block (arch-overview draws its two-sub-layer block). Give an encoder–decoder with --decoder-model, e.g. the shipped models/reverse-words, to compare the two stacks of one model.")
        let (tokens, layers) = CompanionAnalysis.decoderSide(t)
        let labels = tokens.map(CompanionAnalysis.label)
        var figures: [FigureSpec] = []
        if let a = layers.first?.attention.first(where: { $0.kind == .decoderSelf }),
           let map = Self.selfMap(a, labels: labels, title: "Companion \(t.model.name) (decoder-only) layer 0 self-attention, mean of \(a.heads) heads") {
            figures.append(FigureSpec(file: Figures.file(id, "decoder-self"), figure: map,
                                      caption: "The decoder-only companion on this input (layer 0, heads averaged): everything above the diagonal is masked (the future), weights exactly 0. Colour range 0–1."))
        }
        if let f = mainMap(s) { figures.append(f) }
        var findings: [Finding] = []
        if let later = Self.later(layers, kind: .decoderSelf) {
            findings.append("In the decoder-only companion's self-attention (\(later.layers) layers × \(t.model.heads) heads, \(tokens.count) tokens) the weight on later positions averages \("decoder_later_weight_mean", later.mean, "%g") per query and the largest single weight on a later position is \("decoder_later_weight_max", later.max, "%g").")
        }
        if let f = Self.mainLater(s) { findings.append(f) }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], findings: findings)
    }

    func build(_ s: Study) throws -> SectionContent {
        let main = s.trace.model
        let mainSentence: String
        switch main.architecture {
        case .encoder: mainSentence = "The main model of this report, \(main.name), is an encoder only (a \(main.normPlacement.rawValue) BERT-style encoder, \(main.layers) blocks of the two-sub-layer kind): it reads the whole sentence at once and outputs one vector per token, and cannot generate text by itself."
        case .decoder: mainSentence = "The main model of this report, \(main.name), is decoder-only (a \(main.normPlacement.rawValue) GPT-style decoder, \(main.layers) blocks of causal self-attention and feed-forward, no cross-attention): it predicts each next token from the tokens before it."
        case .encoderDecoder: mainSentence = "The main model of this report, \(main.name), is an encoder–decoder (\(main.layers) encoder and \(main.decoderLayers) decoder blocks): both block types below."
        }
        var answer = [
            "An encoder block has two sub-layers, each inside a residual connection with a LayerNorm: multi-head self-attention that is bidirectional (every token attends to every token, before and after it) and a position-wise feed-forward network. A decoder block of an encoder–decoder has three: self-attention with a causal mask (a position sees only itself and the positions before it, because at generation time the later tokens do not exist yet), cross-attention whose queries come from the decoder and whose keys and values come from the encoder's output, and the feed-forward network. A decoder-only model (GPT) has no encoder to attend to, so its block drops cross-attention: causal self-attention and the feed-forward network, two sub-layers like the encoder's, but masked.",
            "The three lines of models follow. Encoder-only models (BERT and its descendants) read a whole text and give each token a vector that depends on both sides: classification, tagging, extractive question answering, retrieval and sentence embeddings; they are pre-trained by filling in masked tokens and do not generate. Decoder-only models (GPT) are trained to predict the next token and generate by appending their own outputs: open-ended text, and any task phrased as a continuation. Encoder–decoders (the original Transformer, Marian, T5, BART) map one sequence to another — translation, summarisation, or reversing the words of a sentence as the shipped companion does: the encoder reads the source bidirectionally once, the decoder writes the target left to right and consults the source through cross-attention at every layer. \(mainSentence)",
        ]
        let outcome = s.run(CompanionAnalysis.run(s))
        guard let t = outcome.trace, !t.decoderTokens.isEmpty else {
            return SectionContent(answer: answer, unavailable: outcome.reason ?? "the companion run has no decoder side")
        }
        if CompanionAnalysis.isDecoderOnly(t) { return decoderOnly(t, s, answer: answer) }
        answer.append(CompanionAnalysis.describe(t, s) + " Its encoder reads the text's characters; its decoder reads the start token and the task's gold output shifted right; for a reversal task the two maps below are over the same characters in a different order (plus </s> at the end of the source, and the start token, shown as <pad>, at the front of the decoder input: Marian models start decoding with the pad id).")
        let c = t.model, d = c.dModel

        // Two block diagrams from the companion's config.
        let orange = RGB(hex: 0xFCE9D9), grey = RGB(hex: 0xF1F1F1), yellow = RGB(hex: 0xFFF3C4), green = RGB(hex: 0xE2F2EA), blue = RGB(hex: 0xE8F1FA)
        let heads = "\(c.heads) heads × \(c.headDim) dims", ffn = "\(d) → \(c.dFF) → \(d), \(c.activation)"
        func addNorm(_ what: String) -> [BlockDiagram.Box] {
            [.init(title: "Add", detail: "x + \(what)", color: grey), .init(title: "LayerNorm", detail: "after the addition (\(c.normPlacement.rawValue))", color: yellow)]
        }
        let encoderBoxes: [BlockDiagram.Box] = [
            .init(title: "Source: \(t.tokens.count) character tokens", detail: "the text's characters and </s>", color: .white),
            .init(title: "Embeddings", detail: "token × √d_model + \(c.positions.rawValue) positions", color: blue),
            .init(title: "Self-attention, bidirectional", detail: "\(heads); no causal mask (padding only)", color: orange, residualAround: true),
        ] + addNorm("SelfAttention(x)") + [
            .init(title: "Feed-forward", detail: ffn, color: green, residualAround: true),
        ] + addNorm("FFN(x)") + [
            .init(title: "Encoder output", detail: "\(t.tokens.count) vectors of \(d): keys and values of every cross-attention", color: .white),
        ]
        let decoderBoxes: [BlockDiagram.Box] = [
            .init(title: "Decoder input: \(t.decoderTokens.count) tokens", detail: "start token + target shifted right", color: .white),
            .init(title: "Embeddings", detail: "token × √d_model + \(c.positions.rawValue) positions", color: blue),
            .init(title: "Masked self-attention, causal", detail: "\(heads); position i sees j ≤ i", color: orange, residualAround: true),
        ] + addNorm("SelfAttention(x)") + [
            .init(title: "Cross-attention", detail: "Q from this stream; K, V from the encoder output", color: orange, residualAround: true),
        ] + addNorm("CrossAttention(x, enc)") + [
            .init(title: "Feed-forward", detail: ffn, color: green, residualAround: true),
        ] + addNorm("FFN(x)") + [
            .init(title: "Output head (tied to the token embeddings)", detail: "next-character distributions over \(c.vocabSize) ids", color: .white),
        ]
        var figures = [
            FigureSpec(file: Figures.file(id, "encoder-block"), figure: BlockDiagram(title: "Companion encoder block: 2 sub-layers", boxes: encoderBoxes, repeated: 2...7, repeatLabel: "× \(c.layers) layers"),
                       caption: "The companion's encoder block, drawn from its config.json: bidirectional self-attention and the feed-forward network, each followed by add & LayerNorm (\(c.normPlacement.rawValue), as in the original Transformer)."),
            FigureSpec(file: Figures.file(id, "decoder-block"), figure: BlockDiagram(title: "Companion decoder block: 3 sub-layers", boxes: decoderBoxes, repeated: 2...10, repeatLabel: "× \(c.decoderLayers) layers"),
                       caption: "The companion's decoder block: causal self-attention, cross-attention to the encoder output, feed-forward — three sub-layers, each with add & LayerNorm. A GPT-style decoder-only block is this without the cross-attention sub-layer."),
        ]

        // The companion's first encoder and decoder self-attention, head-averaged, same range.
        let enc = t.layers(of: .encoder).first?.attention.first { $0.kind == .encoderSelf }
        let dec = t.layers(of: .decoder).first?.attention.first { $0.kind == .decoderSelf }
        let encLabels = t.tokens.map(CompanionAnalysis.label), decLabels = t.decoderTokens.map(CompanionAnalysis.label)
        for (a, labels, name, what) in [(enc, encLabels, "encoder", "every cell may be non-zero: each character attends to those before and after it"),
                                        (dec, decLabels, "decoder", "everything above the diagonal is masked (the future): weights exactly 0")] {
            guard let a, let map = Self.selfMap(a, labels: labels, title: "Companion \(name) layer 0 self-attention, mean of \(a.heads) heads") else { continue }
            figures.append(FigureSpec(file: Figures.file(id, "\(name)-self"), figure: map,
                                      caption: "The companion's \(name) self-attention on this input (layer 0, heads averaged): \(what). Same colour range 0–1 in both maps."))
        }
        // The main model's first layer, full or causal.
        if let f = mainMap(s) { figures.append(f) }

        // Parameters per layer of each stack.
        let encParts = Self.perLayer(c, stack: "encoder", layers: c.layers), decParts = Self.perLayer(c, stack: "decoder", layers: c.decoderLayers)
        let encLayer = encParts.reduce(0) { $0 + $1.count }, decLayer = decParts.reduce(0) { $0 + $1.count }
        var rows: [[String]] = encParts.map { ["encoder", $0.component, Analysis.grouped($0.count), Analysis.grouped($0.count * c.layers)] }
        rows += decParts.map { ["decoder", $0.component, Analysis.grouped($0.count), Analysis.grouped($0.count * c.decoderLayers)] }
        rows.append(["encoder", "one layer (2 sub-layers)", Analysis.grouped(encLayer), Analysis.grouped(encLayer * c.layers)])
        rows.append(["decoder", "one layer (3 sub-layers)", Analysis.grouped(decLayer), Analysis.grouped(decLayer * c.decoderLayers)])
        let table = TableSpec(caption: "The companion's parameters per stack and sub-layer, counted from its checkpoint (\(c.layers) encoder and \(c.decoderLayers) decoder layers, d_model \(d), d_ff \(c.dFF)).",
                              header: ["stack", "component", "per layer", "all layers"], rows: rows)

        var findings: [Finding] = []
        let cross = decParts.first { $0.component.contains("cross") }?.count ?? 0
        var params: Finding = "A companion decoder layer has \("decoder_layer_parameters", decLayer) parameters and an encoder layer \("encoder_layer_parameters", encLayer); the decoder's cross-attention alone has \("cross_attention_parameters_per_layer", cross) per layer (W_Q, W_K, W_V, W_O of \(d)×\(d) with biases)"
        params = params.appending(decLayer - encLayer == cross + 2 * d
            ? ", so the difference is exactly the cross-attention plus the third LayerNorm (2·d_model = \(2 * d))."
            : ".")
        findings.append(params)
        let encLater = Self.later(t.layers(of: .encoder), kind: .encoderSelf), decLater = Self.later(t.layers(of: .decoder), kind: .decoderSelf)
        if let decLater, let encLater {
            let share: Finding = "In the companion's decoder self-attention (\(decLater.layers) layers × \(c.decoderHeads) heads) the weight on later positions averages \("decoder_later_weight_mean", decLater.mean, "%g") per query and the largest single weight on a later position is \("decoder_later_weight_max", decLater.max, "%g"); in its encoder self-attention (\(encLater.layers) layers × \(c.heads) heads) a query gives on average \(percent: "encoder_later_weight_mean", encLater.mean) of its weight to later positions."
            findings.append(share.appending(
                decLater.max == 0 ? " The decoder's share is exactly 0: the mask removes the future, it is not learned." : "")
                .appending(" Attention spread evenly over all \(t.tokens.count) source tokens would give later positions \(String(format: "%.1f%%", 100 * Self.uniformLater(t.tokens.count))) on average (a query at position i has n − 1 − i later keys of n)."))
        }
        if let f = Self.mainLater(s) { findings.append(f) }
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], tables: [table], findings: findings)
    }
}
