import AttnvizTrace
import Foundation

/// BERT's tokenizer, as HuggingFace's fast (Rust) tokenizer does it: special tokens written in the
/// text are matched first; the rest is normalized (text cleaning, CJK split, accent stripping,
/// lower-casing), split on whitespace and punctuation, then cut into pieces by greedy
/// longest-match WordPiece. Every token keeps its code-point range in the input.
public struct WordPieceTokenizer: Sendable {
    public struct Options: Sendable {
        public var lowercase = true
        public var stripAccents: Bool? = nil  // nil: follows `lowercase`, as HF does
        public var splitChinese = true
        public var cleanText = true
        public var maxInputCharsPerWord = 100
        public var unk = "[UNK]", cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", mask = "[MASK]"
        public init() {}
    }

    public let vocab: [String: Int]
    public let idToToken: [String]
    public let options: Options
    /// Tokens matched verbatim in the input before normalization, longest first.
    public let specialTokens: [String]
    let source: String

    public init(vocabulary lines: [String], options: Options, source: String) throws(ModelError) {
        var vocab: [String: Int] = [:]
        for (i, token) in lines.enumerated() where vocab[token] == nil { vocab[token] = i }
        self.vocab = vocab
        self.idToToken = lines
        self.options = options
        self.source = source
        for required in [options.unk, options.cls, options.sep] where vocab[required] == nil {
            throw .tokenizer(path: source, problem: "vocabulary has no '\(required)' token")
        }
        // An empty special token (a blank vocab line and `"pad_token": ""`) would match with
        // length 0 and never advance: it is never matched.
        specialTokens = [options.unk, options.cls, options.sep, options.pad, options.mask]
            .filter { !$0.isEmpty && vocab[$0] != nil }
            .sorted { $0.unicodeScalars.count > $1.unicodeScalars.count }
    }

