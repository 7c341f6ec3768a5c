import AttnvizTrace

extension Session {
    /// `.otherText(_:pair:)`: another text through the same model and tokenizer.
    func otherText(_ text: String, pair: String?) throws(ModelError) -> ExperimentOutcome {
        guard let tokenizer else { return .unavailable("attnviz does not read this \(model.info.modelType) model's tokenizer") }
        let (tokens, dropped) = try tokenizer.encode(text, pair: pair, maxLength: model.info.maxPositions, source: "built-in text")
        guard !tokens.isEmpty else { return .unavailable("the text gives no tokens") }
        guard let t = try traceChanged(tokens, options: .none, dropped: dropped) else {
            return .unavailable("attnviz runs other texts through single-stack models only")
        }
        return .trace(t)
    }
}
