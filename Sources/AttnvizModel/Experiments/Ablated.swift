import AttnvizTrace

extension Session {
    /// `.ablated(residual:layerNorm:)`: the blocks without their residual adds and/or LayerNorms.
    func ablated(residual: Bool, layerNorm: Bool, base: Trace) throws(ModelError) -> ExperimentOutcome {
        var options = ForwardOptions()
        options.residual = residual
        options.layerNorm = layerNorm
        return try changedOutcome(base.tokens, options: options, keep: [])  // block-gradients: layer outputs
    }
}