    /// Loads vocab.txt and the options of tokenizer_config.json (when present) from a model directory.
    public static func load(directory: String) throws(ModelError) -> WordPieceTokenizer {
        let vocabPath = (directory as NSString).appendingPathComponent("vocab.txt")
        let configPath = (directory as NSString).appendingPathComponent("tokenizer_config.json")
        let config = FileManager.default.fileExists(atPath: configPath) ? try readData(configPath) : nil
        var tokenizer = try load(vocab: try readData(vocabPath), config: config, vocabPath: vocabPath, configPath: configPath)
        let tokenizerJSON = (directory as NSString).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: tokenizerJSON),
           let model = try? decodeJSON(TokenizerJSON.self, path: tokenizerJSON).model,
           let limit = model.maxInputCharsPerWord {
            var options = tokenizer.options
            options.maxInputCharsPerWord = limit
            tokenizer = try WordPieceTokenizer(vocabulary: tokenizer.idToToken, options: options, source: vocabPath)
        }
        return tokenizer
    }

    /// vocab.txt and tokenizer_config.json bytes (the paths name them in errors).
    public static func load(vocab: Data, config: Data?, vocabPath: String = "vocab.txt",
                            configPath: String = "tokenizer_config.json") throws(ModelError) -> WordPieceTokenizer {
        guard let text = String(validating: vocab, as: UTF8.self) else { throw .input(path: vocabPath, problem: "not valid UTF-8 text") }
        // As HF's WordPiece::read_file: lines (LF or CRLF), each with trailing whitespace trimmed.
        let lines = textLines(text).map { line -> String in
            var scalars = line.unicodeScalars
            while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
            return String(scalars)
        }
        guard !lines.isEmpty else { throw .tokenizer(path: vocabPath, problem: "vocabulary is empty") }
        var options = Options()
        if let data = config {
            let config = try decodeJSON(TokenizerConfig.self, data: data, path: configPath)
            if let v = config.doLowerCase { options.lowercase = v }
            options.stripAccents = config.stripAccents
            if let v = config.tokenizeChineseChars { options.splitChinese = v }
            if let v = config.unkToken { options.unk = v }
            if let v = config.clsToken { options.cls = v }
            if let v = config.sepToken { options.sep = v }
            if let v = config.padToken { options.pad = v }
            if let v = config.maskToken { options.mask = v }
        }
        return try WordPieceTokenizer(vocabulary: lines, options: options, source: vocabPath)
    }

    // MARK: Encoding

    /// Pieces of `text` without special tokens added. Ranges are code-point offsets into `text`.
    /// With a `limit`, tokenizing stops (at a space) once more than `limit` pieces are made: the
    /// first `limit` pieces are the same, and a long text costs no more than a short one.
    public func tokenize(_ text: String, limit: Int? = nil) -> [Token] {
        let scalars = Array(text.unicodeScalars)
        var out: [Token] = []
        var chunkStart = 0
        var i = 0
        while i < scalars.count {
            if let limit, scalars[i] == " ", i - chunkStart >= 1024 {
                // A space always separates words, whatever the options: a safe place to stop.
                tokenizeChunk(scalars, chunkStart..<i, into: &out)
                chunkStart = i
                if out.count > limit { return out }
            }
            if let special = specialMatch(scalars, at: i) {
                tokenizeChunk(scalars, chunkStart..<i, into: &out)
                let len = special.unicodeScalars.count
                out.append(Token(text: special, id: vocab[special] ?? 0, range: i..<(i + len), isSpecial: true))
                i += len
                chunkStart = i
                if let limit, out.count > limit { return out }
            } else {
                i += 1
            }
        }
        tokenizeChunk(scalars, chunkStart..<scalars.count, into: &out)
        return out
    }

    /// [CLS] A [SEP] (B [SEP]), token types 0 then 1, truncated to `maxLength` tokens by dropping
    /// pieces from the end of the longer segment first (HF's longest-first).
    /// Longest-first only depends on each segment's length capped at budget + 1, so each is
    /// tokenized only that far; `dropped` then counts the pieces made and dropped (for a text far
    /// longer than the positions, a lower bound).
    public func encode(_ text: String, pair: String? = nil, maxLength: Int? = nil) -> (tokens: [Token], dropped: Int) {
        let specials = pair == nil ? 2 : 3
        let limit = maxLength.map { max(0, $0 - specials) + 1 }
        var a = tokenize(text, limit: limit)
        var b = pair.map { tokenize($0, limit: limit) }
        var dropped = 0
        if let maxLength {
            var budget = max(0, maxLength - specials)
            while a.count + (b?.count ?? 0) > budget {
                if let bb = b, bb.count > a.count { b?.removeLast() } else if !a.isEmpty { a.removeLast() } else { break }
                dropped += 1
                if budget < 0 { budget = 0 }
            }
        }
        func special(_ s: String, _ type: Int) -> Token {
            Token(text: s, id: vocab[s] ?? 0, typeId: type, range: nil, isSpecial: true)
        }
        var tokens = [special(options.cls, 0)] + a + [special(options.sep, 0)]
        if let b {
            tokens += b.map { var t = $0; t.typeId = 1; return t } + [special(options.sep, 1)]
        }
        return (tokens, dropped)
    }

    private func specialMatch(_ s: [Unicode.Scalar], at i: Int) -> String? {
        guard s[i] == "[" else { return nil }
        for special in specialTokens {
            let sp = Array(special.unicodeScalars)
            if i + sp.count <= s.count, Array(s[i..<(i + sp.count)]) == sp { return special }
        }
        return nil
    }

    private func tokenizeChunk(_ s: [Unicode.Scalar], _ range: Range<Int>, into out: inout [Token]) {
        guard !range.isEmpty else { return }
        let normalized = normalize(s, range)
        var word: [(Unicode.Scalar, Int)] = []
        func flush() {
            if !word.isEmpty { wordPiece(word, into: &out) }
            word.removeAll(keepingCapacity: true)
        }
        for item in normalized {
            let c = item.0
            if c.properties.isWhitespace {
                flush()
            } else if Self.isPunctuation(c) {
                flush()
                word.append(item)
                flush()
            } else {
                word.append(item)
            }
        }
        flush()
    }

    /// Normalized scalars, each with the index of the input scalar it came from.
    func normalize(_ s: [Unicode.Scalar], _ range: Range<Int>) -> [(Unicode.Scalar, Int)] {
        let strip = options.stripAccents ?? options.lowercase
        var out: [(Unicode.Scalar, Int)] = []
        out.reserveCapacity(range.count)
        for i in range {
            let c = s[i]
            if c.isASCII {
                if options.cleanText, Self.isControl(c) { continue }
                if c == "\t" || c == "\n" || c == "\r" { out.append((" ", i)); continue }
                if options.lowercase, c.value >= 65, c.value <= 90 {
                    out.append((Unicode.Scalar(UInt8(c.value + 32)), i))
                } else {
                    out.append((c, i))
                }
                continue
            }
            if options.cleanText {
                if c.value == 0xFFFD || Self.isControl(c) { continue }
                if c.properties.isWhitespace { out.append((" ", i)); continue }
            }
            if options.splitChinese, Self.isCJK(c) {
                out.append((" ", i)); out.append((c, i)); out.append((" ", i))
                continue
            }
            var pieces: [Unicode.Scalar] = [c]
            if strip {
                pieces = String(c).decomposedStringWithCanonicalMapping.unicodeScalars
                    .filter { $0.properties.generalCategory != .nonspacingMark }
            }
            for p in pieces {
                if options.lowercase {
                    for l in p.properties.lowercaseMapping.unicodeScalars { out.append((l, i)) }
                } else {
                    out.append((p, i))
                }
            }
        }
        return out
    }

    private func wordPiece(_ word: [(Unicode.Scalar, Int)], into out: inout [Token]) {
        let whole = word[0].1..<(word[word.count - 1].1 + 1)
        let unkID = vocab[options.unk] ?? 0
        if word.count > options.maxInputCharsPerWord {
            out.append(Token(text: options.unk, id: unkID, range: whole, isSpecial: false))
            return
        }
        var pieces: [Token] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: (String, Int)?
            while start < end {
                var piece = String(String.UnicodeScalarView(word[start..<end].map { $0.0 }))
                if start > 0 { piece = "##" + piece }
                if let id = vocab[piece] { found = (piece, id); break }
                end -= 1
            }
            guard let (piece, id) = found else {
                out.append(Token(text: options.unk, id: unkID, range: whole, isSpecial: false))
                return
            }
            pieces.append(Token(text: piece, id: id, range: word[start].1..<(word[end - 1].1 + 1), isSpecial: false))
            start = end
        }
        out.append(contentsOf: pieces)
    }

    // MARK: Character classes (as HF tokenizers defines them)

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        if c.value == 0 { return true }
        switch c.properties.generalCategory {
        // Not .unassigned: HF keeps unassigned code points (U+0378), so their word becomes [UNK]
        // (checked against HF in TokenizerEdgeTests).
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .closePunctuation, .finalPunctuation,
             .initialPunctuation, .otherPunctuation, .openPunctuation:
            return true
        default:
            return false
        }
    }

    static func isCJK(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        // As HF (and the original BERT code): the fifth range starts at 0x2B920, not 0x2B820.
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}

