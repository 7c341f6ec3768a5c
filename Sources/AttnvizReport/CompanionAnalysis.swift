import AttnvizTrace
import Foundation

/// The companion (render --decoder-model) as the decoder and training sections see it: its config
/// (from the trace's config.json), its input, and the training formulas.
///
/// Two kinds of companion trace (Companion.run): an attnviz encoder–decoder (tokens = source
/// characters, decoderTokens = teacher-forced decoder input, encoder and decoder layers with the
/// cross-attention in the decoder layers), or a decoder-only GPT-2 (tokens = decoderTokens = the
/// text's BPE tokens, every layer a `.decoder` layer with one causal self-attention block, no
/// cross-attention, no encoder). `decoderSide` reads the decoder part of either.
enum CompanionAnalysis {
    /// The experiment every companion section shares: the teacher-forced pass on the user's text.
    static func run(_ s: Study) -> Experiment { .companion(text: s.text, changeLast: false) }

    /// The training facts config.json records (attnviz block), with the Vaswani et al. defaults
    /// where a key is missing.
    struct Config {
        var dModel: Int, layers: Int, decoderLayers: Int, heads: Int, dFF: Int, vocab: Int
        var warmup: Double, factor: Double, labelSmoothing: Double, dropout: Double, attentionDropout: Double
        var batchSize: Int, steps: Int, maxCharacters: Int, task: String, optimizer: String
        /// config.json has attnviz's training block (else the training values are the paper's defaults,
        /// not this model's: a GPT-2 config records none of them).
        var recorded = true
    }

    /// A decoder-only companion (GPT-2): no encoder, no cross-attention, no recorded training set-up.
    static func isDecoderOnly(_ t: Trace) -> Bool { t.model.architecture == .decoder }

    /// The decoder side of a companion trace of either kind: its input tokens and its decoder-stack layers
    /// (encoder–decoder: masked self-attention + cross-attention per layer; GPT-2: masked self-attention).
    static func decoderSide(_ t: Trace) -> (tokens: [Token], layers: [LayerRecord]) {
        (t.decoderTokens.isEmpty ? t.tokens : t.decoderTokens, t.layers(of: .decoder))
    }

    /// The text a companion read: its characters (encoder–decoder; <unk> as U+FFFD) or its byte-level
    /// BPE tokens decoded back to UTF-8 (GPT-2).
    static func inputText(_ t: Trace) -> String { isDecoderOnly(t) ? ByteLevelText.decode(t.tokens.map(\.text)) : source(t) }

    static func config(_ m: ModelInfo) -> Config {
        let json = (try? JSONSerialization.jsonObject(with: Data(m.configJSON.utf8))) as? [String: Any] ?? [:]
        let a = json["attnviz"] as? [String: Any] ?? [:]
        func d(_ k: String, _ fallback: Double) -> Double { (a[k] as? NSNumber)?.doubleValue ?? fallback }
        func i(_ k: String, _ fallback: Int) -> Int { (a[k] as? NSNumber)?.intValue ?? fallback }
        if m.modelType == "gpt2" {  // GPT-2 records its dropout, nothing of its training schedule
            func g(_ k: String) -> Double { (json[k] as? NSNumber)?.doubleValue ?? 0.1 }
            return Config(dModel: m.dModel, layers: 0, decoderLayers: m.layers, heads: m.heads, dFF: m.dFF, vocab: m.vocabSize,
                          warmup: 4000, factor: 1, labelSmoothing: 0.1, dropout: g("resid_pdrop"), attentionDropout: g("attn_pdrop"),
                          batchSize: 0, steps: 0, maxCharacters: Experiment.decoderOnlyCompanionCharacters, task: "?", optimizer: "not recorded", recorded: false)
        }
        return Config(dModel: m.dModel, layers: m.layers, decoderLayers: m.decoderLayers, heads: m.heads, dFF: m.dFF, vocab: m.vocabSize,
                      warmup: d("warmup", 4000), factor: d("lr_factor", 1), labelSmoothing: d("label_smoothing", 0.1),
                      dropout: d("dropout", 0.1), attentionDropout: d("attention_dropout", 0.1),
                      batchSize: i("batch_size", 0), steps: i("steps", 0), maxCharacters: i("max_characters", 0),
                      task: a["task"] as? String ?? "?", optimizer: a["optimizer"] as? String ?? "not recorded", recorded: !a.isEmpty)
    }

    /// lr = factor · d^-0.5 · min(step^-0.5, step · warmup^-1.5) (Vaswani et al. 2017, eq. 3); step ≥ 1.
    static func learningRate(step: Double, dModel: Int, warmup: Double, factor: Double) -> Double {
        let s = max(step, 1), w = max(warmup, 1)
        return factor / Double(max(dModel, 1)).squareRoot() * min(1 / s.squareRoot(), s * pow(w, -1.5))
    }

    /// The entropy of the smoothed target (nats): the lowest label-smoothed cross-entropy any model can reach.
    static func smoothedEntropy(vocab: Int, epsilon: Double) -> Double {
        guard vocab > 1, epsilon > 0, epsilon < 1 else { return 0 }
        let hi = 1 - epsilon + epsilon / Double(vocab), lo = epsilon / Double(vocab)
        return -hi * log(hi) - Double(vocab - 1) * lo * log(lo)
    }

