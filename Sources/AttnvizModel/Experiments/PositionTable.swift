import AttnvizTrace

extension Session {
    /// `.positionTable`: the learned position embeddings, every row. [positions, d]
    func positionTable() -> ExperimentOutcome {
        switch model {
        case let .bert(bert): return .measured([], tensors: ["position": bert.positionTable])
        case let .gpt2(gpt): return .measured([], tensors: ["position": gpt.positionTable])
        case .marian: return .unavailable("this model computes its positions (sinusoidal); it has no learned table")
        }
    }
}
