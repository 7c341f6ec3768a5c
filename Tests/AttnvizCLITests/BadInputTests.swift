import AttnvizModel
import AttnvizTensor
import Foundation
import Testing

/// Every bad input gets one line on stderr naming the file and the problem, a non-zero exit,
/// no crash, and no output written.
@Suite struct BadInputTests {
    static func expectOneLineError(_ r: CLI.Result, mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!r.timedOut, "did not finish in time (a hang)", sourceLocation: sourceLocation)
        #expect(!r.signaled, "killed by signal \(r.status): \(r.stderr.suffix(300))", sourceLocation: sourceLocation)
        #expect(r.status != 0, "exit status \(r.status)", sourceLocation: sourceLocation)
        #expect(r.status < 128, "killed by a signal: \(r.status)", sourceLocation: sourceLocation)
        let errors = r.stderrLines.filter { !$0.hasPrefix("attnviz: note:") }
        #expect(errors.count == 1, "stderr should be one line, got: \(r.stderr)", sourceLocation: sourceLocation)
        for m in mentions {
            #expect(r.stderr.contains(m), "stderr should mention '\(m)': \(r.stderr)", sourceLocation: sourceLocation)
        }
        #expect(!r.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
    }

    /// Runs `attnviz trace` on a good sentence with the given model dir; checks no trace appeared.
    static func traceFails(model: String, tmp: TempDir, mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let text = try tmp.write("s.txt", "The cat sat on the mat.")
        let out = tmp.file("t.safetensors")
        let r = try CLI.run(["trace", text, "--model", model, "--out", out])
        expectOneLineError(r, mentions: mentions, sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out), sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: tmp.file("t.json")), sourceLocation: sourceLocation)
    }

    /// Rewrites the tiny checkpoint after `edit` changes its tensors.
    static func rewrite(_ dir: String, edit: (inout [String: SafetensorsWriter.Entry]) -> Void) throws {
        let path = (dir as NSString).appendingPathComponent("model.safetensors")
        let file = try SafetensorsFile(path: path)
        var entries: [String: SafetensorsWriter.Entry] = [:]
        for name in file.names { entries[name] = .float(try file.tensor(name)) }
        edit(&entries)
        try SafetensorsWriter.encode(entries).write(to: URL(fileURLWithPath: path))
    }

    /// A safetensors file with a hand-written header and `dataBytes` zero bytes of data.
    static func rawSafetensors(header: String, dataBytes: Int) -> Data {
        var d = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(count: dataBytes))
        return d
    }

    @Test func missingModelDirectory() throws {
        let tmp = try TempDir()
        try Self.traceFails(model: tmp.file("nope"), tmp: tmp, mentions: [tmp.file("nope"), "no such file"])
    }

    @Test func missingWeightsFile() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "no such file"])
    }

    @Test func missingInputFile() throws {
        let tmp = try TempDir()
        let r = try CLI.run(["trace", tmp.file("absent.txt"), "--model", CLI.tinyBert, "--out", tmp.file("t.safetensors")])
        Self.expectOneLineError(r, mentions: ["absent.txt", "no such file"])
    }

    @Test func truncatedSafetensors() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        let path = dir + "/model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "past the"])
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "shorter than the 8-byte"])
    }

    @Test func headerLengthPastTheEnd() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        var d = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data("{}".utf8))
        try d.write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "header length"])
    }

    @Test func malformedHeaderJSON() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        try Self.rawSafetensors(header: "{\"a\": [1, 2", dataBytes: 4).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "not valid JSON"])
    }

    @Test func unknownDtype() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        let header = #"{"w":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,2]}}"#
        try Self.rawSafetensors(header: header, dataBytes: 2).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "unknown dtype 'F8_E9'"])
    }

    @Test func shapeRangeMismatch() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        let header = #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}"#
        try Self.rawSafetensors(header: header, dataBytes: 16).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "needs 24 bytes"])
    }

    @Test func overlappingRanges() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
        try Self.rawSafetensors(header: header, dataBytes: 24).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "overlap"])
    }

    @Test func missingWeight() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        try Self.rewrite(dir) { $0["encoder.layer.1.attention.self.key.weight"] = nil }
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["model.safetensors", "missing weight 'encoder.layer.1.attention.self.key.weight'"])
    }

    @Test func misShapedWeight() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        try Self.rewrite(dir) { $0["encoder.layer.0.intermediate.dense.bias"] = .float(Tensor.zeros([3])) }
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["intermediate.dense.bias", "has shape [3]"])
    }

    @Test func unknownModelType() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"model_type\": \"bert\"", with: "\"model_type\": \"llama\"")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["config.json", "'llama'", "supported: bert"])
    }

    @Test func configMissingKey() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"num_attention_heads\"", with: "\"heads_renamed\"")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        try Self.traceFails(model: dir, tmp: tmp, mentions: ["config.json", "num_attention_heads", "missing"])
    }

    /// An empty file is refused (whitespace-only text follows HF instead: TokenizerEdgeTests).
    @Test func emptyText() throws {
        let tmp = try TempDir()
        let input = try tmp.write("empty.txt", "")
        let r = try CLI.run(["trace", input, "--model", CLI.tinyBert, "--out", tmp.file("t.safetensors")])
        Self.expectOneLineError(r, mentions: ["empty.txt", "empty"])
        let tok = try CLI.run(["tokenize", input, "--model", CLI.tinyBert])
        Self.expectOneLineError(tok, mentions: ["empty.txt", "empty"])
    }

    /// render refuses whitespace-only text (there is no word to study), for the text and the
    /// pair, and writes nothing; tokenize keeps HF's behaviour on it.
    @Test func whitespaceOnlyTextIsRefusedByRender() throws {
        let tmp = try TempDir()
        let blank = try tmp.write("blank.txt", "  \n\t \u{3000}\n")
        let words = try tmp.write("words.txt", "a cat")
        for args in [[blank], [words, "--pair", blank]] {
            let out = tmp.file("report-\(args.count)")
            let r = try CLI.run(["render"] + args + ["--model", CLI.tinyBert, "--output", out, "--no-timings"])
            Self.expectOneLineError(r, mentions: ["blank.txt", "whitespace"])
            #expect(!FileManager.default.fileExists(atPath: out), "a report folder was written")
        }
        let tok = try CLI.run(["tokenize", blank, "--model", CLI.tinyBert])
        #expect(tok.status == 0)
    }

    @Test func invalidUTF8Text() throws {
        let tmp = try TempDir()
        let input = try tmp.write("bad.txt", Data([0x48, 0x69, 0xFF, 0xFE, 0x21]))
        let r = try CLI.run(["trace", input, "--model", CLI.tinyBert, "--out", tmp.file("t.safetensors")])
        Self.expectOneLineError(r, mentions: ["bad.txt", "not valid UTF-8"])
    }

    @Test func tokenizeWithoutVocabulary() throws {
        let tmp = try TempDir()
        let dir = try tmp.tinyBertCopy()
        try FileManager.default.removeItem(atPath: dir + "/vocab.txt")
        let input = try tmp.write("s.txt", "hello")
        Self.expectOneLineError(try CLI.run(["tokenize", input, "--model", dir]), mentions: ["vocab.txt", "no such file"])
    }
}
