import AttnvizTrace

extension Session {
    /// `.restricted(pattern)`: every self-attention limited to the keys the pattern allows
    /// (on top of the model's own mask: a causal model stays causal).
    func restricted(_ pattern: KeyPattern, base: Trace) throws(ModelError) -> ExperimentOutcome {
        var options = ForwardOptions()
        options.pattern = pattern
        return try changedOutcome(base.tokens, options: options, keep: [.scores, .weights])  // attn-self-vs-local
    }
}
