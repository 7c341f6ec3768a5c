import AttnvizTensor
import AttnvizTrace
import Foundation

/// The encoder–decoder `render` runs beside the main model for the decoder and training sections
/// (`--decoder-model DIR`, else $ATTNVIZ_DECODER_MODEL, else the shipped models/reverse-words of the
/// checkout the binary was built from). A companion that cannot be opened is not an error: its
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

    func open() throws(ModelError) -> (Session, MarianModel)? {
        guard case let .session(s) = self else { return nil }
        guard case let .marian(m) = s.model else { return nil }
        return (s, m)
    }

    var reason: String {
        switch self {
        case let .unavailable(r): return r
        case let .session(s): return "the companion \(s.directory) is a \(s.model.info.modelType) model; these runs need an encoder–decoder attnviz trained (attnviz train --task)"
        }
    }

    /// The teacher-forced pass on the cut text (Experiment.companion).
    func run(text: String, changeLast: Bool) throws(ModelError) -> ExperimentOutcome {
        guard let (s, marian) = try open() else { return .unavailable(reason) }
        let (card, task) = try TaskModelCard.load(directory: s.directory)
        let vocabulary = try CharVocabulary.load(directory: s.directory)
        let limit = min(card.attnviz.maxCharacters, marian.config.maxPositionEmbeddings - 1)
        let (source, dropped) = Self.cut(text, limit: limit)
        guard !source.isEmpty else { return .unavailable("the text has no characters for the companion to read") }
        let labels = vocabulary.encode(task.target(source))
        var decoder = [CharVocabulary.pad] + labels.dropLast()
        if changeLast, let last = decoder.last {
            let x = vocabulary.encode("x").first ?? CharVocabulary.unknown, y = vocabulary.encode("y").first ?? CharVocabulary.unknown
            decoder[decoder.count - 1] = last == x ? y : x
        }
        func tokens(_ ids: [Int]) -> [Token] {
            ids.map { Token(text: $0 < vocabulary.count ? vocabulary.tokens[$0] : "#\($0)", id: $0, range: nil, isSpecial: $0 < CharVocabulary.specials.count) }
        }
        var trace = try Tracer.trace(model: s.model, tokens: tokens(vocabulary.encode(source)), dropped: dropped,
                                     decoderTokens: tokens(decoder), sha256: s.sha256)
        trace.decoderAlignment = Self.decoderAlignment(task: task, source: source, sourceIDs: vocabulary.encode(source), labels: labels)
        return .trace(trace)
    }

    /// The training log's step, learning rate and loss (Experiment.companionTrainingLog).
    func trainingLog() throws(ModelError) -> ExperimentOutcome {
        guard let (s, _) = try open() else { return .unavailable(reason) }
        let path = (s.directory as NSString).appendingPathComponent("training_log.jsonl")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
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
