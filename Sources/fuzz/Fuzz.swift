import AttnvizModel
import AttnvizTrace
import Foundation

/// libFuzzer targets for everything attnviz reads from files (issue 9): the safetensors header and
/// tensor table, config.json for each architecture, the tokenizer files, and tokenizing arbitrary
/// bytes with each tokenizer. `ATTNVIZ_FUZZ_TARGET` picks the target; `make fuzz` runs them all.
///
/// Built with `-D FUZZING` and `-sanitize=fuzzer,address` this is a libFuzzer binary. Built
/// plainly (as by `swift build`) it replays files through the same entry points: the smoke run of
/// `make test` feeds it the seed corpora in Fuzz/corpus.
enum FuzzTarget: String, CaseIterable {
    case safetensors, config, vocab, bpeFiles = "bpe-files", wordpiece, bpe

    /// Runs one input. Errors are the expected answer to bad input; a crash, a trap or a broken
    /// invariant (checked with `require`) is a finding.
    func run(_ data: Data) {
        switch self {
        case .safetensors:
            guard let file = try? SafetensorsFile(data: data, path: "fuzz.safetensors") else { return }
            for name in file.names {
                guard let info = file.tensors[name] else { continue }
                // Never more than the data area: every size was checked against it.
                require(info.range.upperBound <= data.count, "range past the data")
                if info.dtype.isFloat { _ = try? file.tensor(name, requireFinite: true) } else { _ = try? file.integers(name) }
            }
        case .config:
            guard let first = data.first else { return }
            let type = ["bert", "gpt2", "marian"][Int(first) % 3]
            _ = try? checkConfig(data.dropFirst(), modelType: type)
        case .vocab:
            // vocab.txt, then (after a NUL byte) tokenizer_config.json.
            let parts = data.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
            guard let t = try? WordPieceTokenizer.load(vocab: Data(parts[0]), config: parts.count > 1 ? Data(parts[1]) : nil) else { return }
            check(t.tokenize(Self.sentence), text: Self.sentence)
            // With a pair, offsets restart in the second segment: check the count only.
            require(t.encode(Self.sentence, pair: "[MASK] x [SEP]", maxLength: 12).tokens.count <= 12, "truncation exceeded maxLength")
        case .bpeFiles:
            // vocab.json, NUL, merges.txt.
            let parts = data.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let t = try? ByteLevelBPE.load(vocab: Data(parts[0]), merges: Data(parts[1]), addedTokens: nil) else { return }
            if let tokens = try? t.tokenize(Self.sentence) { check(tokens, text: Self.sentence) }
        case .wordpiece:
            let text = String(decoding: data, as: UTF8.self)
            let tokens = Self.tinyBert.tokenize(text)
            check(tokens, text: text)
            for t in tokens { require(Self.tinyBert.idToToken[t.id] == t.text, "id \(t.id) is not '\(t.text)'") }
            require(Self.tinyBert.encode(text, maxLength: 16).tokens.count <= 16, "truncation exceeded maxLength")
            let cut = Self.tinyBert.tokenize(text, limit: 3)
            require(cut.map(\.id) == tokens.prefix(cut.count).map(\.id), "a limit changed the first tokens")
        case .bpe:
            let text = String(decoding: data, as: UTF8.self)
            guard let tokens = try? Self.tinyGPT2.tokenize(text) else { return }
            check(tokens, text: text)
            for t in tokens { require(Self.tinyGPT2.idToToken[t.id] == t.text, "id \(t.id) is not '\(t.text)'") }
        }
    }

    static let sentence = "The cat [SEP] sat on the mat, unbelievably 日本語 naïve!"
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Tests/AttnvizModelTests/Fixtures/tiny").standardized.path
    static let tinyBert: WordPieceTokenizer = {
        guard let t = try? WordPieceTokenizer.load(directory: fixtures + "/bert") else { fatalError("no tiny BERT at \(fixtures)") }
        return t
    }()
    static let tinyGPT2: ByteLevelBPE = {
        guard let t = try? ByteLevelBPE.load(directory: fixtures + "/gpt2") else { fatalError("no tiny GPT-2 at \(fixtures)") }
        return t
    }()

    /// Offsets inside the text and never going backwards; ids inside the vocabulary.
    func check(_ tokens: [Token], text: String, limit: Int? = nil) {
        let n = text.unicodeScalars.count
        var last = 0
        for t in tokens {
            guard let r = t.range else { continue }
            require(r.lowerBound >= 0 && r.upperBound <= n && !r.isEmpty, "offset \(r) outside 0..<\(n)")
            require(r.lowerBound >= last || t.isSpecial, "offsets go backwards")
            last = r.lowerBound
        }
        if let limit { require(tokens.count <= limit, "more than \(limit) tokens") }
    }

    func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz invariant (\(rawValue)): \(message())") }
    }

    static let current: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["ATTNVIZ_FUZZ_TARGET"] ?? ""
        guard let t = FuzzTarget(rawValue: name) else {
            fatalError("set ATTNVIZ_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return t
    }()
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    FuzzTarget.current.run(data)
    return 0
}
#else
/// `attnviz-fuzz TARGET FILE|DIR…`: replays inputs through a target (the CI smoke run).
@main
struct Replay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let name = args.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: attnviz-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE|DIR…")
            exit(2)
        }
        var count = 0
        for path in args.dropFirst() {
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            let files = isDir.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run(data)
                count += 1
            }
        }
        print("attnviz-fuzz \(name): \(count) inputs, no crash")
    }
}
#endif
