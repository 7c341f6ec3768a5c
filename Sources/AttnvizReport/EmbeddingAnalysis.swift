import AttnvizTensor
import AttnvizTrace
import Foundation

/// Numbers the embedding and BERT sections compute: cosines of single vectors, pooling, the
/// elementwise check of a sum, and BERT's masked-LM sampling. Pure functions over plain values.
enum EmbeddingAnalysis {
    /// cos(a, b) in Double; 0 when either vector is zero.
    static func cosine<A: Collection, B: Collection>(_ a: A, _ b: B) -> Double where A.Element == Float, B.Element == Float {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y)
        }
        let den = (na * nb).squareRoot()
        return den > 0 ? dot / den : 0
    }

    /// Mean of the given rows of x [n, d] → [d] (empty rows: zeros).
    static func meanPool(_ x: Tensor, rows: [Int]) -> [Float] {
        let d = x.rowWidth
        var acc = [Double](repeating: 0, count: d)
        for r in rows where r >= 0 && r < x.rowCount { for (k, v) in x.row(r).enumerated() { acc[k] += Double(v) } }
        let count = Double(max(rows.count, 1))
        return acc.map { Float($0 / count) }
    }

    /// Largest |a − b| over two equal-length arrays (infinity when the lengths differ).
    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        var m = 0.0
        for (x, y) in zip(a, b) { m = max(m, abs(Double(x) - Double(y))) }
        return m
    }

    /// A token that is a word of its own: not added by the tokenizer, not [UNK], not a
    /// continuation piece, not followed by one, and containing a letter.
    static func wholeWordTokens(_ s: Study) -> [Int] {
        let tokens = s.trace.tokens, cont = s.continuesWord
        return tokens.indices.filter { i in
            let t = tokens[i]
            guard !t.isSpecial, t.text != "[UNK]", !cont[i], i + 1 >= tokens.count || !cont[i + 1] else { return false }
            return t.text.unicodeScalars.contains { $0.properties.isAlphabetic }
        }
    }

    /// The first token of the word starting at code point `at` (the piece whose range covers it).
    static func token(covering at: Int, in tokens: [Token]) -> Int? {
        tokens.firstIndex { t in !t.isSpecial && (t.range?.contains(at) ?? false) }
    }

    /// The text a token range came from (its code points in `text`), or the pieces joined.
    static func source(_ tokens: ArraySlice<Token>, in text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        if let lo = tokens.compactMap(\.range).map(\.lowerBound).min(), let hi = tokens.compactMap(\.range).map(\.upperBound).max(), hi <= scalars.count, lo < hi {
            return String(String.UnicodeScalarView(scalars[lo..<hi]))
        }
        return tokens.map(\.text).joined(separator: " ")
    }
}

/// BERT's masked-LM sample construction (Devlin et al. 2019; Google's create_pretraining_data.py):
/// choose max(1, round(15% of the content tokens)) positions uniformly without replacement; of
/// each chosen one, 80% become [MASK], 10% a random vocabulary id, 10% stay; the label is the
/// original id.
struct MLMSampler {
    enum Fate: String, Sendable { case mask = "[MASK] (80%)", random = "random token (10%)", keep = "unchanged (10%)" }
    struct Pick: Sendable, Equatable {
        var position: Int
        var fate: Fate
        /// The id drawn for `.random` (uniform in [0, vocab)), else nil.
        var randomID: Int?
    }

    static let maskRate = 0.15

    /// How many of `candidates` content tokens are chosen.
    static func count(candidates: Int) -> Int {
        candidates == 0 ? 0 : min(candidates, max(1, Int((Double(candidates) * maskRate).rounded())))
    }

    /// The picks for `candidates` (token positions) with `seed`, in position order.
    static func sample(candidates: [Int], vocab: Int, seed: UInt64) -> [Pick] {
        var rng = SplitMix(state: seed)
        var pool = candidates
        // Partial Fisher–Yates: the first k of a uniform shuffle.
        let k = count(candidates: pool.count)
        for i in 0..<k {
            let j = i + Int(rng.next() % UInt64(pool.count - i))
            pool.swapAt(i, j)
        }
        var picks: [Pick] = []
        for p in pool.prefix(k) {
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            if u < 0.8 { picks.append(Pick(position: p, fate: .mask)) }
            else if u < 0.9 { picks.append(Pick(position: p, fate: .random, randomID: Int(rng.next() % UInt64(max(vocab, 1))))) }
            else { picks.append(Pick(position: p, fate: .keep)) }
        }
        return picks.sorted { $0.position < $1.position }
    }
}
