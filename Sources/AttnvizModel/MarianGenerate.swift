import AttnvizTensor
import Dispatch

/// What greedy decoding produced and what it cost.
public struct GreedyOutput: Sendable {
    public var ids: [Int]              // generated ids, ending with </s> when it came
    public var stepSeconds: [Double]   // wall time of each decoder step
    public var encoderSeconds: Double
    public var forwardCalls: Int       // one encoder pass + one decoder call per generated token
}

extension MarianModel {
    /// Greedy decoding with the key/value cache: the encoder runs once, then each step feeds
    /// only the newest token (start token first) and takes the argmax, until `eos` or
    /// `maxLength` tokens (at most the model's positions).
    public func greedy(source: [Int], maxLength: Int, eos: Int) throws(ModelError) -> GreedyOutput {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let encoded = try encode(ids: source)
        let encoderSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        var cache = emptyCache()
        var next = config.decoderStartTokenId ?? config.padTokenId ?? 0
        var out = GreedyOutput(ids: [], stepSeconds: [], encoderSeconds: encoderSeconds, forwardCalls: 1)
        for _ in 0..<min(maxLength, config.maxPositionEmbeddings) {
            let start = DispatchTime.now().uptimeNanoseconds
            let (_, logits) = try decode(ids: [next], encoderOutput: encoded, encoderMask: nil, cache: &cache)  // [1, vocab]
            out.forwardCalls += 1
            var best = 0
            for j in 1..<logits.shape[1] where logits.data[j] > logits.data[best] { best = j }
            out.stepSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            out.ids.append(best)
            if best == eos { break }
            next = best
        }
        return out
    }
}
