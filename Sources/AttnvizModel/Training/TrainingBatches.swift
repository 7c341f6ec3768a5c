import Foundation

/// Reads training batches: one JSON object per line with `input_ids` [B, S],
/// `decoder_input_ids` [B, T] and `labels` [B, T], right-padded with the config's pad id.
public enum TrainingBatches {
    struct Line: Decodable {
        var inputIDs: [[Int]]
        var decoderInputIDs: [[Int]]
        var labels: [[Int]]
        enum CodingKeys: String, CodingKey {
            case inputIDs = "input_ids", decoderInputIDs = "decoder_input_ids", labels
        }
    }

    public static func read(path: String, config: MarianConfig) throws(ModelError) -> [TrainingBatch] {
        let text = try readUTF8(path)
        var batches: [TrainingBatch] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let place = "\(path):\(index + 1)"
            let decoded: Line
            do {
                decoded = try JSONDecoder().decode(Line.self, from: Data(line.utf8))
            } catch let DecodingError.keyNotFound(key, _) {
                throw .input(path: place, problem: "missing key '\(key.stringValue)'")
            } catch let DecodingError.typeMismatch(_, context) {
                throw .input(path: place, problem: "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' must be an array of arrays of integers")
            } catch {
                throw .input(path: place, problem: "not a JSON object with input_ids, decoder_input_ids and labels")
            }
            batches.append(try batch(decoded, config: config, place: place))
        }
        guard !batches.isEmpty else { throw .input(path: path, problem: "no batches (expected one JSON object per line)") }
        return batches
    }

    static func batch(_ l: Line, config c: MarianConfig, place: String) throws(ModelError) -> TrainingBatch {
        let B = l.inputIDs.count
        guard B > 0 else { throw .input(path: place, problem: "input_ids has no rows") }
        let S = try width(l.inputIDs, "input_ids", rows: B, place: place)
        let T = try width(l.decoderInputIDs, "decoder_input_ids", rows: B, place: place)
        let T2 = try width(l.labels, "labels", rows: B, place: place)
        guard T2 == T else { throw .input(path: place, problem: "labels are [\(B), \(T2)], expected [\(B), \(T)] like decoder_input_ids") }
        for (key, n) in [("input_ids", S), ("decoder_input_ids", T)] where n > c.maxPositionEmbeddings {
            throw .input(path: place, problem: "\(key) has \(n) positions, the model has \(c.maxPositionEmbeddings)")
        }
        for (key, rows) in [("input_ids", l.inputIDs), ("decoder_input_ids", l.decoderInputIDs), ("labels", l.labels)] {
            if let bad = rows.joined().first(where: { $0 < 0 || $0 >= c.vocabSize }) {
                throw .input(path: place, problem: "\(key): id \(bad) is outside the vocabulary (0..<\(c.vocabSize))")
            }
        }
        if let row = l.inputIDs.firstIndex(where: { $0.allSatisfy { $0 == c.padTokenId } }) {
            throw .input(path: place, problem: "input_ids row \(row) is all padding (nothing for attention to see)")
        }
        guard l.labels.joined().contains(where: { $0 != c.padTokenId }) else {
            throw .input(path: place, problem: "every label is the pad id \(c.padTokenId.map(String.init) ?? "-"): the loss would be empty")
        }
        return TrainingBatch(batch: B, sourceLength: S, targetLength: T, inputIDs: Array(l.inputIDs.joined()),
                             decoderInputIDs: Array(l.decoderInputIDs.joined()), labels: Array(l.labels.joined()))
    }

    static func width(_ rows: [[Int]], _ key: String, rows B: Int, place: String) throws(ModelError) -> Int {
        guard rows.count == B else { throw .input(path: place, problem: "\(key) has \(rows.count) rows, expected \(B) like input_ids") }
        let n = rows[0].count
        guard n > 0 else { throw .input(path: place, problem: "\(key) rows are empty") }
        if let r = rows.firstIndex(where: { $0.count != n }) {
            throw .input(path: place, problem: "\(key) row \(r) has \(rows[r].count) ids, row 0 has \(n) (pad rows to one length)")
        }
        return n
    }
}
