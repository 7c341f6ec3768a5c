import Foundation
import AttnvizRender
import AttnvizTrace

/// Everything a report is computed from: the run of the user's sentence, and the outcomes of
/// the experiments (extra runs) the sections asked for. Plain values: no model here.
public struct Study: Sendable {
    public var inputName: String
    public var text: String
    public var pair: String?
    /// The main run; for an encoder–decoder main model its encoder side (see `encoderDecoder`).
    public var trace: Trace
    /// The main model's whole run when it is an encoder–decoder (both stacks, teacher-forced decoder
    /// input); nil otherwise. `MainEncoderDecoder.swift`.
    public var encoderDecoder: Trace?
    /// Outcome of every experiment the sections asked for (see `ReportPlan.experiments(for:)`).
    public var runs: [Experiment: ExperimentOutcome] = [:]
    /// false (--no-timings): sections ask for no timed experiments, so that the same input gives
    /// byte-identical reports.
    public var timings: Bool
    public var layers: [Int]
    public var heads: [Int]
    public var format: FigureFormat

    public init(inputName: String, text: String, pair: String?, trace: Trace, layers: [Int]?, heads: [Int]?,
                format: FigureFormat, timings: Bool = true) {
        self.inputName = inputName
        self.text = text
        self.pair = pair
        self.trace = trace.encoderSide
        self.encoderDecoder = trace.model.architecture == .encoderDecoder ? trace : nil
        self.timings = timings
        self.layers = layers ?? Array(0..<self.trace.layers.count)
        self.heads = heads ?? Array(0..<trace.model.heads)
        self.format = format
    }

    /// The outcome of an experiment a section asked for (unavailable if it was never run).
    /// An encoder–decoder main model's own runs come back as their encoder side, like `trace`.
    public func run(_ e: Experiment) -> ExperimentOutcome {
        let outcome = runs[e] ?? .unavailable("this run was not made")
        if case .companion = e { return outcome }
        if encoderDecoder != nil, let t = outcome.trace { return .trace(t.encoderSide) }
        return outcome
    }

    public var n: Int { trace.tokens.count }
    /// Token labels for figure axes; [CLS]-style specials kept, empty strings made visible, and
    /// byte-level BPE's space and newline symbols (Ġ, Ċ) shown as ␣ and ⏎.
    public var labels: [String] {
        let byteLevel = isByteLevelBPE
        return trace.tokens.map { t in
            if t.text.isEmpty { return "␣" }
            guard byteLevel, !t.isSpecial else { return t.text }
            return t.text.replacingOccurrences(of: "Ġ", with: "␣").replacingOccurrences(of: "Ċ", with: "⏎")
        }
    }

    /// Where heads park weight they do not need: the tokens the tokenizer added ([CLS], [SEP]),
    /// or, for models that add none (GPT-2), the first token. `name` for prose, `short` for a
    /// table header.
    public var sinkTokens: (indices: [Int], name: String, short: String) {
        let added = trace.tokens.indices.filter { trace.tokens[$0].isSpecial && trace.tokens[$0].range == nil }
        if !added.isEmpty {
            var seen: [String] = []
            for i in added where !seen.contains(trace.tokens[i].text) { seen.append(trace.tokens[i].text) }
            let name = seen.joined(separator: "/")
            return (added, name, name)
        }
        guard n > 0 else { return ([], "the first token", "first token") }
        return ([0], "the first token (“\(labels[0])”)", "first token")
    }

    /// GPT-2's byte-level BPE (else WordPiece, or ids given directly).
    public var isByteLevelBPE: Bool { trace.model.modelType == "gpt2" }

    /// For each token, whether it continues the word of the token before it. WordPiece marks
    /// continuations with “##”. Byte-level BPE marks the opposite (a leading space, Ġ), and
    /// splits letters from punctuation and digits: a piece continues a word when it starts
    /// right where the previous piece ended and both sides of that boundary are letters (or
    /// both digits) in the input, or when the previous piece is only the word's leading space.
    public var continuesWord: [Bool] {
        let tokens = trace.tokens
        if encoderDecoder != nil {  // attnviz's character vocabulary: a character continues the word of the one before it
            func inWord(_ t: Token) -> Bool { t.range != nil && t.text != " " }
            return tokens.indices.map { $0 > 0 && inWord(tokens[$0]) && inWord(tokens[$0 - 1]) }
        }
        guard isByteLevelBPE else { return tokens.map { !$0.isSpecial && $0.text.hasPrefix("##") } }
        let a = Array(text.unicodeScalars)
        func kind(_ i: Int) -> Int {  // 1 letter, 2 digit, 0 other
            guard i >= 0, i < a.count else { return 0 }
            let p = a[i].properties
            return p.isAlphabetic ? 1 : (p.numericType != nil ? 2 : 0)
        }
        return tokens.indices.map { i in
            guard i > 0, !tokens[i].isSpecial, !tokens[i - 1].isSpecial,
                  let r = tokens[i].range, let prev = tokens[i - 1].range, prev.upperBound == r.lowerBound, !r.isEmpty else { return false }
            let before = kind(r.lowerBound - 1), after = kind(r.lowerBound)
            if before != 0 && before == after { return true }
            // A lone space piece (“Ġ” when no merge holds the space with what follows) belongs
            // to the word it precedes.
            let previousIsSpace = prev.allSatisfy { $0 < a.count && a[$0].properties.isWhitespace }
            return previousIsSpace && !a[r.lowerBound].properties.isWhitespace
        }
    }

    /// The padded batch the padding and normalisation sections share; nil when the sentence fills
    /// every position.
    public var paddedExperiment: Experiment? {
        let k = Self.padCount(tokens: n, maxPositions: trace.model.maxPositions)
        return k > 0 ? .padded(extra: k) : nil
    }

    /// The padded run, or why there is none.
    public var padded: (trace: Trace?, reason: String) {
        guard let e = paddedExperiment else {
            return (nil, "the sentence already fills all \(trace.model.maxPositions) positions, so there is no room to pad it")
        }
        let outcome = run(e)
        return (outcome.trace, outcome.reason ?? "")
    }

    /// How many pad tokens the padding section adds: as if batched with a sentence a quarter longer.
    public static func padCount(tokens n: Int, maxPositions: Int) -> Int {
        min(max(3, n / 4), maxPositions - n)
    }
}
