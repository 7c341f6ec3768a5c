import Foundation

/// The paper's learning-rate schedule ("Noam"): lr(step) = factor · d_model^−0.5 ·
/// min(step^−0.5, step · warmup^−1.5), steps counted from 1.
public struct NoamSchedule: Sendable, Equatable {
    public let dModel: Int, warmup: Int
    public let factor: Double

    public init(dModel: Int, warmup: Int, factor: Double) {
        self.dModel = dModel; self.warmup = warmup; self.factor = factor
    }

    public func rate(step: Int) -> Double {
        let s = Double(max(step, 1))
        return factor / Double(dModel).squareRoot() * min(1 / s.squareRoot(), s / pow15(Double(max(warmup, 1))))
    }

    private func pow15(_ w: Double) -> Double { w * w.squareRoot() }
}

/// Adam (Kingma & Ba) as torch.optim.Adam computes it, with the paper's β₁ 0.9, β₂ 0.98,
/// ε 1e-9: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
public final class Adam<S: TrainScalar>: @unchecked Sendable {
    public let beta1: Double, beta2: Double, epsilon: Double
    public private(set) var stepCount = 0
    let m: Buffer<S>, v: Buffer<S>

    public init(count: Int, beta1: Double = 0.9, beta2: Double = 0.98, epsilon: Double = 1e-9) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        m = Buffer(count: count)
        v = Buffer(count: count)
    }

    /// One update of `params` from `grads` (same length) at learning rate `lr`.
    public func update(params: Buffer<S>, grads: Buffer<S>, lr: Double) {
        stepCount += 1
        let t = Double(stepCount)
        let b1 = S(beta1), b2 = S(beta2), oneMinusB1 = S(1 - beta1), oneMinusB2 = S(1 - beta2)
        let stepSize = S(lr / (1 - Foundation.pow(beta1, t)))
        let correction2 = S((1 - Foundation.pow(beta2, t)).squareRoot()), eps = S(epsilon)
        let p = params.base, g = grads.base, mp = m.base, vp = v.base
        for i in 0..<min(params.count, grads.count) {
            mp[i] = b1 * mp[i] + oneMinusB1 * g[i]
            vp[i] = b2 * vp[i] + oneMinusB2 * g[i] * g[i]
            p[i] -= stepSize * mp[i] / (vp[i].squareRoot() / correction2 + eps)
        }
    }
}
