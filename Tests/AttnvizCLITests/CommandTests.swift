import AttnvizModel
import Foundation
import Testing

@Suite struct CommandTests {
    /// `trace` writes the documented tensors, equal to what the forward pass gives, from any
    /// working directory.
    @Test func traceWritesTheDocumentedTensors() throws {
        let tmp = try TempDir()
        let text = try tmp.write("s.txt", "The cat sat on the mat.")
        let pair = try tmp.write("p.txt", "It was built in 1990.")
        let r = try CLI.run(["trace", "s.txt", "--pair", "p.txt", "--model", CLI.tinyBert, "--out", "out/t.safetensors"], cwd: tmp.path)
        #expect(r.status != 0, "a missing output folder is an error")
        #expect(r.stderr.contains("cannot write") && r.stderr.contains("does not exist"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out")), "nothing half-written")
        try FileManager.default.createDirectory(atPath: tmp.file("out"), withIntermediateDirectories: true)
        let ok = try CLI.run(["trace", text, "--pair", pair, "--model", CLI.tinyBert, "--out", "out/t.safetensors"], cwd: tmp.path)
        #expect(ok.status == 0, "\(ok.stderr)")
        let file = try SafetensorsFile(path: tmp.file("out/t.safetensors"))
        guard case let .bert(model) = try ModelRegistry.load(directory: CLI.tinyBert) else { throw CancellationError() }
        let layers = model.config.numHiddenLayers, heads = model.config.numAttentionHeads
        let ids = try file.integers("input_ids"), types = try file.integers("token_type_ids")
        let n = ids.count
        #expect(Set(types) == [0, 1])
        for l in 0..<layers {
            #expect(file.tensors["attn.L\(l)"]?.shape == [heads, n, n])
            #expect(file.tensors["scores.L\(l)"]?.shape == [heads, n, n])
            #expect(file.tensors["ffn_act.L\(l)"]?.shape == [n, model.config.intermediateSize])
        }
        for l in 0...layers { #expect(file.tensors["hidden.L\(l)"]?.shape == [n, model.config.hiddenSize]) }
        let last = try model.forward(ids: ids, typeIds: types)
        #expect(try last.maxAbsDifference(file.tensor("hidden.L\(layers)")) == 0)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tmp.file("out/t.json")))) as? [String: Any]
        #expect((json?["ids"] as? [Int]) == ids)
        #expect((json?["tokens"] as? [String])?.first == "[CLS]")
        #expect((json?["config"] as? [String: Any])?["model_type"] as? String == "bert")
    }

    @Test func tokenizeJSONAndPlain() throws {
        let tmp = try TempDir()
        let r = try CLI.run(["tokenize", "-", "--json", "--model", CLI.tinyBert], stdin: Data("The cat sat.".utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let tokenizer = try WordPieceTokenizer.load(directory: CLI.tinyBert)
        let expected = tokenizer.encode("The cat sat.").tokens
        #expect(json?["tokens"] as? [String] == expected.map(\.text))
        #expect(json?["ids"] as? [Int] == expected.map(\.id))
        let plain = try CLI.run(["tokenize", try tmp.write("s.txt", "The cat sat."), "--model", CLI.tinyBert])
        #expect(plain.stdout.split(separator: "\n").count == expected.count)
    }

    @Test func tooLongInputIsTruncatedWithAWarning() throws {
        let tmp = try TempDir()
        let text = try tmp.write("long.txt", String(repeating: "the cat sat on the mat . ", count: 40))
        let r = try CLI.run(["trace", text, "--model", CLI.tinyBert, "--out", tmp.file("t.safetensors")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("tokens were dropped"))
        let ids = try SafetensorsFile(path: tmp.file("t.safetensors")).integers("input_ids")
        guard case let .bert(model) = try ModelRegistry.load(directory: CLI.tinyBert) else { throw CancellationError() }
        #expect(ids.count == model.config.maxPositionEmbeddings)
    }

    @Test func versionAndHelp() throws {
        #expect(try CLI.run(["--version"]).stdout.contains(TraceExport.version))
        let help = try CLI.run(["trace", "--help"])
        for option in ["--model", "--pair", "--out"] { #expect(help.stdout.contains(option)) }
    }
}
