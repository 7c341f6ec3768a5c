import AttnvizModel
import AttnvizTrace
import Foundation
import Testing

/// Both tokenizers against HF's Rust tokenizers on the edge cases of Fixtures/edge (made by
/// make_edge_cases.py): every Unicode category the BERT basic tokenizer treats specially (Cn,
/// Co, Cf, Cc, Zs, Zl/Zp, Mn, Mc/Me, CJK), alone, inside a word and between words, and
/// whitespace-only text. Pieces, ids and code-point offsets, with and without special tokens.
@Suite struct TokenizerEdgeTests {
    struct Case {
        let id: String, kind: String, text: String, tokens: [String], ids: [Int], offsets: [[Int]], tokensSpecial: [String], idsSpecial: [Int]
    }

    /// The cases of a fixture file (path relative to Fixtures).
    static func cases(_ file: String) throws -> [Case] {
        let text = try String(contentsOfFile: Fixtures.path(file), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            // The text from its code points when given: JSONSerialization drops a leading U+FEFF.
            var text = o["text"] as? String ?? ""
            if let points = o["codepoints"] as? [Int] {
                text = String(String.UnicodeScalarView(points.compactMap { Unicode.Scalar(UInt32($0)) }))
            }
            return Case(id: o["id"] as? String ?? "?", kind: o["kind"] as? String ?? "", text: text,
                        tokens: o["tokens"] as? [String] ?? [], ids: o["ids"] as? [Int] ?? [],
                        offsets: o["offsets"] as? [[Int]] ?? [], tokensSpecial: o["tokens_special"] as? [String] ?? [],
                        idsSpecial: o["ids_special"] as? [Int] ?? [])
        }
    }

    /// WordPiece against HF on `cases`: pieces, ids and offsets, then ids and pieces with the
    /// special tokens; records up to 20 differences and prints how many cases agree.
    static func expectWordPieceEqualsHF(_ tokenizer: WordPieceTokenizer, _ cases: [Case], label: String) {
        var failures: [String] = []
        for c in cases {
            let got = tokenizer.tokenize(c.text)
            if got.map(\.text) != c.tokens || got.map(\.id) != c.ids || offsets(got) != c.offsets {
                failures.append("\(c.id) \(c.kind) \(c.text.debugDescription): got \(got.map(\.text)) \(offsets(got)), want \(c.tokens) \(c.offsets)")
            }
            let special = tokenizer.encode(c.text).tokens
            if special.map(\.id) != c.idsSpecial || special.map(\.text) != c.tokensSpecial {
                failures.append("\(c.id) \(c.kind) with specials: got \(special.map(\.text)), want \(c.tokensSpecial)")
            }
        }
        report(failures, cases: cases.count, label: label)
    }

    static func report(_ failures: [String], cases: Int, label: String) {
        print("  \(label): \(cases - failures.count)/\(cases) cases equal HF")
        for f in failures.prefix(20) { Issue.record(Comment(rawValue: f)) }
        #expect(cases > 0)
        #expect(failures.isEmpty)
    }

    static func offsets(_ tokens: [Token]) -> [[Int]] { tokens.map { [$0.range?.lowerBound ?? -1, $0.range?.upperBound ?? -1] } }

    @Test func wordPieceEqualsHuggingFace() throws {
        let tokenizer = try WordPieceTokenizer.load(directory: try Fixtures.requireMiniLM())
        let cases = try Self.cases("edge/wordpiece_edge.jsonl")
        #expect(cases.count > 300)
        Self.expectWordPieceEqualsHF(tokenizer, cases, label: "wordpiece edge cases")
    }

    @Test func byteLevelBPEEqualsHuggingFace() throws {
        let bpe = try ByteLevelBPE.load(directory: Fixtures.path("tiny/gpt2"))
        let cases = try Self.cases("edge/bpe_edge.jsonl")
        #expect(cases.count > 300)
        var failures: [String] = []
        for c in cases {
            let got = try bpe.tokenize(c.text)
            if got.map(\.id) != c.ids || Self.offsets(got) != c.offsets {
                failures.append("\(c.id) \(c.kind) \(c.text.debugDescription): got \(got.map(\.text)) \(Self.offsets(got)), want \(c.tokens) \(c.offsets)")
            }
        }
        Self.report(failures, cases: cases.count, label: "BPE edge cases")
    }

    /// The same tokens whether tokenizing stops early (a limit) or not: a limit only cuts.
    @Test func limitOnlyCuts() throws {
        let wp = try WordPieceTokenizer.load(directory: Fixtures.path("tiny/bert"))
        let bpe = try ByteLevelBPE.load(directory: Fixtures.path("tiny/gpt2"))
        let text = String(repeating: "the cat [SEP] sat on the mat, unbelievably 日本 ", count: 300)
        let whole = wp.tokenize(text), cut = wp.tokenize(text, limit: 100)
        #expect(cut.count > 100 && cut.count < whole.count)
        #expect(cut.map(\.id) == Array(whole.prefix(cut.count)).map(\.id))
        let wholeB = try bpe.tokenize(text), cutB = try bpe.tokenize(text, limit: 100)
        #expect(cutB.count > 100 && cutB.count < wholeB.count)
        #expect(cutB.map(\.id) == Array(wholeB.prefix(cutB.count)).map(\.id))
        // Truncation gives what truncating the whole would.
        for pair in [nil, String(repeating: "a b ", count: 500), "short"] as [String?] {
            let (tokens, dropped) = wp.encode(text, pair: pair, maxLength: 64)
            #expect(tokens.count == 64 && dropped > 0)
            let a = wp.tokenize(text), b = pair.map { wp.tokenize($0) }
            var la = a.count, lb = b?.count ?? 0
            while la + lb > 64 - (pair == nil ? 2 : 3) { if lb > la { lb -= 1 } else { la -= 1 } }
            let expected = [wp.options.cls] + a.prefix(la).map(\.text) + [wp.options.sep] + (b.map { $0.prefix(lb).map(\.text) + [wp.options.sep] } ?? [])
            #expect(tokens.map(\.text) == expected)
        }
    }
}
