import AttnvizTensor
import AttnvizTrace
import Foundation

/// config.json of a GPT-2 checkpoint (model_type "gpt2").
public struct GPT2Config: Decodable, Sendable {
    public var nEmbd: Int
    public var nLayer: Int
    public var nHead: Int
    public var nInner: Int?
    public var nPositions: Int
    public var vocabSize: Int
    public var layerNormEpsilon: Double
    public var activationFunction: Activation
    public var scaleAttnWeights: Bool?
    public var scaleAttnByInverseLayerIdx: Bool?
    /// Dropout probabilities used in training (HF defaults 0.1 when absent).
    public var residPdrop: Double?
    public var embdPdrop: Double?
    public var attnPdrop: Double?

    enum CodingKeys: String, CodingKey {
        case nEmbd = "n_embd", nLayer = "n_layer", nHead = "n_head", nInner = "n_inner", nPositions = "n_positions"
        case vocabSize = "vocab_size", layerNormEpsilon = "layer_norm_epsilon", activationFunction = "activation_function"
        case scaleAttnWeights = "scale_attn_weights", scaleAttnByInverseLayerIdx = "scale_attn_by_inverse_layer_idx"
        case residPdrop = "resid_pdrop", embdPdrop = "embd_pdrop", attnPdrop = "attn_pdrop"
    }

    public var inner: Int { nInner ?? 4 * nEmbd }

    func validate(path: String) throws(ModelError) {
        for (key, v) in [("n_embd", nEmbd), ("n_layer", nLayer), ("n_head", nHead), ("n_positions", nPositions), ("vocab_size", vocabSize), ("n_inner", inner)] where v <= 0 {
            throw .config(path: path, key: key, problem: "must be positive, found \(v)")
        }
        guard nEmbd % nHead == 0 else { throw .config(path: path, key: "n_head", problem: "n_embd \(nEmbd) is not divisible by \(nHead) heads") }
        if scaleAttnWeights == false { throw .config(path: path, key: "scale_attn_weights", problem: "only true is supported") }
        if scaleAttnByInverseLayerIdx == true { throw .config(path: path, key: "scale_attn_by_inverse_layer_idx", problem: "only false is supported") }
    }
}

/// GPT-2: a decoder-only stack with learned positions, pre-LayerNorm blocks, a final ln_f,
/// Conv1D weights stored [in, out], a fused c_attn = [q | k | v], an implicit causal mask, and an
/// output head tied to the token embeddings. Names follow HF (`transformer.` prefix optional).
public struct GPT2Model: Sendable {
    struct Block: Sendable {
        let ln1: LayerNorm
        let cAttn: Linear   // d → 3d, [in, out]
        let cProj: Linear   // d → d
        let ln2: LayerNorm
        let mlp: FeedForward  // d → inner → d (c_fc, c_proj)
    }

    public let config: GPT2Config
    let wte: Tensor  // [vocab, d]
    let wpe: Tensor  // [positions, d]

    /// The learned position table. [positions, d]
    public var positionTable: Tensor { wpe }
    let blocks: [Block]
    let lnF: LayerNorm
    public let info: ModelInfo
    public let ignoredTensors: [String]

