import AttnvizModel
import Foundation
import Testing

/// GPT-2 and Marian through the binary.
@Suite struct DecoderCommandTests {
    static let gpt2 = CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/gpt2").path
    static let marian = CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/marian").path

    @Test func gpt2TraceWritesLogitsAndCausalAttention() throws {
        let tmp = try TempDir()
        let text = try tmp.write("s.txt", "The cat sat on the mat.")
        let r = try CLI.run(["trace", text, "--model", Self.gpt2, "--out", tmp.file("t.safetensors")])
        #expect(r.status == 0, "\(r.stderr)")
        let file = try SafetensorsFile(path: tmp.file("t.safetensors"))
        guard case let .gpt2(model) = try ModelRegistry.load(directory: Self.gpt2) else { throw CancellationError() }
        let n = try file.integers("input_ids").count, layers = model.config.nLayer
        #expect(file.tensors["logits"]?.shape == [n, model.config.vocabSize])
        for l in 0..<layers { #expect(file.tensors["attn.L\(l)"]?.shape == [model.config.nHead, n, n]) }
        for l in 0...layers { #expect(file.tensors["hidden.L\(l)"]?.shape == [n, model.config.nEmbd]) }
        let (hidden, _) = try model.forward(ids: try file.integers("input_ids"))
        #expect(try hidden.maxAbsDifference(file.tensor("hidden.L\(layers)")) == 0, "the last hidden state is after ln_f")
    }

    /// The architecture section describes the model that was loaded: GPT-2 is a pre-LN decoder,
    /// BERT a post-LN encoder, and for both the parameter count from the config matches the
    /// checkpoint's.
    @Test(arguments: [("gpt2", "pre-LN"), ("bert", "post-LN")])
    func architectureSectionFollowsTheModel(model: String, placement: String) throws {
        let tmp = try TempDir()
        let text = try tmp.write("s.txt", "The cat sat on the mat because it was tired.")
        let dir = CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/\(model)").path
        let r = try CLI.run(["render", text, "--model", dir, "--output", tmp.file("r"), "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: tmp.file("r/index.html"), encoding: .utf8)
        let start = try #require(html.range(of: "id=\"q-arch-overview\""))
        let end = html.range(of: "id=\"q-", range: start.upperBound..<html.endIndex)?.lowerBound ?? html.endIndex
        let section = String(html[start.lowerBound..<end])
        #expect(section.contains("(\(placement))"), "caption names the norm placement")
        #expect(section.contains("they agree"), "config-derived parameter count matches the checkpoint")
        #expect(!section.contains("they differ"))
        let layerNorm = try #require(html.range(of: "id=\"q-block-layernorm\""))
        #expect(html[layerNorm.lowerBound...].contains("is built this way"))
        let residual = try #require(html.range(of: "id=\"q-block-residual\""))
        #expect(html[residual.lowerBound...].contains("This model is \(placement)"))
    }

    @Test func marianTraceFromIDs() throws {
        let tmp = try TempDir()
        let r = try CLI.run(["trace", "--input-ids", "14,15,16,44,0,63,63", "--decoder-input-ids", "63,29,30", "--model", Self.marian,
                             "--out", tmp.file("m.safetensors")])
        #expect(r.status == 0, "\(r.stderr)")
        let file = try SafetensorsFile(path: tmp.file("m.safetensors"))
        guard case let .marian(model) = try ModelRegistry.load(directory: Self.marian) else { throw CancellationError() }
        let h = model.config.decoderAttentionHeads
        for l in 0..<model.config.encoderLayers { #expect(file.tensors["enc.attn.L\(l)"]?.shape == [model.config.encoderAttentionHeads, 7, 7]) }
        for l in 0..<model.config.decoderLayers {
            #expect(file.tensors["dec.attn.L\(l)"]?.shape == [h, 3, 3])
            #expect(file.tensors["cross.attn.L\(l)"]?.shape == [h, 3, 7])
            // Padded source columns (id 63 = pad) are exactly zero in cross-attention.
            let cross = try file.tensor("cross.attn.L\(l)")
            for hh in 0..<h { for i in 0..<3 { for j in 5..<7 { #expect(cross.data[(hh * 3 + i) * 7 + j] == 0) } } }
        }
        #expect(file.tensors["enc.hidden.L0"]?.shape == [7, model.config.dModel])
        #expect(file.tensors["dec.hidden.L\(model.config.decoderLayers)"]?.shape == [3, model.config.dModel])
        #expect(file.tensors["logits"]?.shape == [3, model.config.vocabSize])
    }

    @Test func tokenizeWorksForBPE() throws {
        let r = try CLI.run(["tokenize", "-", "--json", "--model", Self.gpt2], stdin: Data("The cat sat.".utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let expected = try ByteLevelBPE.load(directory: Self.gpt2).tokenize("The cat sat.")
        #expect(json?["ids"] as? [Int] == expected.map(\.id))
    }

    @Test func textForAModelWithoutAReadableTokenizerIsRefused() throws {
        let tmp = try TempDir()
        let text = try tmp.write("s.txt", "the cat")
        let r = try CLI.run(["trace", text, "--model", Self.marian, "--out", tmp.file("t.safetensors")])
        BadInputTests.expectOneLineError(r, mentions: ["--input-ids", "tokenizer"])
        BadInputTests.expectOneLineError(try CLI.run(["tokenize", text, "--model", Self.marian]), mentions: ["tokenizer"])
        BadInputTests.expectOneLineError(try CLI.run(["render", text, "--model", Self.marian, "--output", tmp.file("r"), "--quiet"]), mentions: ["--input-ids"])
        #expect(!FileManager.default.fileExists(atPath: tmp.file("r")))
    }

    @Test func idOutsideTheVocabulary() throws {
        let tmp = try TempDir()
        let r = try CLI.run(["trace", "--input-ids", "1,2,99999", "--model", Self.gpt2, "--out", tmp.file("t.safetensors")])
        BadInputTests.expectOneLineError(r, mentions: ["99999", "outside the vocabulary"])
        let m = try CLI.run(["trace", "--input-ids", "1,2", "--decoder-input-ids", "63,64", "--model", Self.marian, "--out", tmp.file("t.safetensors")])
        BadInputTests.expectOneLineError(m, mentions: ["--decoder-input-ids", "64"])
    }

    @Test func sequenceLongerThanThePositions() throws {
        let tmp = try TempDir()
        guard case let .gpt2(model) = try ModelRegistry.load(directory: Self.gpt2) else { throw CancellationError() }
        let ids = Array(repeating: "5", count: model.config.nPositions + 1).joined(separator: ",")
        let r = try CLI.run(["trace", "--input-ids", ids, "--model", Self.gpt2, "--out", tmp.file("t.safetensors")])
        BadInputTests.expectOneLineError(r, mentions: ["exceed", "\(model.config.nPositions) positions"])
        let m = try CLI.run(["trace", "--input-ids", ids, "--model", Self.marian, "--out", tmp.file("t.safetensors")])
        BadInputTests.expectOneLineError(m, mentions: ["exceed"])
    }

    @Test func missingTokenizerFiles() throws {
        let tmp = try TempDir()
        let dir = tmp.file("gpt2")
        try FileManager.default.copyItem(atPath: Self.gpt2, toPath: dir)
        try FileManager.default.removeItem(atPath: dir + "/merges.txt")
        let text = try tmp.write("s.txt", "the cat")
        BadInputTests.expectOneLineError(try CLI.run(["tokenize", text, "--model", dir]), mentions: ["merges.txt", "no such file"])
        try FileManager.default.removeItem(atPath: dir + "/vocab.json")
        BadInputTests.expectOneLineError(try CLI.run(["trace", text, "--model", dir, "--out", tmp.file("t.safetensors")]), mentions: ["vocab.json", "no such file"])
    }

    @Test func unknownModelTypeListsTheSupportedOnes() throws {
        let tmp = try TempDir()
        let dir = tmp.file("m")
        try FileManager.default.copyItem(atPath: Self.gpt2, toPath: dir)
        let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"model_type\": \"gpt2\"", with: "\"model_type\": \"t5\"").write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        BadInputTests.expectOneLineError(try CLI.run(["trace", "--input-ids", "1,2", "--model", dir, "--out", tmp.file("t.safetensors")]),
                                         mentions: ["'t5'", "bert", "gpt2", "marian"])
    }
}
