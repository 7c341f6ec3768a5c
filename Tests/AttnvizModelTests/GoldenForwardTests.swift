import AttnvizModel
import AttnvizTensor
import AttnvizTrace
import Foundation
import Testing

/// The forward pass against HF transformers (eager attention, float32), the max |Δ| printed per
/// case and tensor. Tolerances scale with the longest sum (the FFN's inner width), the depth and
/// the values' magnitude (RoundingBound.forward), so they hold for any kernel's summation order.
@Suite(.serialized) struct GoldenForwardTests {
    /// The longest float32 sum of a BERT layer.
    static func sumLength(_ model: BertModel) -> Int { max(model.config.intermediateSize, model.config.hiddenSize) }

    static func bert(_ dir: String) throws -> BertModel {
        guard case let .bert(m) = try ModelRegistry.load(directory: dir) else { throw CancellationError() }
        return m
    }

    /// Runs one case's ids and checks every attn.L*/hidden.L* in its golden file.
    static func check(model: BertModel, golden: SafetensorsFile, label: String) throws {
        let ids = try golden.integers("input_ids")
        let types = try golden.integers("token_type_ids")
        let recorder = Recorder()
        let last = try model.forward(ids: ids, typeIds: types, recorder: recorder)
        print("\(label) (n = \(ids.count))")
        let layers = recorder.layers
        #expect(layers.count == model.config.numHiddenLayers)
        for (l, layer) in layers.enumerated() {
            let attn = try #require(layer.selfAttention)
            expectClose(attn.weights, try golden.tensor("attn.L\(l)"), sumLength: sumLength(model), depth: l + 1, "attn.L\(l)")
        }
        let hiddens = [recorder.embeddings?.output].compactMap { $0 } + layers.map(\.output)
        for (l, h) in hiddens.enumerated() {
            expectClose(h, try golden.tensor("hidden.L\(l)"), sumLength: sumLength(model), depth: l + 1, "hidden.L\(l)")
        }
        expectClose(last, try golden.tensor("last_hidden_state"), sumLength: sumLength(model), depth: layers.count + 1, "last_hidden_state")
    }

    @Test func miniLMCases() throws {
        let model = try Self.bert(try Fixtures.requireMiniLM())
        let manifest = try Fixtures.json("minilm/manifest.json") as? [String: Any]
        let cases = manifest?["cases"] as? [[String: Any]] ?? []
        #expect(!cases.isEmpty)
        for c in cases {
            let file = try SafetensorsFile(path: Fixtures.path("minilm/" + (c["file"] as? String ?? "")))
            try Self.check(model: model, golden: file, label: "MiniLM \(c["id"] as? String ?? "?")")
        }
    }

    @Test func miniLMTokenizerGivesTheGoldenIds() throws {
        let dir = try Fixtures.requireMiniLM()
        let tokenizer = try WordPieceTokenizer.load(directory: dir)
        let manifest = try Fixtures.json("minilm/manifest.json") as? [String: Any]
        for c in manifest?["cases"] as? [[String: Any]] ?? [] {
            let (tokens, _) = tokenizer.encode(c["text"] as? String ?? "", pair: c["text_pair"] as? String)
            #expect(tokens.map(\.id) == c["ids"] as? [Int], "\(c["id"] ?? "")")
            #expect(tokens.map(\.typeId) == c["token_type_ids"] as? [Int], "\(c["id"] ?? "")")
        }
    }

    @Test func tinyBertCases() throws {
        let dir = Fixtures.path("tiny/bert")
        let model = try Self.bert(dir)
        let tokenizer = try WordPieceTokenizer.load(directory: dir)
        let goldens = (try Fixtures.json("tiny/bert/goldens.json") as? [String: Any])?["goldens"] as? [[String: Any]] ?? []
        #expect(!goldens.isEmpty)
        for g in goldens {
            let file = try SafetensorsFile(path: Fixtures.path("tiny/bert/" + (g["file"] as? String ?? "")))
            let (tokens, _) = tokenizer.encode(g["text"] as? String ?? "", pair: g["text_pair"] as? String)
            #expect(tokens.map(\.id) == (try file.integers("input_ids")), "tokenizer ids for \(g["id"] ?? "")")
            try Self.check(model: model, golden: file, label: "tiny BERT \(g["id"] as? String ?? "?")")
        }
    }

    /// p07: two sentences right-padded into one batch. Each row of the batch, run with its padding
    /// mask, matches the golden; and every real token's output equals the unpadded run.
    @Test func paddedBatchMatchesAndLeavesRealTokensUnchanged() throws {
        let model = try Self.bert(try Fixtures.requireMiniLM())
        let file = try SafetensorsFile(path: Fixtures.path("minilm/p07_batch.safetensors"))
        let ids = try file.integers("input_ids"), mask = try file.integers("attention_mask")
        let types = try file.integers("token_type_ids")
        let shape = try #require(file.tensors["input_ids"]?.shape)
        let (batch, n) = (shape[0], shape[1])
        let goldenLast = try file.tensor("last_hidden_state")  // [B, n, d]
        for b in 0..<batch {
            let rowIDs = Array(ids[(b * n)..<((b + 1) * n)]), rowMask = mask[(b * n)..<((b + 1) * n)].map { $0 != 0 }
            let rowTypes = Array(types[(b * n)..<((b + 1) * n)])
            let recorder = Recorder()
            let padded = try model.forward(ids: rowIDs, typeIds: rowTypes, keyMask: rowMask, recorder: recorder)
            print("MiniLM padded batch row \(b) (n = \(n), real = \(rowMask.filter { $0 }.count))")
            for (l, layer) in recorder.layers.enumerated() {
                let attn = try #require(layer.selfAttention)
                expectClose(attn.weights, try file.tensor("attn.L\(l)").slice(b), sumLength: Self.sumLength(model), depth: l + 1, "attn.L\(l)[\(b)]")
                // Padded key columns carry exactly zero weight.
                var onPads: Float = 0
                for h in 0..<attn.heads { for i in 0..<n { for j in 0..<n where !rowMask[j] { onPads = max(onPads, attn.weights.data[(h * n + i) * n + j]) } } }
                #expect(onPads == 0, "weight on padded keys in layer \(l): \(onPads)")
            }
            let realCount = rowMask.filter { $0 }.count
            // Only real query rows carry meaning; compare those.
            let d = padded.shape[1]
            let goldenRow = goldenLast.slice(b)
            let realPadded = try Tensor(shape: [realCount, d], data: Array(padded.data[0..<(realCount * d)]))
            let realGolden = try Tensor(shape: [realCount, d], data: Array(goldenRow.data[0..<(realCount * d)]))
            let depth = model.config.numHiddenLayers + 1
            expectClose(realPadded, realGolden, sumLength: Self.sumLength(model), depth: depth, "last_hidden_state[\(b)] real tokens")
            let alone = try model.forward(ids: Array(rowIDs[0..<realCount]), typeIds: Array(rowTypes[0..<realCount]))
            expectClose(realPadded, alone, sumLength: Self.sumLength(model), depth: depth, "padded vs unpadded run, row \(b)")
        }
    }
}
