import AttnvizTensor

extension Activation {
    /// f(x) at training precision (the exact definitions, as PyTorch's).
    @inline(__always)
    func value<S: TrainScalar>(_ x: S) -> S {
        switch self {
        case .gelu: return x / 2 * (1 + S.erf(x / S(2).squareRoot()))
        case .geluNew:
            let c = S(2 / Double.pi).squareRoot()
            return x / 2 * (1 + S.tanh(c * (x + S(0.044715) * x * x * x)))
        case .relu: return x > 0 ? x : 0
        case .silu, .swish: return x / (1 + S.exp(-x))
        }
    }

    /// f′(x).
    @inline(__always)
    func derivative<S: TrainScalar>(_ x: S) -> S {
        switch self {
        case .gelu:
            let density = S.exp(-x * x / 2) / S(2 * Double.pi).squareRoot()
            return (1 + S.erf(x / S(2).squareRoot())) / 2 + x * density
        case .geluNew:
            let c = S(2 / Double.pi).squareRoot(), k = S(0.044715)
            let t = S.tanh(c * (x + k * x * x * x))
            return (1 + t) / 2 + x / 2 * (1 - t * t) * c * (1 + 3 * k * x * x)
        case .relu: return x > 0 ? 1 : 0
        case .silu, .swish:
            let s = 1 / (1 + S.exp(-x))
            return s * (1 + x * (1 - s))
        }
    }
}

/// The position-wise feed-forward block of one layer: fc1 [inner, d], fc2 [d, inner].
public struct FeedForwardSlot: Sendable, Equatable {
    public let fc1: DenseSlot, fc2: DenseSlot
    public init(fc1: DenseSlot, fc2: DenseSlot) { self.fc1 = fc1; self.fc2 = fc2 }
}

public struct FeedForwardSaved<S: TrainScalar>: Sendable {
    public var x: [S]          // [n, d]
    public var pre: [S]        // [n, inner] fc1 output
    public var act: [S]        // [n, inner] f(pre) after activation dropout: fc2's input
    public var drop: DropoutMask<S>
}

/// fc2(dropout(f(fc1(x)))) — HF's activation_dropout sits between the activation and fc2.
public enum FeedForwardOps {
    /// x [n, d] → [n, d]
    public static func forward<S: TrainScalar>(_ x: [S], rows n: Int, _ s: FeedForwardSlot, activation: Activation,
                                               dropout: S, rng: inout DropoutRNG, params p: UnsafePointer<S>) -> (y: [S], saved: FeedForwardSaved<S>) {
        let pre = Dense.forward(x, rows: n, s.fc1, params: p)  // [n, inner]
        var act = pre.map { activation.value($0) }              // [n, inner]
        let drop = DropoutMask<S>(count: act.count, p: dropout, rng: &rng)
        drop.apply(&act)
        let y = Dense.forward(act, rows: n, s.fc2, params: p)   // [n, d]
        return (y, FeedForwardSaved(x: x, pre: pre, act: act, drop: drop))
    }

    /// dy [n, d] → dx [n, d]; weight gradients into `g`.
    public static func backward<S: TrainScalar>(_ dy: [S], saved: FeedForwardSaved<S>, rows n: Int, _ s: FeedForwardSlot, activation: Activation,
                                                params p: UnsafePointer<S>, grads g: UnsafeMutablePointer<S>) -> [S] {
        var dAct = Dense.backward(dy, x: saved.act, rows: n, s.fc2, params: p, grads: g)  // [n, inner]
        saved.drop.apply(&dAct)
        for i in dAct.indices { dAct[i] *= activation.derivative(saved.pre[i]) }
        return Dense.backward(dAct, x: saved.x, rows: n, s.fc1, params: p, grads: g)      // [n, d]
    }
}

/// A seeded generator for dropout masks (SplitMix64): the same seed gives the same masks.
public struct DropoutRNG: Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// Inverted dropout: kept entries are scaled by 1/(1 − p), dropped ones are 0. p = 0 keeps
/// everything and stores nothing.
public struct DropoutMask<S: TrainScalar>: Sendable {
    public let scale: [S]  // [count] 0 or 1/(1 − p); empty when p = 0

    public init(count: Int, p: S, rng: inout DropoutRNG) {
        guard p > 0 else { scale = []; return }
        let keep = 1 / (1 - p), threshold = Double(p)
        var s = [S](repeating: 0, count: count)
        for i in 0..<count where rng.uniform() >= threshold { s[i] = keep }
        scale = s
    }

    /// x ⊙ mask in place (forward and backward are the same product).
    public func apply(_ x: inout [S]) {
        guard !scale.isEmpty else { return }
        for i in x.indices { x[i] *= scale[i] }
    }
}
