import AttnvizTrace
import Foundation

/// The companion encoder–decoder (render --decoder-model) as the decoder and training sections
/// see it: its config (from the trace's config.json), its input, and the training formulas.
enum CompanionAnalysis {
    /// The experiment every companion section shares: the teacher-forced pass on the user's text.
    static func run(_ s: Study) -> Experiment { .companion(text: s.text, changeLast: false) }

    /// The training facts config.json records (attnviz block), with the Vaswani et al. defaults
    /// where a key is missing.
    struct Config {
        var dModel: Int, layers: Int, decoderLayers: Int, heads: Int, dFF: Int, vocab: Int
        var warmup: Double, factor: Double, labelSmoothing: Double, dropout: Double, attentionDropout: Double
        var batchSize: Int, steps: Int, maxCharacters: Int, task: String, optimizer: String
    }

    static func config(_ m: ModelInfo) -> Config {
        let json = (try? JSONSerialization.jsonObject(with: Data(m.configJSON.utf8))) as? [String: Any] ?? [:]
        let a = json["attnviz"] as? [String: Any] ?? [:]
        func d(_ k: String, _ fallback: Double) -> Double { (a[k] as? NSNumber)?.doubleValue ?? fallback }
        func i(_ k: String, _ fallback: Int) -> Int { (a[k] as? NSNumber)?.intValue ?? fallback }
        return Config(dModel: m.dModel, layers: m.layers, decoderLayers: m.decoderLayers, heads: m.heads, dFF: m.dFF, vocab: m.vocabSize,
                      warmup: d("warmup", 4000), factor: d("lr_factor", 1), labelSmoothing: d("label_smoothing", 0.1),
                      dropout: d("dropout", 0.1), attentionDropout: d("attention_dropout", 0.1),
                      batchSize: i("batch_size", 0), steps: i("steps", 0), maxCharacters: i("max_characters", 0),
                      task: a["task"] as? String ?? "?", optimizer: a["optimizer"] as? String ?? "not recorded")
    }

    /// lr = factor · d^-0.5 · min(step^-0.5, step · warmup^-1.5) (Vaswani et al. 2017, eq. 3); step ≥ 1.
    static func learningRate(step: Double, dModel: Int, warmup: Double, factor: Double) -> Double {
        let s = max(step, 1), w = max(warmup, 1)
        return factor / Double(max(dModel, 1)).squareRoot() * min(1 / s.squareRoot(), s * pow(w, -1.5))
    }

    /// PyTorch's label smoothing target: q = (1 − ε)·onehot(target) + ε/V.
    static func smoothed(target: Int, vocab: Int, epsilon: Double) -> [Double] {
        (0..<max(vocab, 0)).map { (($0 == target) ? 1 - epsilon : 0) + epsilon / Double(vocab) }
    }

    /// A character token as an axis label (a space made visible).
    static func label(_ t: Token) -> String { t.text == " " ? "␣" : t.text }

    /// The source text the companion read (its characters without </s>).
    /// Characters outside its vocabulary (<unk>) show as U+FFFD.
    static func source(_ t: Trace) -> String {
        t.tokens.filter { !$0.isSpecial || $0.text == "<unk>" }.map { $0.text == "<unk>" ? "\u{FFFD}" : $0.text }.joined()
    }

    /// One sentence: which model, which input, and whether (and where) it was cut.
    static func describe(_ t: Trace, _ s: Study) -> String {
        let name = t.model.name, src = source(t)
        let unknown = t.tokens.filter { $0.text == "<unk>" }.count
        let unk = unknown == 0 ? "" : " \(unknown) of its \(src.unicodeScalars.count) characters are outside its printable-ASCII vocabulary and reach it only as <unk> (shown as \u{FFFD}), so its output on them means little."
        let pair = s.pair == nil ? "" : " It reads only the first text of the pair."
        let cut = t.truncatedTokens > 0
            ? " The input was longer than the companion's \(config(t.model).maxCharacters) characters, so it was cut at a word boundary after \(src.unicodeScalars.count) characters (\(t.truncatedTokens) characters dropped)."
            : " The whole input fits the companion's \(config(t.model).maxCharacters) characters."
        return "Companion model: \(name) (attnviz's encoder–decoder, task \(config(t.model).task), \(t.model.layers)+\(t.model.decoderLayers) layers, d_model \(t.model.dModel)), run teacher-forced on “\(src)”.\(cut)\(unk)\(pair)"
    }
}
