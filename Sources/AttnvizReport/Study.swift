import Foundation
import AttnvizRender
import AttnvizTrace

/// Everything a report is computed from: the run of the user's sentence, and the extra runs the
/// CLI made for sections that need them (the padded batch). Plain values: no model here.
public struct Study: Sendable {
    public var inputName: String
    public var text: String
    public var pair: String?
    public var trace: Trace
    /// The sentence right-padded as in a batch with a longer one (nil when it fills every position).
    public var padded: Trace?
    /// Why there is no padded run, when there is none.
    public var paddedUnavailable: String?
    public var layers: [Int]
    public var heads: [Int]
    public var format: FigureFormat

    public init(inputName: String, text: String, pair: String?, trace: Trace, padded: Trace?, layers: [Int]?, heads: [Int]?,
                format: FigureFormat, paddedUnavailable: String? = nil) {
        self.inputName = inputName
        self.text = text
        self.pair = pair
        self.trace = trace
        self.padded = padded
        self.paddedUnavailable = paddedUnavailable
        self.layers = layers ?? Array(0..<trace.layers.count)
        self.heads = heads ?? Array(0..<trace.model.heads)
        self.format = format
    }

    public var n: Int { trace.tokens.count }
    /// Token labels for figure axes; [CLS]-style specials kept, empty strings made visible, and
    /// byte-level BPE's space and newline symbols (Ġ, Ċ) shown as ␣ and ⏎.
    public var labels: [String] {
        let byteLevel = trace.model.modelType == "gpt2"
        return trace.tokens.map { t in
            if t.text.isEmpty { return "␣" }
            guard byteLevel, !t.isSpecial else { return t.text }
            return t.text.replacingOccurrences(of: "Ġ", with: "␣").replacingOccurrences(of: "Ċ", with: "⏎")
        }
    }

    /// How many pad tokens the padding section adds: as if batched with a sentence a quarter longer.
    public static func padCount(tokens n: Int, maxPositions: Int) -> Int {
        min(max(3, n / 4), maxPositions - n)
    }
}
