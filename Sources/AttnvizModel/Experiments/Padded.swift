import AttnvizTrace

extension Session {
    /// `.padded(extra:)`: the sentence inside a batch with a longer one (BERT-style encoders).
    func padded(extra: Int, base: Trace) throws(ModelError) -> ExperimentOutcome {
        let info = model.info
        guard extra > 0 else { return .unavailable("no pad tokens were asked for") }
        guard base.tokens.count + extra <= info.maxPositions else {
            return .unavailable("the sentence leaves no room for \(extra) pad tokens within the model's \(info.maxPositions) positions")
        }
        guard let t = try tracePadded(base, padCount: extra) else {
            if case let .marian(m) = model, let pad = m.config.padTokenId {
                return .unavailable("attnviz runs padded batches on BERT-style encoders only, not on this encoder–decoder (\(info.modelType)), although it has a pad token (<pad>, id \(pad))")
            }
            return .unavailable("attnviz runs padded batches on BERT-style encoders only, and this \(info.modelType) model has no pad token")
        }
        return .trace(t)
    }
}
