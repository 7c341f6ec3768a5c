import AttnvizTrace
import Foundation

/// How attnviz reads text for an encoder–decoder it trained itself (`attnviz train --task`,
/// config.json with an "attnviz" block naming the task, character vocabulary vocab.json): the
/// source is the text normalised (whitespace runs → one space) and cut at a word boundary to the
/// model's `max_characters`, one token per character plus `</s>`; the decoder input is teacher-forced:
/// the start token `<pad>` followed by the task's gold output shifted right by one. Used for the main
/// model (`render --model models/<name>`) and for the companion (`render --decoder-model`).
public struct TaskTokenizer: Sendable {
    public let vocabulary: CharVocabulary
    public let task: SyntheticTask
    /// Characters the source may have (without `</s>`): the card's max_characters, at most positions − 1.
    public let maxCharacters: Int

    /// nil when config.json has no "attnviz" block (a Marian model attnviz did not train).
    static func load(directory: String, maxPositions: Int) throws(ModelError) -> TaskTokenizer? {
        let path = (directory as NSString).appendingPathComponent("config.json")
        let json = (try? JSONSerialization.jsonObject(with: Data(readUTF8(path).utf8))) as? [String: Any]
        guard json?["attnviz"] != nil else { return nil }
        let (card, task) = try TaskModelCard.load(directory: directory)
        let limit = min(card.attnviz.maxCharacters, maxPositions - 1)
        guard limit > 0 else { throw .config(path: path, key: "attnviz.max_characters", problem: "must be positive and below max_position_embeddings, found \(card.attnviz.maxCharacters)") }
        return TaskTokenizer(vocabulary: try CharVocabulary.load(directory: directory), task: task, maxCharacters: limit)
    }

    /// The normalised text's Unicode scalars with the range of the original text each stands for
    /// (a space stands for the whole whitespace run it replaced).
    static func normalizedScalars(_ text: String) -> [(scalar: Unicode.Scalar, range: Range<Int>)] {
        var out: [(scalar: Unicode.Scalar, range: Range<Int>)] = []
        var offset = 0
        var gap: Range<Int>?
        for ch in text {
            let count = ch.unicodeScalars.count
            defer { offset += count }
            if ch.isWhitespace {
                gap = (gap?.lowerBound ?? offset)..<(offset + count)
                continue
            }
            if let g = gap, !out.isEmpty { out.append((" ", g)) }
            gap = nil
            for (k, s) in ch.unicodeScalars.enumerated() { out.append((s, (offset + k)..<(offset + k + 1))) }
        }
        return out
    }

    func tokens(_ ids: [Int], ranges: [Range<Int>?] = []) -> [Token] {
        ids.enumerated().map { i, id in
            Token(text: id < vocabulary.count ? vocabulary.tokens[id] : "#\(id)", id: id,
                  range: i < ranges.count ? ranges[i] : nil, isSpecial: id < CharVocabulary.specials.count)
        }
    }

    /// The ids of one teacher-forced example: the text cut at a word boundary (`kept`, `dropped`
    /// characters gone), `source` = its characters + `</s>`, `labels` = the task's gold output + `</s>`,
    /// `decoder` = the start token `<pad>` + labels shifted right. Empty ids when nothing is kept.
    public struct Example: Sendable {
        public var kept: String, dropped: Int, source: [Int], labels: [Int], decoder: [Int]
    }

    public func example(_ text: String) -> Example {
        let (kept, dropped) = Companion.cut(text, limit: maxCharacters)
        guard !kept.isEmpty else { return Example(kept: kept, dropped: dropped, source: [], labels: [], decoder: []) }
        let labels = vocabulary.encode(task.target(kept))
        return Example(kept: kept, dropped: dropped, source: vocabulary.encode(kept), labels: labels, decoder: [CharVocabulary.pad] + labels.dropLast())
    }

    /// Source tokens (characters of the cut text with their ranges in `text`, then `</s>`), the
    /// teacher-forced decoder tokens (start token + gold output shifted right; `changeLast` replaces
    /// the last one by another character), how many characters were cut off, and the ids behind them.
    public func encode(_ text: String, changeLast: Bool = false) -> (source: [Token], decoder: [Token], dropped: Int, example: Example) {
        let e = example(text)
        guard !e.source.isEmpty else { return ([], [], e.dropped, e) }
        let ranges: [Range<Int>?] = Array(Self.normalizedScalars(text).prefix(e.kept.unicodeScalars.count).map(\.range))
        var decoder = e.decoder
        if changeLast, let last = decoder.last {
            let x = vocabulary.encode("x").first ?? CharVocabulary.unknown, y = vocabulary.encode("y").first ?? CharVocabulary.unknown
            decoder[decoder.count - 1] = last == x ? y : x
        }
        return (tokens(e.source, ranges: ranges), tokens(decoder), e.dropped, e)
    }
}
