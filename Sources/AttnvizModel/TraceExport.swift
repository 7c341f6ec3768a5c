import AttnvizTensor
import AttnvizTrace
import Foundation

/// Writes a Trace as safetensors plus a JSON sidecar — the documented exchange format (README,
/// "Trace format"):
///   attn.L{l} [heads, n, n], scores.L{l} [heads, n, n] (scaled, −∞ where masked),
///   hidden.L{l} [n, d] (L0 = embedding output), ffn_act.L{l} [n, d_ff];
///   trace.json: tokens, ids, token_type_ids, offsets, model, config, attnviz version.
public enum TraceExport {
    public static let version = "0.1.0"

    /// BERT: attn/scores/hidden/ffn_act.L{l}. GPT-2: the same, with the last hidden state after
    /// ln_f (HF convention), plus logits. Marian: enc./dec. prefixes, cross.attn.L{l} [heads, T, S],
    /// plus logits.
    public static func tensors(_ trace: Trace) -> [String: SafetensorsWriter.Entry] {
        var out: [String: SafetensorsWriter.Entry] = [:]
        let twoStacks = trace.model.architecture == .encoderDecoder
        for stack in [Stack.encoder, .decoder] {
            let layers = trace.layers(of: stack)
            guard !layers.isEmpty else { continue }
            let p = twoStacks ? (stack == .encoder ? "enc." : "dec.") : ""
            let embeddings = twoStacks && stack == .decoder ? trace.decoderEmbeddings : trace.embeddings
            if let e = embeddings { out["\(p)hidden.L0"] = .float(e.output) }
            for layer in layers {
                let l = layer.index
                for a in layer.attention {
                    let name = a.kind == .cross ? "cross." : p
                    out["\(name)attn.L\(l)"] = .float(a.weights)
                    out["\(name)scores.L\(l)"] = .float(a.scores)
                }
                out["\(p)hidden.L\(l + 1)"] = .float(layer.output)
                out["\(p)ffn_act.L\(l)"] = .float(layer.ffnAct)
            }
            if trace.model.modelType == "gpt2", let last = layers.last {
                out["\(p)hidden.L\(last.index + 1)"] = .float(trace.lastHidden)
                out["\(p)block_output.L\(last.index + 1)"] = .float(last.output)
            }
        }
        if let logits = trace.logits { out["logits"] = .float(logits) }
        out["input_ids"] = .int64(shape: [trace.tokens.count], values: trace.tokens.map(\.id))
        if twoStacks {
            out["decoder_input_ids"] = .int64(shape: [trace.decoderTokens.count], values: trace.decoderTokens.map(\.id))
        } else {
            out["token_type_ids"] = .int64(shape: [trace.tokens.count], values: trace.tokens.map(\.typeId))
        }
        return out
    }

    public static func json(_ trace: Trace) -> Data {
        let config = (try? JSONSerialization.jsonObject(with: Data(trace.model.configJSON.utf8))) ?? [:]
        let object: [String: Any] = [
            "attnviz_version": version,
            "tokens": trace.tokens.map(\.text),
            "ids": trace.tokens.map(\.id),
            "token_type_ids": trace.tokens.map(\.typeId),
            "offsets": trace.tokens.map { t -> Any in t.range.map { [$0.lowerBound, $0.upperBound] } ?? NSNull() },
            "truncated_tokens": trace.truncatedTokens,
            "decoder_tokens": trace.decoderTokens.map(\.text),
            "decoder_ids": trace.decoderTokens.map(\.id),
            "model": [
                "name": trace.model.name,
                "directory": trace.model.directory,
                "model_type": trace.model.modelType,
                "sha256": trace.model.sha256 ?? NSNull(),
                "parameters": trace.model.totalParameters,
            ] as [String: Any],
            "config": config,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return data + Data("\n".utf8)
    }

    /// Writes `path` and its `.json` sidecar; both appear whole or not at all. Each is written to
    /// a temporary file first; older files at the targets are moved aside and put back if either
    /// new file cannot be placed. Neither target may be one of `protected` (the input text, the
    /// model's files): `--out model/model.safetensors` would overwrite the weights being read.
    public static func write(_ trace: Trace, to path: String, protected: [String] = []) throws(ModelError) {
        let jsonPath = ((path as NSString).deletingPathExtension as String) + ".json"
        let folder = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !folder.isEmpty, !(FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw .unwritable(path: path, reason: "the folder \(folder) does not exist")
        }
        for target in [path, jsonPath] {
            var info = stat()
            if lstat(target, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG {
                throw .unwritable(path: target, reason: "exists and is not a regular file")
            }
            if let input = protected.first(where: { sameFile(target, $0) }) {
                throw .unwritable(path: target, reason: "that is \(input), which this run reads; choose another --out")
            }
        }
        let files = [(path, SafetensorsWriter.encode(tensors(trace), metadata: ["format": "attnviz-trace", "attnviz_version": version])),
                     (jsonPath, json(trace))]
        let pid = getpid()
        var temporary: [String] = []
        var aside: [(old: String, target: String)] = []
        var placed: [String] = []
        func rollBack() {
            for t in temporary { unlink(t) }
            for p in placed { unlink(p) }
            for (old, target) in aside { rename(old, target) }
        }
        for (target, data) in files {
            let tmp = target + ".partial-\(pid)"
            temporary.append(tmp)
            do throws(ModelError) { try writeNewFile(tmp, data) } catch {
                rollBack()
                throw .unwritable(path: target, reason: error.reason)
            }
        }
        for ((target, _), tmp) in zip(files, temporary) {
            if access(target, F_OK) == 0 {
                let old = target + ".old-\(pid)"
                guard rename(target, old) == 0 else {
                    let reason = String(cString: strerror(errno))
                    rollBack()
                    throw .unwritable(path: target, reason: reason)
                }
                aside.append((old, target))
            }
            guard rename(tmp, target) == 0 else {
                let reason = String(cString: strerror(errno))
                rollBack()
                throw .unwritable(path: target, reason: reason)
            }
            placed.append(target)
        }
        for (old, _) in aside { unlink(old) }
    }

    /// Whether two paths name the same existing file (hard links and symbolic links included).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}
