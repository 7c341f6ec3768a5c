import Foundation

/// The tasks attnviz's own models learn. Each accepts any text, has exactly one correct
/// output, and a known alignment between input and output characters.
public enum SyntheticTask: String, CaseIterable, Sendable {
    /// "the cat sat." → "sat. cat the": words (split at whitespace) in reverse order, each
    /// spelled as it was. Output character j copies one input character that is not at j.
    case reverseWords = "reverse-words"
    /// "abc d" → "d cba".
    case reverseCharacters = "reverse-chars"

    /// Whitespace runs become one space, leading and trailing whitespace goes: the form the
    /// model is trained on.
    public static func normalize(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// The one correct output for `text` (normalized first).
    public func target(_ text: String) -> String {
        let words = Self.normalize(text).split(separator: " ")
        switch self {
        case .reverseWords: return words.reversed().joined(separator: " ")
        case .reverseCharacters: return String(Self.normalize(text).reversed())
        }
    }

    /// For each output character, the index of the input character (of the normalized text) it
    /// copies: the alignment cross-attention can be checked against.
    public func alignment(_ text: String) -> [Int] {
        let chars = Array(Self.normalize(text))
        switch self {
        case .reverseCharacters: return chars.indices.reversed().map { $0 }
        case .reverseWords:
            var starts: [Range<Int>] = []
            var i = 0
            while i < chars.count {
                var j = i
                while j < chars.count, chars[j] != " " { j += 1 }
                starts.append(i..<j)
                i = j + 1
            }
            var out: [Int] = []
            for (n, word) in starts.reversed().enumerated() {
                if n > 0 { out.append(word.upperBound < chars.count ? word.upperBound : word.lowerBound - 1) }  // the space after it
                out.append(contentsOf: word)
            }
            return out
        }
    }
}

/// Seeded sentences for training and evaluation: 1–9 words drawn from a word list (with
/// capitals, numbers and punctuation), at most `maxCharacters` long.
public struct SentenceGenerator: Sendable {
    public let words: [String]
    public let maxCharacters: Int
    var rng: DropoutRNG

    public init(words: [String], seed: UInt64, maxCharacters: Int) {
        self.words = words
        self.maxCharacters = maxCharacters
        rng = DropoutRNG(seed: seed ^ 0x5EED_5EED_5EED_5EED)
    }

    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
    mutating func chance(_ p: Double) -> Bool { rng.uniform() < p }

    public mutating func next() -> String {
        let count = 1 + below(9)
        var parts: [String] = []
        var length = 0
        for _ in 0..<count {
            var w: String
            if chance(0.1) {
                w = String(below(chance(0.5) ? 100 : 10000))
            } else if chance(0.06) {
                w = ["a", "I", "a", "A"][below(4)]  // the list's words have ≥ 2 letters
            } else {
                w = words.isEmpty ? "x" : words[below(words.count)]
                if chance(0.03) { w = w.uppercased() } else if chance(0.15) { w = w.prefix(1).uppercased() + w.dropFirst() }
            }
            if chance(0.08) { w += [",", ",", ";", ":", "'s", ")", "n't", "'re", "'ll"][below(9)] }
            if chance(0.03) { w = ["(", "\"", "'", "#", "$"][below(5)] + w }
            let added = (parts.isEmpty ? 0 : 1) + w.count
            if !parts.isEmpty, length + added > maxCharacters - 1 { break }
            parts.append(String(w.prefix(maxCharacters - 1)))
            length += added
        }
        var s = parts.joined(separator: " ")
        if chance(0.7) { s += [".", ".", ".", "!", "?"][below(5)] }
        return s
    }

    /// Words for the generator: the lines of a WordPiece vocabulary (e.g. MiniLM's vocab.txt)
    /// that are plain words of 2–10 ASCII letters (no ## pieces, no [special] tokens).
    public static func words(vocabulary path: String) throws(ModelError) -> [String] {
        let words = try readUTF8(path).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { w in
            (2...10).contains(w.count) && w.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) }
        }
        guard words.count >= 100 else { throw .input(path: path, problem: "only \(words.count) plain words of 2–10 letters; need at least 100") }
        return words
    }
}

extension SyntheticTask {
    /// A padded batch of `sentences`: source = characters + </s>; labels = the target's
    /// characters + </s>; decoder input = <pad> (the start token) + labels without the last.
    public func batch(_ sentences: [String], vocabulary v: CharVocabulary) -> TrainingBatch {
        let sources = sentences.map { v.encode(Self.normalize($0)) }
        let labels = sentences.map { v.encode(target($0)) }
        let S = sources.map(\.count).max() ?? 1, T = labels.map(\.count).max() ?? 1
        let pad = CharVocabulary.pad
        func padded(_ row: [Int], _ n: Int) -> [Int] { row + Array(repeating: pad, count: n - row.count) }
        return TrainingBatch(batch: sentences.count, sourceLength: S, targetLength: T,
                             inputIDs: sources.flatMap { padded($0, S) },
                             decoderInputIDs: labels.flatMap { padded([pad] + $0.dropLast(), T) },
                             labels: labels.flatMap { padded($0, T) })
    }
}
