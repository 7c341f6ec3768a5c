import AttnvizModel
import AttnvizTrace
import Foundation
import Testing

/// WordPiece must equal HF's fast tokenizer on every case of wordpiece/cases.jsonl: pieces, ids and
/// code-point offsets, with and without special tokens.
@Suite struct WordPieceTests {
    @Test func everyCaseMatchesHuggingFace() throws {
        let tokenizer = try WordPieceTokenizer.load(directory: try Fixtures.requireMiniLM())
        TokenizerEdgeTests.expectWordPieceEqualsHF(tokenizer, try TokenizerEdgeTests.cases("wordpiece/cases.jsonl"), label: "wordpiece")
    }

    @Test func pairGetsTypeIdsAndTruncationCountsDrops() throws {
        let tokenizer = try WordPieceTokenizer.load(directory: Fixtures.path("tiny/bert"))
        let (tokens, dropped) = tokenizer.encode("the old house", pair: "it was built")
        let firstSep = try #require(tokens.firstIndex { $0.text == "[SEP]" })
        #expect(tokens[...firstSep].allSatisfy { $0.typeId == 0 })
        #expect(tokens[(firstSep + 1)...].allSatisfy { $0.typeId == 1 })
        #expect(dropped == 0)
        let long = String(repeating: "a b ", count: 50)
        let (cut, lost) = tokenizer.encode(long, maxLength: 10)
        #expect(cut.count == 10)
        #expect(lost == tokenizer.tokenize(long).count - 8)
        #expect(cut.first?.text == "[CLS]" && cut.last?.text == "[SEP]")
    }
}

@Suite struct SHA256Tests {
    /// FIPS 180-4 example vectors, including a two-block message and an exact 64-byte block.
    @Test func fipsVectors() {
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