struct TokenizerConfig: Decodable {
    var doLowerCase: Bool?
    var stripAccents: Bool?
    var tokenizeChineseChars: Bool?
    var unkToken: String?, clsToken: String?, sepToken: String?, padToken: String?, maskToken: String?

    enum CodingKeys: String, CodingKey {
        case doLowerCase = "do_lower_case", stripAccents = "strip_accents"
        case tokenizeChineseChars = "tokenize_chinese_chars"
        case unkToken = "unk_token", clsToken = "cls_token", sepToken = "sep_token"
        case padToken = "pad_token", maskToken = "mask_token"
    }

    // Token entries are either strings or {"content": ...} objects in older configs.
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        doLowerCase = try? c.decodeIfPresent(Bool.self, forKey: .doLowerCase)
        stripAccents = try? c.decodeIfPresent(Bool.self, forKey: .stripAccents)
        tokenizeChineseChars = try? c.decodeIfPresent(Bool.self, forKey: .tokenizeChineseChars)
        func token(_ key: CodingKeys) -> String? {
            if let s = try? c.decodeIfPresent(String.self, forKey: key) { return s }
            return (try? c.decodeIfPresent(AddedToken.self, forKey: key))?.content
        }
        unkToken = token(.unkToken); clsToken = token(.clsToken); sepToken = token(.sepToken)
        padToken = token(.padToken); maskToken = token(.maskToken)
    }

    struct AddedToken: Decodable { var content: String }
}

struct TokenizerJSON: Decodable {
    struct Model: Decodable {
        var maxInputCharsPerWord: Int?
        enum CodingKeys: String, CodingKey { case maxInputCharsPerWord = "max_input_chars_per_word" }
    }
    var model: Model?
}
