import AttnvizTrace

extension Session {
    /// `.masked(position:)`: the token at `position` replaced by the tokenizer's [MASK].
    func masked(position: Int, base: Trace) throws(ModelError) -> ExperimentOutcome {
        guard case let .wordPiece(t)? = tokenizer, let id = t.vocab[t.options.mask] else {
            return .unavailable("this \(model.info.modelType) model's tokenizer has no mask token: it was not trained with masked-language modelling")
        }
        guard base.tokens.indices.contains(position) else { return .unavailable("the run has no token \(position)") }
        var tokens = base.tokens
        tokens[position] = Token(text: t.options.mask, id: id, typeId: tokens[position].typeId, range: tokens[position].range, isSpecial: true)
        return try changedOutcome(tokens, options: .none, keep: .weights)  // attn-bert-mask: every layer's weights, no scores
    }
}
