import AttnvizTrace
import Foundation

/// GPT-2's tokenizer: special tokens matched first, GPT-2's pre-tokenization pattern, each
/// piece's UTF-8 bytes mapped to printable characters, then merges applied by rank.
/// Offsets are code-point ranges of the input (a byte token points at the character it is part of).
public struct ByteLevelBPE: Sendable {
    public let vocab: [String: Int]
    public let idToToken: [Int: String]
    let ranks: [Pair: Int]
    public let specialTokens: [String]
    let source: String

    struct Pair: Hashable, Sendable { let a: String, b: String }

    /// GPT-2's byte → character table (printable bytes map to themselves, the rest above U+0100).
    static let byteToChar: [Character] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Character(Unicode.Scalar(UInt32(c)) ?? " ") }
        return table
    }()

    public init(vocab: [String: Int], merges: [(String, String)], specialTokens: [String], source: String) {
        self.vocab = vocab
        idToToken = Dictionary(vocab.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var ranks: [Pair: Int] = [:]
        for (i, m) in merges.enumerated() where ranks[Pair(a: m.0, b: m.1)] == nil { ranks[Pair(a: m.0, b: m.1)] = i }
        self.ranks = ranks
        self.specialTokens = specialTokens.sorted { $0.unicodeScalars.count > $1.unicodeScalars.count }
        self.source = source
    }

    /// vocab.json + merges.txt; special tokens from tokenizer.json's added_tokens when present.
    public static func load(directory: String) throws(ModelError) -> ByteLevelBPE {
        let vocabPath = (directory as NSString).appendingPathComponent("vocab.json")
        let mergesPath = (directory as NSString).appendingPathComponent("merges.txt")
        let tokenizerJSON = (directory as NSString).appendingPathComponent("tokenizer.json")
        let added = FileManager.default.fileExists(atPath: tokenizerJSON) ? try readData(tokenizerJSON) : nil
        return try load(vocab: try readData(vocabPath), merges: try readData(mergesPath), addedTokens: added,
                        vocabPath: vocabPath, mergesPath: mergesPath)
    }

    /// vocab.json, merges.txt and (optionally) tokenizer.json bytes; the paths name them in errors.
    public static func load(vocab vocabData: Data, merges mergesData: Data, addedTokens: Data?,
                            vocabPath: String = "vocab.json", mergesPath: String = "merges.txt") throws(ModelError) -> ByteLevelBPE {
        let vocab = try decodeJSON([String: Int].self, data: vocabData, path: vocabPath)
        guard let text = String(validating: mergesData, as: UTF8.self) else { throw .input(path: mergesPath, problem: "not valid UTF-8 text") }
        var merges: [(String, String)] = []
        // Lines as HF reads them: LF or CRLF (a CRLF file split every word into single bytes).
        for (n, line) in textLines(text).enumerated() {
            if line.hasPrefix("#version") || line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw .tokenizer(path: mergesPath, problem: "line \(n + 1) is not two symbols: '\(line)'") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        var specials: [String] = []
        if let addedTokens, let added = try? decodeJSON(AddedTokens.self, data: addedTokens, path: "tokenizer.json") {
            specials = added.addedTokens.map(\.content)
        } else if vocab["<|endoftext|>"] != nil {
            specials = ["<|endoftext|>"]
        }
        return ByteLevelBPE(vocab: vocab, merges: merges, specialTokens: specials, source: vocabPath)
    }

    struct AddedTokens: Decodable {
        struct Entry: Decodable { var content: String }
        var addedTokens: [Entry]
        enum CodingKeys: String, CodingKey { case addedTokens = "added_tokens" }
    }

    /// Tokens of `text` (no special tokens added: GPT-2 adds none). With a `limit`, tokenizing
    /// stops once more than `limit` tokens are made (the first `limit` are the same).
    public func tokenize(_ text: String, limit: Int? = nil) throws(ModelError) -> [Token] {
        let scalars = Array(text.unicodeScalars)
        var out: [Token] = []
        var start = 0, i = 0
        while i < scalars.count {
            if let limit, out.count > limit { return out }
            if let special = specialMatch(scalars, at: i) {
                try encodeChunk(scalars, start..<i, limit: limit, into: &out)
                let len = special.unicodeScalars.count
                out.append(Token(text: special, id: vocab[special] ?? 0, range: i..<(i + len), isSpecial: true))
                i += len
                start = i
            } else {
                i += 1
            }
        }
        try encodeChunk(scalars, start..<scalars.count, limit: limit, into: &out)
        return out
    }

    private func specialMatch(_ s: [Unicode.Scalar], at i: Int) -> String? {
        for special in specialTokens {
            let sp = Array(special.unicodeScalars)
            if !sp.isEmpty, i + sp.count <= s.count, Array(s[i..<(i + sp.count)]) == sp { return special }
        }
        return nil
    }

    private func encodeChunk(_ s: [Unicode.Scalar], _ range: Range<Int>, limit: Int?, into out: inout [Token]) throws(ModelError) {
        for piece in Self.preTokenize(s, range) {
            if let limit, out.count > limit { return }
            // Bytes of the piece, each remembering the code point it came from.
            var chars: [String] = [], origin: [Int] = []
            for k in piece {
                for byte in String(s[k]).utf8 {
                    chars.append(String(Self.byteToChar[Int(byte)]))
                    origin.append(k)
                }
            }
            var symbols = chars.indices.map { (text: chars[$0], first: $0, last: $0) }
            while symbols.count > 1 {
                var best: (rank: Int, index: Int)?
                for j in 0..<(symbols.count - 1) {
                    if let r = ranks[Pair(a: symbols[j].text, b: symbols[j + 1].text)], r < (best?.rank ?? Int.max) { best = (r, j) }
                }
                guard let best else { break }
                let a = symbols[best.index].text, b = symbols[best.index + 1].text
                var merged: [(text: String, first: Int, last: Int)] = []
                var j = 0
                while j < symbols.count {
                    if j + 1 < symbols.count, symbols[j].text == a, symbols[j + 1].text == b {
                        merged.append((a + b, symbols[j].first, symbols[j + 1].last))
                        j += 2
                    } else {
                        merged.append(symbols[j])
                        j += 1
                    }
                }
                symbols = merged
            }
            for sym in symbols {
                guard let id = vocab[sym.text] else {
                    throw .tokenizer(path: source, problem: "no vocabulary entry for '\(sym.text)' (the vocabulary lacks a byte symbol)")
                }
                out.append(Token(text: sym.text, id: id, range: origin[sym.first]..<(origin[sym.last] + 1), isSpecial: false))
            }
        }
    }

    /// GPT-2's pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
    /// as a scanner over code points.
    static func preTokenize(_ s: [Unicode.Scalar], _ range: Range<Int>) -> [Range<Int>] {
        func isLetter(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isNumber(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        }
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
        func isOther(_ c: Unicode.Scalar) -> Bool { !isSpace(c) && !isLetter(c) && !isNumber(c) }
        let end = range.upperBound
        var out: [Range<Int>] = []
        var i = range.lowerBound
        let contractions = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }
        while i < end {
            let c = s[i]
            // 's 't 're 've 'm 'll 'd
            if c == "'", let m = contractions.first(where: { i + 1 + $0.count <= end && Array(s[(i + 1)..<(i + 1 + $0.count)]) == $0 }) {
                out.append(i..<(i + 1 + m.count))
                i += 1 + m.count
                continue
            }
            // An optional single space, then a run of letters, of numbers, or of other symbols.
            let lead = c == " " && i + 1 < end
            let first = lead ? s[i + 1] : c
            var matched = false
            for isClass in [isLetter, isNumber, isOther] where isClass(first) {
                var j = i + (lead ? 1 : 0)
                while j < end, isClass(s[j]) { j += 1 }
                out.append(i..<j)
                i = j
                matched = true
                break
            }
            if matched { continue }
            // Whitespace: a run followed by more text leaves its last character to that text.
            var j = i
            while j < end, isSpace(s[j]) { j += 1 }
            if j < end, j - i > 1 {
                out.append(i..<(j - 1))
                i = j - 1
            } else {
                out.append(i..<max(j, i + 1))
                i = max(j, i + 1)
            }
        }
        return out
    }
}
