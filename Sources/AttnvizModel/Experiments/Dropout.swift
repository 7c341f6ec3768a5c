import AttnvizTrace

extension Session {
    /// `.dropout(seed:)`: the forward as in training, with the model's own dropout probabilities
    /// (config.json; HF's default 0.1 for a key that is absent).
    func dropout(seed: UInt64, base: Trace, drawnLayer: Int = 0) throws(ModelError) -> ExperimentOutcome {
        var options = ForwardOptions()
        switch model {
        case let .bert(bert):
            let hidden = Float(bert.config.hiddenDropoutProb ?? 0.1)
            options.dropout = Dropout(seed: seed, hidden: hidden, attention: Float(bert.config.attentionProbsDropoutProb ?? 0.1), embedding: hidden)
        case let .gpt2(gpt):
            let c = gpt.config
            options.dropout = Dropout(seed: seed, hidden: Float(c.residPdrop ?? 0.1), attention: Float(c.attnPdrop ?? 0.1), embedding: Float(c.embdPdrop ?? 0.1))
        case .marian:
            return .unavailable("attnviz runs dropout on single-stack models (BERT, GPT-2), not on this \(model.info.modelType) model")
        }
        guard let d = options.dropout, [d.hidden, d.attention, d.embedding].allSatisfy({ $0 >= 0 && $0 < 1 }) else {
            return .unavailable("config.json gives a dropout probability outside [0, 1)")
        }
        // train-dropout: every layer's weights; scores of the first layer (the share dropped) and the drawn one.
        let first = base.layers.first?.index ?? 0
        return try changedOutcome(base.tokens, options: options, keep: .weights,
                                  layerParts: Dictionary(uniqueKeysWithValues: Set([first, drawnLayer]).map { ($0, TraceParts.scores) }))
    }
}
