import AttnvizTensor
import AttnvizTrace
import Foundation

/// The model `render` runs beside the main model for the decoder and training sections
/// (`--decoder-model DIR`, else $ATTNVIZ_DECODER_MODEL, else the shipped models/reverse-words of the
/// checkout the binary was built from): an encoder–decoder attnviz trained, or a GPT-2 decoder
/// (see `run`). A companion that cannot be opened is not an error: its
/// experiments answer `.unavailable` with the reason.
public enum Companion: Sendable {
    case session(Session)
    case unavailable(String)

    /// The shipped model in the checkout this binary was built from (its path is compiled in).
    public static var shippedDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../models/reverse-words").standardized.path
    }

    /// Opens `directory`, else $ATTNVIZ_DECODER_MODEL, else the shipped model; never throws.
    public static func open(directory: String?) -> Companion {
        let env = ProcessInfo.processInfo.environment["ATTNVIZ_DECODER_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
        let dir = directory ?? env ?? shippedDirectory
        do {
            return .session(try Session.open(directory: dir, note: nil))
        } catch {
            return .unavailable("the companion encoder–decoder \(dir) could not be opened: \(error.description)")
        }
    }

    /// `text` normalised (whitespace runs → one space) and cut at the last word boundary that keeps
    /// at most `limit` characters (Unicode scalars, as the character vocabulary counts them); a first
    /// word longer than `limit` is cut inside. Returns the kept text and how many characters went.
    public static func cut(_ text: String, limit: Int) -> (text: String, dropped: Int) {
        let normal = SyntheticTask.normalize(text)
        let total = normal.unicodeScalars.count
        guard total > limit else { return (normal, 0) }
        var kept = ""
        for word in normal.split(separator: " ") {
            let next = kept.isEmpty ? String(word) : kept + " " + word
            if next.unicodeScalars.count > limit { break }
            kept = next
        }
        if kept.isEmpty { kept = String(String.UnicodeScalarView(normal.unicodeScalars.prefix(max(0, limit)))) }
        return (kept, total - kept.unicodeScalars.count)
    }

    var reason: String {
        switch self {
        case let .unavailable(r): return r
        case let .session(s): return "the companion \(s.directory) is a \(s.model.info.modelType) model attnviz did not train; these runs need an encoder–decoder attnviz trained (attnviz train --task) or a GPT-2 decoder"
        }
    }

    /// The teacher-forced pass on the cut text (Experiment.companion).
    ///
    /// Encoder–decoder (attnviz task model): tokens = the source characters + `</s>`, decoderTokens =
    /// start token + gold output shifted right, layers of both stacks (decoder layers carry the causal
    /// self-attention and the cross-attention). Decoder-only (GPT-2): the text cut at a word boundary to
    /// `Experiment.decoderOnlyCompanionCharacters` (and further if its BPE tokens exceed the positions),
    /// its BPE tokens are the decoder input — teacher forcing for a language model is the text itself —
    /// so tokens and decoderTokens are the same list, embeddings and decoderEmbeddings the same record,
    /// and every layer is a `.decoder` layer with one (causal) attention block. `changeLast` replaces the
    /// last decoder input token by another (“x”/“y”). truncatedTokens counts characters cut off.
    func run(text: String, changeLast: Bool) throws(ModelError) -> ExperimentOutcome {
        guard case let .session(s) = self else { return .unavailable(reason) }
        switch (s.model, s.tokenizer) {
        case let (.marian, .task(t)?):
            let (source, decoder, dropped, e) = t.encode(text, changeLast: changeLast)
            guard !source.isEmpty else { return .unavailable("the text has no characters for the companion to read") }
            var trace = try Tracer.trace(model: s.model, tokens: source, dropped: dropped, decoderTokens: decoder, sha256: s.sha256)
            trace.decoderAlignment = Self.decoderAlignment(task: t.task, source: e.kept, sourceIDs: e.source, labels: e.labels)
            return .trace(trace)
        case let (.gpt2, tokenizer?):
            return try runDecoderOnly(s, tokenizer, text: text, changeLast: changeLast)
        default:
            return .unavailable(reason)
        }
    }

    /// The GPT-2 companion's run (see `run`).
    func runDecoderOnly(_ s: Session, _ tokenizer: TextTokenizer, text: String, changeLast: Bool) throws(ModelError) -> ExperimentOutcome {
        var limit = Experiment.decoderOnlyCompanionCharacters
        var kept = "", dropped = 0, tokens: [Token] = []
        while limit > 0 {
            (kept, dropped) = Self.cut(text, limit: limit)
            let (t, over) = try tokenizer.encode(kept, pair: nil, maxLength: s.model.info.maxPositions, source: "companion input")
            tokens = t
            if over == 0 { break }
            limit = kept.unicodeScalars.count - 1
        }
        guard !tokens.isEmpty else { return .unavailable("the text has no tokens for the companion to read") }
        if changeLast, let last = tokens.last {
            let x = (try? tokenizer.encode("x", pair: nil, maxLength: 1, source: "x").tokens.first?.id) ?? nil
            let y = (try? tokenizer.encode("y", pair: nil, maxLength: 1, source: "y").tokens.first?.id) ?? nil
            let id = (last.id == x ? y : x) ?? (last.id + 1) % max(s.model.info.vocabSize, 1)
            tokens[tokens.count - 1] = Token(text: s.vocabulary[id] ?? "#\(id)", id: id, range: nil, isSpecial: false)
        }
        var trace = try Tracer.trace(model: s.model, tokens: tokens, dropped: dropped, sha256: s.sha256)
        trace.decoderTokens = trace.tokens
        trace.decoderEmbeddings = trace.embeddings
        return .trace(trace)
    }

    /// The training log's step, learning rate and loss (Experiment.companionTrainingLog).
    func trainingLog() throws(ModelError) -> ExperimentOutcome {
        guard case let .session(s) = self else { return .unavailable(reason) }
        let path = (s.directory as NSString).appendingPathComponent("training_log.jsonl")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            if case .gpt2 = s.model {
                return .unavailable("the companion \(s.model.info.name) is a GPT-2 checkpoint: it ships no training log (training_log.jsonl), so its real learning-rate and loss curves cannot be shown; the formula above is drawn for its d_model")
            }
            return .unavailable("the companion has no readable training log (\(path))")
        }
        var step: [Float] = [], lr: [Float] = [], loss: [Float] = []
        for line in text.split(separator: "\n") {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let st = (object["step"] as? NSNumber)?.doubleValue, let l = (object["lr"] as? NSNumber)?.doubleValue,
                  let lo = (object["loss"] as? NSNumber)?.doubleValue, st.isFinite, l.isFinite, lo.isFinite else { continue }
            step.append(Float(st)); lr.append(Float(l)); loss.append(Float(lo))
        }
        guard !step.isEmpty else { return .unavailable("the companion's training log \(path) has no step/lr/loss records") }
        let n = step.count
        return .measured([], tensors: ["step": Tensor(uncheckedShape: [n], data: step), "lr": Tensor(uncheckedShape: [n], data: lr),
                                       "loss": Tensor(uncheckedShape: [n], data: loss)])
    }
}
