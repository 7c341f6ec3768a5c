import AttnvizRender
import AttnvizTensor
import AttnvizTrace
import Foundation

/// train-label-smoothing: the smoothed target of one token of the companion's target, with the
/// companion's ε, and the companion's hyperparameters beside the base Transformer's.
struct TrainLabelSmoothingSection: Section {
    let id = "train-label-smoothing"

    func experiments(_ s: Study) -> [Experiment] { [CompanionAnalysis.run(s)] }

    func build(_ s: Study) throws -> SectionContent {
        var answer = [
            "Label smoothing trains against a softened target instead of a one-hot vector: in PyTorch's definition (CrossEntropyLoss(label_smoothing: ε)) the target is q = (1 − ε)·onehot(y) + ε/V over the V vocabulary entries, so the correct token gets 1 − ε + ε/V and every other token ε/V. The model is penalised for becoming certain; Vaswani et al. report that ε = 0.1 hurts perplexity but improves accuracy and BLEU.",
            "The other hyperparameters of the base Transformer are N = 6 layers per stack, d_model = 512, d_ff = 2048, h = 8 heads (d_k = 64), dropout 0.1 and the warmup schedule of train-lr.",
        ]
        let outcome = s.run(CompanionAnalysis.run(s))
        answer[1] += " " + CompanionAnalysis.whyCompanion(s, outcome.trace, lacks: "does not record its training set-up in config.json")
        // The token position 0 must predict: the first gold output character (encoder–decoder) or the
        // text's second token (GPT-2, where decoderTokens are the input itself).
        guard let t = outcome.trace, let target = CompanionAnalysis.decoderSide(t).tokens.dropFirst().first ?? t.tokens.last else {
            return SectionContent(answer: answer, unavailable: outcome.reason ?? "the companion run has no target token")
        }
        answer.append(CompanionAnalysis.describe(t, s))
        let c = CompanionAnalysis.config(t.model)
        let eps = c.labelSmoothing, V = max(c.vocab, 1)
        let q = CompanionAnalysis.smoothed(target: target.id, vocab: V, epsilon: eps)
        let sum = q.reduce(0, +)
        // The bars: the target and the tokens the model itself ranks highest at that position.
        var others: [Int] = []
        if let logits = t.logits, logits.shape.count == 2, logits.shape[0] > 0, logits.shape[1] == V {
            others = Array(logits.data[0..<V].enumerated().sorted { $0.element > $1.element }.map(\.offset).filter { $0 != target.id }.prefix(6))
        } else {
            others = Array((0..<V).filter { $0 != target.id }.prefix(6))
        }
        let ids = [target.id] + others
        var known: [Int: String] = [:]
        for tok in t.tokens + t.decoderTokens { known[tok.id] = CompanionAnalysis.label(tok) }
        let names = ids.map { id in id == target.id ? "“\(CompanionAnalysis.label(target))” (target)" : known[id].map { "“\($0)”" } ?? "id \(id)" }
        let what = CompanionAnalysis.isDecoderOnly(t) ? "first predicted token" : "first output character"
        let chart = BarChart(title: "Target for the \(what) (ε = \(Chrome.format(eps))\(c.recorded ? "" : ", the paper's value"))", categories: names, series: [
            (name: "one-hot", values: ids.map { $0 == target.id ? 1 : 0 }),
            (name: "smoothed", values: ids.map { q.indices.contains($0) ? q[$0] : 0 }),
        ], xLabel: "vocabulary entry", yLabel: "target probability")
        let zoom = BarChart(title: "The same, other entries only (zoomed)", categories: Array(names.dropFirst()), series: [
            (name: "one-hot", values: others.map { _ in 0 }),
            (name: "smoothed", values: others.map { q.indices.contains($0) ? q[$0] : 0 }),
        ], xLabel: "vocabulary entry", yLabel: "target probability")
        let qt = q.indices.contains(target.id) ? q[target.id] : 0
        let figures = [
            FigureSpec(file: Figures.file(id, "target"), figure: chart,
                       caption: (CompanionAnalysis.isDecoderOnly(t)
                           ? "Position 0 of the companion must predict the text's next token, “\(CompanionAnalysis.label(target))”; its config records no label smoothing, so the paper's ε is used."
                           : "The first character of the companion's gold output is “\(CompanionAnalysis.label(target))”.") + " Smoothing lowers its target from 1 to \(String(format: "%.4f", qt)) (V = \(V) entries); the whole vector sums to \(String(format: "%.6f", sum))."),
            FigureSpec(file: Figures.file(id, "others"), figure: zoom,
                       caption: "Zoomed on six other entries (the ones the model ranks next at that position): one-hot gives them 0, smoothing \(String(format: "%.5f", eps / Double(V))) each, as it gives every one of the \(V - 1) non-target entries."),
        ]
        let findings: [Finding] = [
            "With ε = \("epsilon", eps, "%.2f")\(c.recorded ? "" : " (the paper's value; the companion records none)") over V = \("vocab_size", V) entries the target token gets \("target_probability", q.indices.contains(target.id) ? q[target.id] : 0, "%.5f"), every other entry \("other_probability", eps / Double(V), "%.6f"), and the smoothed vector sums to 1 within \("sum_deviation", abs(sum - 1), "%.1e").",
        ]
        func row(_ name: String, _ base: String, _ mine: String) -> [String] { [name, base, mine] }
        let table = TableSpec(caption: "Hyperparameters: the base Transformer (Vaswani et al. 2017, table 3) and the companion \(t.model.name), from its config.json.",
                              header: ["hyperparameter", "base Transformer", t.model.name], rows: [
            row("layers (encoder + decoder)", "6 + 6", "\(c.layers) + \(c.decoderLayers)"),
            row("d_model", "512", "\(c.dModel)"),
            row("d_ff", "2048", "\(c.dFF)"),
            row("heads h (d_k)", "8 (64)", "\(c.heads) (\(c.dModel / max(c.heads, 1)))"),
            row(CompanionAnalysis.isDecoderOnly(t) ? "dropout: resid_pdrop (attn_pdrop)" : "dropout (attention dropout)", "0.1", "\(Chrome.format(c.dropout)) (\(Chrome.format(c.attentionDropout)))"),
            row("label smoothing ε", "0.1", c.recorded ? Chrome.format(c.labelSmoothing) : "not recorded"),
            row("warmup steps", "4000", c.recorded ? "\(Int(c.warmup))" : "not recorded"),
            row("training steps", "100000", c.recorded ? "\(c.steps)" : "not recorded"),
            row("batch", "≈25000 source + 25000 target tokens", c.recorded ? "\(c.batchSize) sentences" : "not recorded"),
            row("vocabulary", "37000 shared BPE", CompanionAnalysis.isDecoderOnly(t) ? "\(c.vocab) byte-level BPE tokens" : "\(c.vocab) ids (characters and special tokens)"),
            row("optimizer", "Adam(beta1 0.9, beta2 0.98, eps 1e-9)", c.optimizer.components(separatedBy: ", lr").first ?? c.optimizer),
        ])
        return SectionContent(answer: answer, groups: [FigureGroup(figures: figures)], tables: [table], findings: findings)
    }
}