    /// PyTorch's label smoothing target: q = (1 − ε)·onehot(target) + ε/V.
    static func smoothed(target: Int, vocab: Int, epsilon: Double) -> [Double] {
        (0..<max(vocab, 0)).map { (($0 == target) ? 1 - epsilon : 0) + epsilon / Double(vocab) }
    }

    /// A character token as an axis label (a space made visible).
    static func label(_ t: Token) -> String {
        t.text == " " ? "␣" : t.text.replacingOccurrences(of: "Ġ", with: "␣").replacingOccurrences(of: "Ċ", with: "⏎")  // GPT-2's byte-level space and newline
    }

    /// The source text the companion read (its characters without </s>).
    /// Characters outside its vocabulary (<unk>) show as U+FFFD.
    static func source(_ t: Trace) -> String {
        t.tokens.filter { !$0.isSpecial || $0.text == "<unk>" }.map { $0.text == "<unk>" ? "\u{FFFD}" : $0.text }.joined()
    }

    /// One sentence: which model, which input, and whether (and where) it was cut.
    static func describe(_ t: Trace, _ s: Study) -> String {
        if isDecoderOnly(t) { return describeDecoderOnly(t, s) }
        let name = t.model.name, src = source(t)
        let unknown = t.tokens.filter { $0.text == "<unk>" }.count
        let unk = unknown == 0 ? "" : " \(unknown) of its \(src.unicodeScalars.count) characters are outside its printable-ASCII vocabulary and reach it only as <unk> (shown as \u{FFFD}), so its output on them means little."
        let pair = s.pair == nil ? "" : " It reads only the first text of the pair."
        let cut = t.truncatedTokens > 0
            ? " The input was longer than the companion's \(config(t.model).maxCharacters) characters, so it was cut at a word boundary after \(src.unicodeScalars.count) characters (\(t.truncatedTokens) characters dropped)."
            : " The whole input fits the companion's \(config(t.model).maxCharacters) characters."
        return "Companion model: \(name) (attnviz's encoder–decoder, task \(config(t.model).task), \(t.model.layers)+\(t.model.decoderLayers) layers, d_model \(t.model.dModel)), run teacher-forced on “\(src)”.\(cut)\(unk)\(pair)"
    }

    /// describe for a GPT-2 companion.
    static func describeDecoderOnly(_ t: Trace, _ s: Study) -> String {
        let text = inputText(t), limit = Experiment.decoderOnlyCompanionCharacters
        let pair = s.pair == nil ? "" : " It reads only the first text of the pair."
        let cut = t.truncatedTokens > 0
            ? " The input was longer than the \(limit) characters attnviz gives a decoder-only companion (or its \(t.model.maxPositions) positions), so it was cut at a word boundary after \(text.unicodeScalars.count) characters (\(t.truncatedTokens) characters dropped)."
            : " The whole input fits the \(limit) characters attnviz gives a decoder-only companion."
        return "Companion model: \(t.model.name) (a decoder-only GPT-2, \(t.model.layers) layers, d_model \(t.model.dModel), \(t.model.normPlacement.rawValue): no encoder and no cross-attention), run teacher-forced on “\(text)”: its input is the text's own \(t.tokens.count) BPE tokens, and position i is trained to predict token i + 1.\(cut)\(pair)"
    }

    /// The companion's role, for the sections that explain why they use it: whether the main model is
    /// itself a model attnviz trained (its config.json records the training) and what the companion is.
    static func whyCompanion(_ s: Study, _ t: Trace?, lacks: String) -> String {
        let m = s.trace.model
        let main = config(m).recorded
            ? "The main model of this report, \(m.name), is itself an encoder–decoder attnviz trained; like every decoder and training section this one reads the companion model (render --decoder-model, by default the shipped one)."
            : "The main model of this report (\(m.name)) \(lacks), so this section reads the companion model (render --decoder-model)."
        guard let t else { return main }
        return main + (isDecoderOnly(t)
            ? " Here the companion is the GPT-2 checkpoint \(t.model.name), which records no training set-up either: what needs one is shown for the paper's values and marked as such."
            : " Here it is \(t.model.name), an encoder–decoder attnviz trained, whose set-up and curves are recorded.")
    }
}

/// GPT-2's byte-level BPE token texts back to text: each character stands for one byte
/// (bytes_to_unicode: printable bytes as themselves, the others shifted to U+0100…).
enum ByteLevelText {
    static let byteOf: [Unicode.Scalar: UInt8] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var table: [Unicode.Scalar: UInt8] = [:]
        for b in printable { if let u = Unicode.Scalar(UInt32(b)) { table[u] = UInt8(b) } }
        var n: UInt32 = 0
        for b in 0...255 where !printable.contains(b) {
            if let u = Unicode.Scalar(256 + n) { table[u] = UInt8(b) }
            n += 1
        }
        printable.removeAll()
        return table
    }()

    static func decode(_ pieces: [String]) -> String {
        let bytes = pieces.joined().unicodeScalars.compactMap { byteOf[$0] }
        return String(decoding: bytes, as: UTF8.self)
    }
}
