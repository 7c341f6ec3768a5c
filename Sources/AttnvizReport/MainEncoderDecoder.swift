import AttnvizTrace

/// An encoder–decoder as the MAIN model (`render --model models/<name>`, an attnviz task model).
/// `Study.trace` is then its encoder side — the source characters through the encoder stack, which
/// the encoder chapters read exactly as they read a BERT run — and `Study.encoderDecoder` the whole
/// run (both stacks, the teacher-forced decoder input, the logits) for the decoder-aware sections.
extension Trace {
    /// The encoder stack alone: encoder layers, the encoder output as lastHidden, no decoder side.
    /// A trace without decoder layers is returned as it is.
    public var encoderSide: Trace {
        guard model.architecture == .encoderDecoder else { return self }
        let encoder = layers(of: .encoder)
        let out = encoder.last?.output ?? embeddings?.output ?? lastHidden
        return Trace(model: model, tokens: tokens, truncatedTokens: truncatedTokens, embeddings: embeddings, layers: encoder, lastHidden: out)
    }
}

enum MainEncoderDecoder {
    /// One sentence for the header and the encoder sections: what the main encoder–decoder read.
    static func describe(_ s: Study) -> String? {
        guard let full = s.encoderDecoder else { return nil }
        let cut = full.truncatedTokens > 0
            ? " The text was longer than the model reads, so it was cut at a word boundary (\(full.truncatedTokens) characters dropped)."
            : ""
        return "\(full.model.name) is an encoder–decoder (post-LN, sinusoidal positions, token embeddings × √d_model). Its encoder reads the \(full.tokens.count) source characters (with </s>); its decoder is run teacher-forced on the \(full.decoderTokens.count) decoder inputs: the start token followed by the task's gold output shifted right by one.\(cut) The encoder sections below use the encoder stack; the decoder sections say when they use the decoder."
    }
}