    static func load(directory: String, configJSON: String, checkpoint: SafetensorsFile) throws(ModelError) -> GPT2Model {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let c = try decodeJSON(GPT2Config.self, path: configPath)
        try c.validate(path: configPath)
        let d = c.nEmbd, ff = c.inner, eps = c.layerNormEpsilon
        let prefix = checkpoint.tensors["transformer.wte.weight"] != nil ? "transformer." : ""
        let r = WeightReader(file: checkpoint, prefix: prefix)
        let wte = try r.tensor("wte.weight", [c.vocabSize, d])
        let wpe = try r.tensor("wpe.weight", [c.nPositions, d])
        var blocks: [Block] = []
        for i in 0..<c.nLayer {
            let p = "h.\(i)."
            blocks.append(Block(
                ln1: try r.layerNorm(p + "ln_1", d, eps: eps),
                cAttn: try r.linear(p + "attn.c_attn", out: 3 * d, in: d, layout: .inOut),
                cProj: try r.linear(p + "attn.c_proj", out: d, in: d, layout: .inOut),
                ln2: try r.layerNorm(p + "ln_2", d, eps: eps),
                mlp: FeedForward(fc1: try r.linear(p + "mlp.c_fc", out: ff, in: d, layout: .inOut),
                                 fc2: try r.linear(p + "mlp.c_proj", out: d, in: ff, layout: .inOut),
                                 activation: c.activationFunction)))
        }
        let lnF = try r.layerNorm("ln_f", d, eps: eps)
        let unused = r.unused()
        // HF stores no lm_head when tied; a stored copy equal to wte is not a separate parameter.
        let ignored = unused.names.filter { !$0.hasSuffix(".attn.bias") && !$0.hasSuffix(".attn.masked_bias") }
        var counts: [(component: String, count: Int)] = [
            ("token embeddings (tied output head)", wte.count),
            ("position embeddings", wpe.count),
            ("self-attention (fused QKV, output)", blocks.reduce(0) { $0 + $1.cAttn.parameterCount + $1.cProj.parameterCount }),
            ("pre-attention LayerNorms", blocks.reduce(0) { $0 + $1.ln1.parameterCount }),
            ("feed-forward", blocks.reduce(0) { $0 + $1.mlp.parameterCount }),
            ("pre-FFN LayerNorms", blocks.reduce(0) { $0 + $1.ln2.parameterCount }),
            ("final LayerNorm", lnF.parameterCount),
        ]
        if unused.parameters > 0 { counts.append(("not used here (\(BertModel.describe(ignored)))", unused.parameters)) }
        let info = ModelInfo(
            name: (directory as NSString).lastPathComponent, directory: directory, modelType: "gpt2", architecture: .decoder,
            sha256: nil, layers: c.nLayer, decoderLayers: c.nLayer, heads: c.nHead, dModel: d, dFF: ff, vocabSize: c.vocabSize,
            maxPositions: c.nPositions, typeVocabSize: 0, activation: c.activationFunction.rawValue, layerNormEps: eps,
            positions: .learned, normPlacement: .pre, parameterCounts: counts, configJSON: configJSON)
        return GPT2Model(config: c, wte: wte, wpe: wpe, blocks: blocks, lnF: lnF, info: info, ignoredTensors: ignored)
    }

    public func emptyCache() -> KVCache { KVCache(layers: config.nLayer, width: config.nEmbd) }

    /// Full causal pass over `ids`. Returns ln_f(output) [n, d]; logits [n, vocab] when asked.
    public func forward(ids: [Int], recorder: Recorder? = nil) throws(ModelError) -> (hidden: Tensor, logits: Tensor) {
        var cache = emptyCache()
        return try step(ids: ids, cache: &cache, recorder: recorder)
    }

    /// A full pass as an experiment changes it (positions left out, tied Q/K, a key pattern).
    func forward(ids: [Int], options: ForwardOptions, recorder: Recorder?) throws(ModelError) -> (hidden: Tensor, logits: Tensor) {
        var cache = emptyCache()
        return try step(ids: ids, cache: &cache, options: options, recorder: recorder)
    }

    /// Runs `ids` as the next tokens after those in `cache` (empty cache: a full pass), appending
    /// their keys and values. Attention rows of the new tokens see the cache and themselves, causally.
    public func step(ids: [Int], cache: inout KVCache, recorder: Recorder? = nil) throws(ModelError) -> (hidden: Tensor, logits: Tensor) {
        try step(ids: ids, cache: &cache, options: .none, recorder: recorder)
    }

