import AttnvizModel
import AttnvizTensor
import Foundation
import Testing

/// Hostile input through the real binary (issue 9): each case gets one line on stderr naming the
/// file and the problem, an exit status below 128, nothing half-written, nothing deleted.
@Suite struct HardeningTests {
    @Test(arguments: ["0-9223372036854775807", "9223372036854775807", "0,5-99999999999"])
    func hugeIndexListsAreRefusedAtOnce(list: String) throws {
        let tmp = try TempDir()
        _ = try tmp.write("s.txt", "The cat sat.")
        for option in ["--layers", "--heads"] {
            let start = Date()
            let r = try CLI.run(["render", "s.txt", "--model", CLI.tinyBert, "--quiet", option, list, "--output", "out"], cwd: tmp.path, timeout: 60)
            BadInputTests.expectOneLineError(r, mentions: [option, list])
            #expect(Date().timeIntervalSince(start) < 20)
            #expect(!FileManager.default.fileExists(atPath: tmp.file("out")))
        }
    }

    // MARK: Helpers

    /// Sets `key` in a copied model's config.json to the raw JSON text `value`.
    static func setConfig(_ dir: String, _ key: String, _ value: String) throws {
        let path = dir + "/config.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: "\"\(key)\"\\s*:\\s*[^,\\n}]+")
        let range = NSRange(text.startIndex..., in: text)
        #expect(pattern.firstMatch(in: text, range: range) != nil, "config.json has no \(key)")
        let edited = pattern.stringByReplacingMatches(in: text, range: range, withTemplate: "\"\(key)\": \(value)")
        try edited.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func gpt2Copy(_ tmp: TempDir) throws -> String {
        let dir = tmp.file("gpt2")
        try FileManager.default.copyItem(atPath: CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/gpt2").path, toPath: dir)
        return dir
    }

    static func listing(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    // MARK: Safetensors: sizes are overflow-checked, weights finite

    @Test(arguments: [
        (#"{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]}}"#, "overflows"),
        (#"{"w":{"dtype":"F32","shape":[2147483648,2147483648,4],"data_offsets":[0,16]}}"#, "overflows"),
        (#"{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#, "no valid shape"),
        (#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}}"#, "no valid data_offsets"),
        (#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,9223372036854775807]}}"#, "needs 16 bytes"),
        (#"[1, 2, 3]"#, "not a JSON object"),
        (#"{"__metadata__":[1],"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, "__metadata__"),
        (#"{"w":{"dtype":"F32","shape":[4.5],"data_offsets":[0,16]}}"#, "no valid shape"),
    ])
    func hostileSafetensorsHeaders(header: String, problem: String) throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        try BadInputTests.rawSafetensors(header: header, dataBytes: 16).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        try BadInputTests.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", problem])
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteWeightsAreRefused(value: Float) throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        let name = "encoder.layer.1.output.dense.weight"
        try BadInputTests.rewrite(dir) { entries in
            guard case var .float(t)? = entries[name] else { return }
            t.data[t.count / 2] = value
            entries[name] = .float(t)
        }
        try BadInputTests.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", name, "finite"])
        let r = try CLI.run(["render", "-", "--model", dir, "--output", tmp.file("r"), "--quiet"], stdin: Data("the cat".utf8))
        BadInputTests.expectOneLineError(r, mentions: [name, "finite"])
        #expect(!FileManager.default.fileExists(atPath: tmp.file("r")))
    }

    // MARK: config.json values

    @Test(arguments: [
        ("layer_norm_eps", "-1", "must be a small positive number"),
        ("layer_norm_eps", "0", "must be a small positive number"),
        ("layer_norm_eps", "1e-400", "outside the range"),
        ("num_hidden_layers", "48.5", "expected an integer, found 48.5"),
        ("num_hidden_layers", "1e300", "expected an integer"),
        ("hidden_size", "4611686018427387904", "implausibly large"),
        ("vocab_size", "-3", "must be positive"),
    ])
    func badConfigValues(key: String, value: String, problem: String) throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        try Self.setConfig(dir, key, value)
        try BadInputTests.traceFails(model: dir, tmp: tmp, mentions: ["config.json", value == "1e-400" ? "(file)" : key, problem])
    }

    @Test func gpt2EpsilonAndConfigThatIsNotJSON() throws {
        let tmp = try TempDir()
        let dir = try Self.gpt2Copy(tmp)
        try Self.setConfig(dir, "layer_norm_epsilon", "-1")
        try BadInputTests.traceFails(model: dir, tmp: tmp, mentions: ["config.json", "layer_norm_epsilon", "positive"])
        try Data("{\"model_type\": \"gpt2\",".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try BadInputTests.traceFails(model: dir, tmp: tmp, mentions: ["config.json", "not valid JSON"])
    }

    // MARK: Tokenizer files

    /// An empty special token (a blank vocab line and `"pad_token": ""`) matched with length 0
    /// and never advanced: `tokenize` hung with growing memory on any "[".
    @Test(arguments: ["pad_token", "mask_token"])
    func emptySpecialTokenDoesNotHang(key: String) throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        var vocab = try String(contentsOfFile: dir + "/vocab.txt", encoding: .utf8)
        vocab += "\n"  // a blank last line: the empty token is in the vocabulary
        try vocab.write(toFile: dir + "/vocab.txt", atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: dir + "/tokenizer_config.json", encoding: .utf8)
        let name = key == "pad_token" ? "[PAD]" : "[MASK]"
        try config.replacingOccurrences(of: "\"\(name)\"", with: "\"\"").write(toFile: dir + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        let input = try tmp.write("s.txt", "a [b] [CLS] c")
        let r = try CLI.run(["tokenize", input, "--model", dir, "--json"], timeout: 60)
        #expect(!r.timedOut && !r.signaled && r.status == 0, "\(r.status) \(r.stderr)")
        let reference = try CLI.run(["tokenize", input, "--model", CLI.tinyBert, "--json"])
        #expect(r.stdout == reference.stdout, "an unmatched empty token changes nothing")
    }

    /// CRLF files are read as HF reads them: the same tokens as the LF originals.
    @Test func crlfVocabularyAndMerges() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "The quick brown fox, unbelievably, jumped. 2024!")
        let bert = try tmp.tinyBertCopy()
        let vocab = try String(contentsOfFile: bert + "/vocab.txt", encoding: .utf8)
        try vocab.replacingOccurrences(of: "\n", with: "\r\n").write(toFile: bert + "/vocab.txt", atomically: true, encoding: .utf8)
        let gpt2 = try Self.gpt2Copy(tmp)
        let merges = try String(contentsOfFile: gpt2 + "/merges.txt", encoding: .utf8)
        try merges.replacingOccurrences(of: "\n", with: "\r\n").write(toFile: gpt2 + "/merges.txt", atomically: true, encoding: .utf8)
        for (copy, original) in [(bert, CLI.tinyBert), (gpt2, CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/gpt2").path)] {
            let crlf = try CLI.run(["tokenize", input, "--model", copy, "--json"])
            let lf = try CLI.run(["tokenize", input, "--model", original, "--json"])
            #expect(crlf.status == 0, "\(crlf.stderr)")
            #expect(crlf.stdout == lf.stdout, "\(copy): CRLF gives \(crlf.stdout) vs \(lf.stdout)")
        }
    }

    @Test func tokenizerFileProblems() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "the cat")
        let bert = try tmp.tinyBertCopy()
        // A vocabulary with more entries than the model has embeddings: vocab.txt is named.
        try (try String(contentsOfFile: bert + "/vocab.txt", encoding: .utf8) + "extra1\nextra2\n").write(toFile: bert + "/vocab.txt", atomically: true, encoding: .utf8)
        try BadInputTests.traceFails(model: bert, tmp: tmp, mentions: ["vocab.txt", "vocab_size"])
        try Data([0x61, 0x0A, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: bert + "/vocab.txt"))
        BadInputTests.expectOneLineError(try CLI.run(["tokenize", input, "--model", bert]), mentions: ["vocab.txt", "UTF-8"])
        try Data().write(to: URL(fileURLWithPath: bert + "/vocab.txt"))
        BadInputTests.expectOneLineError(try CLI.run(["tokenize", input, "--model", bert]), mentions: ["vocab.txt", "empty"])
        let gpt2 = try Self.gpt2Copy(tmp)
        try "#version: 0.2\nĠ t\na b c\n".write(toFile: gpt2 + "/merges.txt", atomically: true, encoding: .utf8)
        BadInputTests.expectOneLineError(try CLI.run(["tokenize", input, "--model", gpt2]), mentions: ["merges.txt", "line 3"])
        try #"{"a": "one"}"#.write(toFile: gpt2 + "/vocab.json", atomically: true, encoding: .utf8)
        BadInputTests.expectOneLineError(try CLI.run(["tokenize", input, "--model", gpt2]), mentions: ["vocab.json"])
    }

    /// `tokenize` with a model type attnviz does not know names it (it blamed SentencePiece).
    @Test func tokenizeUnknownModelType() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        try Self.setConfig(dir, "model_type", "\"llama\"")
        let r = try CLI.run(["tokenize", try tmp.write("s.txt", "x"), "--model", dir])
        BadInputTests.expectOneLineError(r, mentions: ["config.json", "'llama'", "supported"])
        #expect(!r.stderr.contains("SentencePiece"))
    }

    // MARK: trace: both files or neither, never over the input

    @Test func traceNeverOverwritesWhatItReads() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        let input = try tmp.write("s.txt", "The cat sat.")
        let weights = try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors"))
        let r = try CLI.run(["trace", input, "--model", dir, "--out", dir + "/model.safetensors"])
        BadInputTests.expectOneLineError(r, mentions: ["model.safetensors", "reads"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors")) == weights)
        // The sidecar would land on config.json.
        let config = try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))
        BadInputTests.expectOneLineError(try CLI.run(["trace", input, "--model", dir, "--out", dir + "/config.safetensors"]), mentions: ["config.json"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")) == config)
        #expect(!FileManager.default.fileExists(atPath: dir + "/config.safetensors"))
        // ...or on the input text.
        let json = try tmp.write("t.json", "The cat sat.")
        BadInputTests.expectOneLineError(try CLI.run(["trace", json, "--model", dir, "--out", tmp.file("t.safetensors")]), mentions: ["t.json"])
        #expect(try String(contentsOfFile: json, encoding: .utf8) == "The cat sat.")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("t.safetensors")))
    }

    /// The .json cannot be placed (a folder is in the way): no .safetensors either, no partial
    /// files, and an older trace pair stays as it was.
    @Test func traceWritesBothFilesOrNeither() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "The cat sat.")
        try FileManager.default.createDirectory(atPath: tmp.file("t.json"), withIntermediateDirectories: true)
        let r = try CLI.run(["trace", input, "--model", CLI.tinyBert, "--out", tmp.file("t.safetensors")])
        BadInputTests.expectOneLineError(r, mentions: ["t.json"])
        #expect(Self.listing(tmp.path) == ["s.txt", "t.json"])
        try FileManager.default.removeItem(atPath: tmp.file("t.json"))
        #expect(try CLI.run(["trace", input, "--model", CLI.tinyBert, "--out", tmp.file("t.safetensors")]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: tmp.file("t.safetensors")))
        // A file-size limit (as a full disk would): the old pair is kept, nothing partial.
        let other = try tmp.write("o.txt", String(repeating: "a much longer sentence than before ", count: 4))
        let shell = "ulimit -f 16; exec \"$0\" trace \"$1\" --model \"$2\" --out \"$3\""
        let limited = try CLI.run(["-c", shell, CLI.binary, other, CLI.tinyBert, tmp.file("t.safetensors")], shell: true)
        BadInputTests.expectOneLineError(limited, mentions: ["t.safetensors", "too large"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("t.safetensors"))) == before)
        #expect(Self.listing(tmp.path) == ["o.txt", "s.txt", "t.json", "t.safetensors"])
    }

    // MARK: Input text

    @Test func pipesFifosAndDevicesAreReadAsStreams() throws {
        let tmp = try TempDir()
        let fifo = tmp.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = Thread { if let h = FileHandle(forWritingAtPath: fifo) { h.write(Data("The cat sat.".utf8)); try? h.close() } }
        writer.start()
        let r = try CLI.run(["tokenize", fifo, "--model", CLI.tinyBert, "--json"], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try CLI.run(["tokenize", "-", "--model", CLI.tinyBert, "--json"], stdin: Data("The cat sat.".utf8))
        #expect(r.stdout == expected.stdout && !r.stdout.isEmpty)
        let dev = try CLI.run(["tokenize", "/dev/stdin", "--model", CLI.tinyBert, "--json"], stdin: Data("The cat sat.".utf8))
        #expect(dev.status == 0 && dev.stdout == expected.stdout, "\(dev.stderr)")
        // A process substitution, as bash makes it.
        let sub = try CLI.run(["-c", "exec \"$0\" tokenize <(echo The cat sat.) --model \"$1\" --json", CLI.binary, CLI.tinyBert], shell: true)
        #expect(sub.status == 0 && sub.stdout == expected.stdout, "\(sub.stderr)")
        BadInputTests.expectOneLineError(try CLI.run(["tokenize", tmp.path, "--model", CLI.tinyBert]), mentions: [tmp.path, "directory"])
    }

    /// A 50 MB input costs no more than the model's positions need: reading stops at a few MiB
    /// and tokenizing once the positions are filled.
    @Test func hugeInputIsCutEarly() throws {
        let tmp = try TempDir()
        let line = "the quick brown fox jumps over the lazy dog , again and again . "
        let big = String(repeating: line, count: 50_000_000 / line.utf8.count)
        let input = try tmp.write("big.txt", big)
        let start = Date()
        let r = try CLI.run(["trace", input, "--model", CLI.tinyBert, "--out", tmp.file("t.safetensors")], timeout: 120)
        let seconds = Date().timeIntervalSince(start)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("dropped"))
        #expect(seconds < 30, "took \(seconds) s")
        let small = try tmp.write("small.txt", String(repeating: line, count: 20))
        #expect(try CLI.run(["trace", small, "--model", CLI.tinyBert, "--out", tmp.file("u.safetensors")]).status == 0)
        let ids = try SafetensorsFile(path: tmp.file("t.safetensors")).integers("input_ids")
        #expect(ids == (try SafetensorsFile(path: tmp.file("u.safetensors")).integers("input_ids")), "the same first tokens")
    }

    // MARK: Messages

    @Test func badTemplatesEnvironmentIsAnError() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "The cat sat.")
        let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", tmp.file("r"), "--quiet"], env: ["ATTNVIZ_TEMPLATES": tmp.file("nowhere")])
        BadInputTests.expectOneLineError(r, mentions: ["ATTNVIZ_TEMPLATES", "nowhere", "report.mustache"])
        #expect(!FileManager.default.fileExists(atPath: tmp.file("r")))
    }

    @Test func outputNamesThatCannotBeFolders() throws {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", "The cat sat.")
        let tooLong = tmp.file(String(repeating: "n", count: 256))
        let r = try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", tooLong, "--quiet"])
        BadInputTests.expectOneLineError(r, mentions: ["too long"])
        let file = try tmp.write("afile", "x")
        BadInputTests.expectOneLineError(try CLI.run(["render", input, "--model", CLI.tinyBert, "--output", file, "--quiet"]), mentions: ["afile", "not a folder"])
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
        #expect(Self.listing(tmp.path) == ["afile", "s.txt"])
    }

    // MARK: Whitespace-only text follows HF

    /// HF gives [CLS] [SEP] for WordPiece and real tokens for byte-level BPE ("\n\n\n" → three Ċ);
    /// `tokenize` and `trace` follow it (they refused before).
    @Test(arguments: ["\n\n\n", "   ", " \n "])
    func whitespaceOnlyFollowsHF(text: String) throws {
        let tmp = try TempDir()
        let input = try tmp.write("ws.txt", text)
        let fixtures = CLI.repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures")
        func reference(_ file: String) throws -> [String: Any] {
            let lines = try String(contentsOf: fixtures.appendingPathComponent("edge/" + file), encoding: .utf8).split(separator: "\n")
            let cases = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
            let scalars = text.unicodeScalars.map { Int($0.value) }
            return try #require(cases.first { ($0["codepoints"] as? [Int]) == scalars }, "no HF case for \(text.debugDescription)")
        }
        let gpt2 = fixtures.appendingPathComponent("tiny/gpt2").path
        for (model, file) in [(CLI.tinyBert, "wordpiece_edge.jsonl"), (gpt2, "bpe_edge.jsonl")] {
            let want = try reference(file)
            let r = try CLI.run(["tokenize", input, "--model", model, "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let got = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            #expect(got?["tokens"] as? [String] == want["tokens_special"] as? [String], "\(file): \(r.stdout)")
            let t = try CLI.run(["trace", input, "--model", model, "--out", tmp.file("t.safetensors")])
            #expect(t.status == 0, "\(t.stderr)")
            let ids = try SafetensorsFile(path: tmp.file("t.safetensors")).integers("input_ids")
            #expect(ids.count == (want["tokens_special"] as? [String])?.count)
            if model == gpt2 { #expect(ids == want["ids_special"] as? [Int]) }
        }
    }
}
