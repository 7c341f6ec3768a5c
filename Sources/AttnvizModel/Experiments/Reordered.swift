import AttnvizTrace

extension Session {
    /// `.reordered(permutation:positions:)`: the main run's tokens in another order, with or
    /// without the position embeddings.
    func reordered(_ permutation: [Int], positions: Bool, base: Trace, drawnLayer: Int = 0) throws(ModelError) -> ExperimentOutcome {
        let n = base.tokens.count
        guard permutation.count == n, Set(permutation) == Set(0..<n) else {
            return .unavailable("the permutation does not reorder the run's \(n) tokens")
        }
        var options = ForwardOptions()
        options.positions = positions
        // pos-why: every layer's output, the drawn layer's weights.
        return try changedOutcome(permutation.map { base.tokens[$0] }, options: options, keep: [], layerParts: [drawnLayer: .weights])
    }
}