    func step(ids: [Int], cache: inout KVCache, options: ForwardOptions, recorder: Recorder?) throws(ModelError) -> (hidden: Tensor, logits: Tensor) {
        let past = cache.count, n = ids.count, d = config.nEmbd
        try checkTokenIDs(ids, past: past, positions: config.nPositions, vocabSize: config.vocabSize, source: "input")
        let record = recorder != nil
        var x = try math("embeddings") { () throws(TensorError) -> Tensor in
            let word = try Ops.gather(wte, rows: ids)                      // [n, d]
            let pos = try options.positions ? Ops.gather(wpe, rows: Array(past..<(past + n)))  // [n, d]
                : Tensor.zeros([n, d])
            let sum = try Ops.add(word, pos)                               // [n, d]
            let out = options.dropout.map { $0.apply(sum, site: 0, p: $0.embedding) } ?? sum
            recorder?.record(EmbeddingRecord(word: word, position: pos, tokenType: nil, sum: sum, output: out))
            return out
        }
        let mask = AttentionMask(keys: nil, causal: true, queryOffset: past, pattern: options.pattern)
        for (l, b) in blocks.enumerated() {
            x = try math("layer \(l)") { () throws(TensorError) -> Tensor in
                let dr = options.dropout
                let a = options.layerNorm ? try b.ln1(x) : x  // [n, d]
                let qkv = try b.cAttn(a)                    // [n, 3d]
                let (q, trainedK, vNew) = Self.split(qkv, d: d) // each [n, d]
                let kNew = options.tiedQueryKeyLayer == l ? q : trainedK
                let (k, v) = try cache.extend(layer: l, keys: kNew, values: vNew)  // [past+n, d]
                let w = AttentionWeights(q: b.cAttn, k: b.cAttn, v: b.cAttn, o: b.cProj, heads: config.nHead)
                var (attnOut, rec) = try MultiHeadAttention.attend(q: q, k: k, v: v, weights: w, mask: mask, kind: .decoderSelf, record: record,
                                                                   dropout: dr.map { ($0.seed, Dropout.site(layer: l, 0), $0.attention) })
                if let dr { attnOut = dr.apply(attnOut, site: Dropout.site(layer: l, 1), p: dr.hidden) }
                let h1 = options.residual ? try Ops.add(x, attnOut) : attnOut  // [n, d]
                let m = options.layerNorm ? try b.ln2(h1) : h1  // [n, d]
                let (pre, act, fRaw) = try b.mlp(m)         // [n, inner], [n, inner], [n, d]
                let f = dr.map { $0.apply(fRaw, site: Dropout.site(layer: l, 2), p: $0.hidden) } ?? fRaw
                let h2 = options.residual ? try Ops.add(h1, f) : f  // [n, d]
                if let recorder, let rec {
                    recorder.record(LayerRecord(stack: .decoder, index: l, attention: [rec], sublayers: [
                        SublayerRecord(name: "self-attention", residualIn: x, output: attnOut, residualOut: h1, normInput: x, normOutput: a),
                        SublayerRecord(name: "feed-forward", residualIn: h1, output: f, residualOut: h2, normInput: h1, normOutput: m),
                    ], ffnPre: pre, ffnAct: act, output: h2))
                }
                return h2
            }
        }
        let out = try math("ln_f") { () throws(TensorError) -> Tensor in try lnF(x) }          // [n, d]
        let logits = try math("logits") { () throws(TensorError) -> Tensor in try Ops.linear(out, weight: wte, bias: nil) }  // [n, vocab]
        return (out, logits)
    }

    /// [n, 3d] → q, k, v each [n, d] (row copies)
    static func split(_ qkv: Tensor, d: Int) -> (Tensor, Tensor, Tensor) {
        let n = qkv.shape[0]
        var parts = [[Float]](repeating: [], count: 3)
        for p in 0..<3 {
            parts[p].reserveCapacity(n * d)
            for i in 0..<n { parts[p].append(contentsOf: qkv.data[(i * 3 * d + p * d)..<(i * 3 * d + p * d + d)]) }
        }
        return (Tensor(uncheckedShape: [n, d], data: parts[0]), Tensor(uncheckedShape: [n, d], data: parts[1]), Tensor(uncheckedShape: [n, d], data: parts[2]))
    }
}
