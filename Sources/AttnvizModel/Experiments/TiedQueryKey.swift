import AttnvizTrace

extension Session {
    /// `.tiedQueryKey(layer:)`: one layer's keys computed with W_Q and the query bias.
    func tiedQueryKey(layer: Int, base: Trace) throws(ModelError) -> ExperimentOutcome {
        guard layer >= 0, layer < model.info.layers else { return .unavailable("the model has no layer \(layer)") }
        var options = ForwardOptions()
        options.tiedQueryKeyLayer = layer
        // attn-qk-different: that layer's scores, weights and q, k, v; every layer's output.
        return try changedOutcome(base.tokens, options: options, keep: [], layerParts: [layer: [.scores, .weights, .projections]])
    }
}
