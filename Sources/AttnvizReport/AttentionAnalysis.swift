import AttnvizTensor
import AttnvizTrace
import Foundation

/// Computations of the position and attention-anatomy sections (pos-why, pos-relative, attn-qkv,
/// attn-head-dim, attn-head-roles). Pure functions over plain values.
enum AttentionAnalysis {
    /// The loaded model in a few words, for sentences that must be true of it.
    static func kind(_ m: ModelInfo) -> String {
        switch m.architecture {
        case .encoder: return "this \(m.normPlacement.rawValue) BERT encoder"
        case .decoder: return "this \(m.normPlacement.rawValue) GPT-2 decoder"
        case .encoderDecoder: return "this \(m.normPlacement.rawValue) encoder–decoder (\(m.modelType))"
        }
    }

    // MARK: pos-why

    /// A seeded shuffle of the content tokens (new position i holds old token p[i]); the tokens
    /// the tokenizer added ([CLS], [SEP]) stay in place. nil when fewer than two tokens can move.
    /// Never the identity: an unlucky shuffle is rotated by one place.
    static func contentPermutation(_ tokens: [Token]) -> [Int]? {
        let movable = tokens.indices.filter { !(tokens[$0].isSpecial && tokens[$0].range == nil) }
        guard movable.count >= 2 else { return nil }
        var order = movable
        var rng = SplitMix(state: 0x5EED_0000 &+ UInt64(tokens.count))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        if order == movable { order = Array(movable.dropFirst()) + [movable[0]] }
        var p = Array(tokens.indices)
        for (slot, source) in zip(movable, order) { p[slot] = source }
        return p
    }

    /// Largest and mean |a[i] − b[p[i]]| over rows i of two [n, d] tensors: how far a shuffled run's
    /// rows are from the unshuffled run's rows moved to the same places.
    static func permutedDifference(_ shuffled: Tensor, _ original: Tensor, permutation p: [Int]) -> (max: Double, mean: Double) {
        let n = min(shuffled.rowCount, p.count), d = shuffled.rowWidth
        guard original.rowWidth == d, n > 0, d > 0 else { return (.nan, .nan) }
        var worst = 0.0, total = 0.0
        for i in 0..<n where p[i] < original.rowCount {
            for k in 0..<d {
                let diff = abs(Double(shuffled.data[i * d + k]) - Double(original.data[p[i] * d + k]))
                worst = max(worst, diff); total += diff
            }
        }
        return (worst, total / Double(n * d))
    }

