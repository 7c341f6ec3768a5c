import AttnvizRender
import AttnvizTensor
import AttnvizTrace

/// bert-vs-elmo: ELMo's two one-directional LSTMs vs BERT's layers that see both sides; measured:
/// how each layer's attention splits between tokens to the left, the token itself and the right.
struct BertVsElmoSection: Section {
    let id = "bert-vs-elmo"

    func build(_ s: Study) throws -> SectionContent {
        let m = s.trace.model
        let causal = m.architecture == .decoder
        let answer = [
            "ELMo (Peters et al., 2018) builds contextual word vectors from two language models: a forward LSTM that reads the sentence left to right and predicts the next word, and a backward LSTM that reads right to left and predicts the previous one. At position i the forward stack has seen only the words up to i and the backward stack only the words from i on; the two halves are concatenated at the end, so the left and right context never meet inside the network. The downstream task then learns a weighted sum of ELMo's layers and uses it as features.",
            "BERT (Devlin et al., 2019) is “deeply bidirectional”: in every layer self-attention lets each position look at every other position, left and right, so both sides are combined from the first layer on. That is possible because BERT is not trained to predict the next word (which would let a position see its own answer) but to fill in masked words (MLM). It is also fine-tuned as a whole rather than used as frozen features. Both produce a different vector for a word in each context; they differ in how the context is combined.",
            causal
                ? "The loaded model, \(m.name), is a causal decoder: its attention masks every key to the right, so like ELMo's forward LSTM it sees only the left context — the measurement below shows a right share of exactly 0."
                : "The measurement below shows it for the loaded model: in each layer, how the attention of the sentence's tokens divides between tokens to their left, themselves, and tokens to their right.",
        ]
        var elmo = BlockDiagram(title: "ELMo (generic diagram): two one-directional language models", boxes: [
            .init(title: "Context-free token vectors", detail: "character CNN, the same for a word in every context", color: .white),
            .init(title: "Forward LSTM, 2 layers  |  backward LSTM, 2 layers", detail: "separate stacks: position i sees words 1…i  |  words i…n", color: RGB(hex: 0xDCEBF7)),
            .init(title: "Concatenate [h→ ; h←] per layer", detail: "left and right context meet only here", color: RGB(hex: 0xFCE9D9)),
            .init(title: "Task-weighted sum of the layers", detail: "used as features by the downstream model", color: .white),
        ], repeated: nil, repeatLabel: "")
        elmo.boxWidth = 480
        let bert = BlockDiagram(title: "BERT (generic diagram): every layer sees both sides", boxes: [
            .init(title: "Token + segment + position embeddings", detail: "context-free, one vector per token", color: .white),
            .init(title: "Transformer layer: self-attention + FFN", detail: "each position attends to all positions 1…n", color: RGB(hex: 0xFCE9D9)),
            .init(title: "Contextual token vectors", detail: "fine-tuned together with the task head", color: .white),
        ], repeated: 1...1, repeatLabel: "× L layers (\(m.name): \(m.layers))")
        var figures = [
            FigureSpec(file: Figures.file(id, "elmo"), figure: elmo, caption: "Generic diagram, not from the run: ELMo's two directions are trained and run separately and joined at the top."),
            FigureSpec(file: Figures.file(id, "bert"), figure: bert, caption: "Generic diagram, not from the run: in BERT the left and right context are mixed in every layer."),
        ]
        let specials = Set(s.trace.tokens.indices.filter { s.trace.tokens[$0].isSpecial })
        let content = s.trace.tokens.indices.filter { !specials.contains($0) }
        let keys = Set(content)
        guard content.count > 1 else {
            return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)],
                                  unavailable: "the sentence has \(content.count) token\(content.count == 1 ? "" : "s") besides [CLS]/[SEP]: there is no left or right to measure")
        }
        var left: [Double] = [], me: [Double] = [], right: [Double] = [], excluded: [Double] = []
        for layer in s.trace.layers {
            guard let w = layer.selfAttention?.weights else { continue }
            let r = BlockAnalysis.directionShares(w, queries: content, keys: keys)
            left.append(r.left); me.append(r.selfShare); right.append(r.right); excluded.append(r.excluded)
        }
        let names = s.trace.layers.map { "L\($0.index)" }
        let specialNote = specials.isEmpty ? "all tokens" : "the \(content.count) tokens besides \(s.sinkTokens.name)"
        var bars = BarChart(title: "Where each layer's attention goes: left, self, right (mean over heads and queries)", categories: names,
                            series: [("left of the query", left.map { $0 * 100 }), ("the query itself", me.map { $0 * 100 }), ("right of the query", right.map { $0 * 100 })],
                            xLabel: "layer", yLabel: "% of attention (specials excluded)")
        bars.plotHeight = 240
        let m1 = content.count
        let uniform = Double(m1 - 1) / Double(2 * m1)
        figures.append(FigureSpec(file: Figures.file(id, "left-right"), figure: bars,
                                  caption: "Queries and keys: \(specialNote)" + (specials.isEmpty ? "" : "; the weight on \(s.sinkTokens.name) is left out and the rest renormalised, so the three bars of a layer sum to 100%") + ". " + (causal ? "The right share is 0 in every layer: the causal mask." : "Uniform attention would give \(Analysis.percent(uniform)) left and right each: the measured shares show how much each layer looks to either side.")))
        let lmin = (left.indices.min { left[$0] < left[$1] }) ?? 0, rmin = (right.indices.min { right[$0] < right[$1] }) ?? 0
        var findings: [Finding] = [
            "Averaged over heads and \(specialNote), layer \(s.trace.layers[lmin].index) puts the least weight on the left (\(percent: "left_share_min", left[lmin])) and layer \(s.trace.layers[rmin].index) the least on the right (\(percent: "right_share_min", right[rmin])); over all layers the split is \(percent: "left_share_mean", Analysis.mean(left)) left, \(percent: "self_share_mean", Analysis.mean(me)) self, \(percent: "right_share_mean", Analysis.mean(right)) right.",
        ]
        if !specials.isEmpty {
            findings.append("Before renormalising, \(s.sinkTokens.name) took \(percent: "special_share_mean", Analysis.mean(excluded)) of these queries' attention on average.")
        }
        findings.append(causal
            ? "Every layer's right share is \("right_share_max", right.max() ?? 0, "%g"): this decoder, like ELMo's forward LSTM, never sees the words after a position."
            : "Every layer looks to both sides: the smallest share in either direction is \(percent: "min_side_share", min(left.min() ?? 0, right.min() ?? 0)), where uniform attention over these \(m1) tokens would give \(percent: "uniform_side_share", uniform) to each side.")
        return SectionContent(
            answer: answer, groups: [FigureGroup(figures: figures)],
            tables: [TableSpec(caption: "Per layer: shares of attention on keys left of the query, on the query itself, and right of it (over \(specialNote), renormalised), and the weight that went to the excluded specials.",
                               header: ["layer", "left", "self", "right", "on specials (excluded)"],
                               rows: names.indices.map { [names[$0], Analysis.percent(left[$0]), Analysis.percent(me[$0]), Analysis.percent(right[$0]), Analysis.percent(excluded[$0])] })],
            findings: findings,
            values: names.indices.flatMap { [("left_share_\(names[$0])", FindingValue.number(left[$0])), ("right_share_\(names[$0])", .number(right[$0]))] })
    }
}
