import AttnvizTrace

extension Session {
    /// `.restricted(pattern)`: every self-attention limited to the keys the pattern allows
    /// (on top of the model's own mask: a causal model stays causal).
    func restricted(_ pattern: KeyPattern, base: Trace, drawnLayer: Int = 0) throws(ModelError) -> ExperimentOutcome {
        var options = ForwardOptions()
        options.pattern = pattern
        // attn-self-vs-local: every layer's output, the drawn layer's scores and weights.
        return try changedOutcome(base.tokens, options: options, keep: [], layerParts: [drawnLayer: [.scores, .weights]])
    }
}