    /// One head's weights of a shuffled run put back in the original order: out[p[i], p[j]] = w[i, j];
    /// with `causal`, the cells that run's mask removed (j > i) are −∞ (drawn as masked). [n, n]
    static func unpermuted(_ w: Tensor, head: Int, permutation p: [Int], causal: Bool = false) -> [Float] {
        let n = w.shape[1]
        guard w.shape[2] == n, p.count == n, head < w.shape[0] else { return [] }
        var out = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { out[p[i] * n + p[j]] = causal && j > i ? -.infinity : w.data[(head * n + i) * n + j] } }
        return out
    }

    static func maxAbs(_ x: [Float]) -> Double { x.reduce(0.0) { max($0, $1.isFinite ? abs(Double($1)) : 0) } }

    // MARK: pos-relative

    /// RoPE: dims (2i, 2i+1) rotated by pos·θ_i, θ_i = 10000^(−2i/d) (an odd last dim is left as is).
    static func rope(_ x: [Float], position: Int) -> [Double] {
        let d = x.count
        var out = x.map(Double.init)
        for i in 0..<(d / 2) {
            let theta = pow(10000, -2 * Double(i) / Double(d)), angle = Double(position) * theta
            let a = Double(x[2 * i]), b = Double(x[2 * i + 1])
            out[2 * i] = a * cos(angle) - b * sin(angle)
            out[2 * i + 1] = a * sin(angle) + b * cos(angle)
        }
        return out
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    /// ALiBi slopes for h heads: the geometric sequence 2^(−8k/h), k = 1…h (the paper's sequence
    /// for a power-of-two head count).
    static func alibiSlopes(heads h: Int) -> [Double] {
        (1...max(h, 1)).map { pow(2, -8 * Double($0) / Double(max(h, 1))) }
    }

    /// ALiBi bias of one head: −slope·|i − j| (bidirectional, for an encoder), or −slope·(i − j)
    /// for j ≤ i and masked (−∞) above the diagonal (causal, as in the paper's decoder). [n, n]
    static func alibiBias(n: Int, slope: Double, causal: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { out[i * n + j] = causal && j > i ? -.infinity : Float(-slope * Double(abs(i - j))) } }
        return out
    }

    // MARK: attn-head-roles

    enum Role: Int, CaseIterable {
        case sink, own, previous, next, punctuation, broad
        var name: String {
            switch self {
            case .sink: return "sink"
            case .own: return "self"
            case .previous: return "previous token"
            case .next: return "next token"
            case .punctuation: return "punctuation"
            case .broad: return "broad / other"
            }
        }
    }

    /// Whether a token is punctuation: not a special, and nothing but punctuation and symbols once
    /// the word-piece and byte-level markers (##, Ġ, ␣) are removed.
    static func isPunctuation(_ label: String, special: Bool) -> Bool {
        guard !special else { return false }
        var t = label
        if t.hasPrefix("##") { t.removeFirst(2) }
        t = t.replacingOccurrences(of: "Ġ", with: "").replacingOccurrences(of: "␣", with: "")
        let marks = CharacterSet.punctuationCharacters.union(.symbols)
        return !t.isEmpty && t.unicodeScalars.allSatisfy { marks.contains($0) }
    }

    /// The role of key j for query i; each key has exactly one (first match in this order):
    /// sink, self, previous, next, punctuation, broad.
    static func role(query i: Int, key j: Int, sink: Set<Int>, punctuation: [Bool]) -> Role {
        if sink.contains(j) { return .sink }
        if j == i { return .own }
        if j == i - 1 { return .previous }
        if j == i + 1 { return .next }
        if j < punctuation.count, punctuation[j] { return .punctuation }
        return .broad
    }

    /// Every query's key roles, [n][m] (raw values of `Role`): the same for every head of a run.
    static func roleMatrix(queries n: Int, keys m: Int, sink: Set<Int>, punctuation: [Bool]) -> [[Int]] {
        (0..<n).map { i in (0..<m).map { role(query: i, key: $0, sink: sink, punctuation: punctuation).rawValue } }
    }

    /// A head's mean weight share per role (over all query rows); the shares add to 1 because
    /// every key has one role and every row sums to 1.
    static func roleShares(_ w: Tensor, head: Int, sink: Set<Int>, punctuation: [Bool], roles: [[Int]]? = nil) -> [Double] {
        let n = w.shape[1], m = w.shape[2]
        var shares = [Double](repeating: 0, count: Role.allCases.count)
        guard n > 0 else { return shares }
        let roles = roles ?? roleMatrix(queries: n, keys: m, sink: sink, punctuation: punctuation)
        for i in 0..<n {
            let base = (head * n + i) * m
            for j in 0..<m { shares[roles[i][j]] += Double(w.data[base + j]) }
        }
        return shares.map { $0 / Double(n) }
    }

    struct Link { var query: Int; var key: Int; var layer: Int; var head: Int; var weight: Double }

    /// The strongest query→key weights with |i − j| ≥ minDistance between tokens that are neither
    /// specials nor punctuation, one per token pair (its strongest head), best first.
    static func longLinks(_ trace: Trace, layers: [Int], heads: [Int], punctuation: [Bool], minDistance: Int = 3, top: Int = 10) -> [Link] {
        let n = trace.tokens.count
        let content = (0..<n).map { !trace.tokens[$0].isSpecial && !(punctuation.count == n && punctuation[$0]) }
        var bestWeight = [Double](repeating: 0, count: n * n), bestHead = [Int](repeating: -1, count: n * n), bestLayer = [Int](repeating: -1, count: n * n)
        for l in layers where l < trace.layers.count {
            guard let w = trace.layers[l].selfAttention?.weights, w.shape[1] == n, w.shape[2] == n else { continue }
            for h in heads where h < w.shape[0] {
                for i in 0..<n where content[i] {
                    let base = (h * n + i) * n
                    for j in 0..<n where content[j] && abs(i - j) >= minDistance {
                        let v = Double(w.data[base + j])
                        if v > bestWeight[i * n + j] { bestWeight[i * n + j] = v; bestHead[i * n + j] = h; bestLayer[i * n + j] = l }
                    }
                }
            }
        }
        let found = (0..<(n * n)).filter { bestHead[$0] >= 0 }
            .sorted { (bestWeight[$0], $1) > (bestWeight[$1], $0) }
        return found.prefix(top).map { Link(query: $0 / n, key: $0 % n, layer: bestLayer[$0], head: bestHead[$0], weight: bestWeight[$0]) }
    }
}
