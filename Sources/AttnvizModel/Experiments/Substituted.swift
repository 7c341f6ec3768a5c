import AttnvizTrace

extension Session {
    /// `.substituted(position:id:)`: one token replaced by another vocabulary entry.
    func substituted(position: Int, id: Int, base: Trace) throws(ModelError) -> ExperimentOutcome {
        guard base.tokens.indices.contains(position) else { return .unavailable("the run has no token \(position)") }
        guard id >= 0, id < model.info.vocabSize else { return .unavailable("id \(id) is outside the vocabulary") }
        var tokens = base.tokens
        tokens[position] = Token(text: vocabulary[id] ?? "#\(id)", id: id, typeId: tokens[position].typeId, range: tokens[position].range, isSpecial: false)
        return try changedOutcome(tokens, options: .none, keep: [])  // bert-downstream: embeddings, layer outputs
    }
}
