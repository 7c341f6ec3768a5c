import AttnvizModel
import AttnvizRender
import AttnvizReport
import AttnvizTensor
import AttnvizTrace
import CPNG
import Foundation

// `make bench`: medians on this machine, printed as tables. Nothing here is a test.

/// Each line is flushed at once, so tables appear as they are measured, also in a pipe or file.
func print(_ line: String = "") {
    Swift.print(line)
    fflush(nil)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func time(_ reps: Int, warmup: Int = 2, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var samples: [Double] = []
    for _ in 0..<reps {
        let t = now()
        try body()
        samples.append(now() - t)
    }
    return median(samples)
}

/// VmHWM of this process in MiB (peak resident memory).
func peakRSS() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return .nan }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? .nan
        return kb / 1024
    }
    return .nan
}

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
func row(_ cells: [String], _ widths: [Int]) -> String { zip(cells, widths).map { pad($0, $1) }.joined(separator: "  ") }
func f(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

func attentionLike(_ n: Int) -> [Float] {
    var s: UInt64 = 42
    var out = [Float](repeating: 0, count: n * n)
    for i in 0..<n {
        var sum: Float = 0
        for j in 0..<n {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let v = expf(Float(s >> 40) / Float(1 << 24) * 4)
            out[i * n + j] = v
            sum += v
        }
        for j in 0..<n { out[i * n + j] /= sum }
    }
    return out
}

func heatmap(_ n: Int, labels: Bool) -> Heatmap {
    let tokens = labels ? (0..<n).map { "tok\($0)" } : nil
    return Heatmap(title: "\(n) × \(n) attention", values: attentionLike(n), rows: n, cols: n, rowLabels: tokens, colLabels: tokens,
                   xLabel: "key", yLabel: "query", colorbarLabel: "attention weight")
}

func benchHeatmaps() throws {
    print("\n## Heatmap: draw (Cairo) and PNG encode (libpng), median of 21 runs")
    let w = [6, 7, 11, 10, 12, 10, 10]
    print(row(["n", "labels", "size px", "draw ms", "encode ms", "total ms", "PNG KiB"], w))
    for n in [16, 64, 128, 512] {
        for labels in n <= 128 ? [true, false] : [false] {
            let fig = heatmap(n, labels: labels)
            var raster = try FigureRenderer.rasterize(fig)
            var bytes = Data()
            let draw = try time(21) { raster = try FigureRenderer.rasterize(fig) }
            let encode = try time(21) { bytes = try raster.encodePNG() }
            print(row(["\(n)", labels ? "yes" : "no", "\(raster.width)x\(raster.height)", f(draw * 1000, 2), f(encode * 1000, 2),
                       f((draw + encode) * 1000, 2), f(Double(bytes.count) / 1024)], w))
        }
    }
}

/// Writes the whole report of `text` into `out` and returns its PNG figures' paths.
func reportFigureFiles(text: String, label: String, out: String) throws -> [String] {
    let session = try Session.open(directory: ModelRegistry.defaultDirectory, note: nil)
    let trace = try session.trace(text: text)
    var study = Study(inputName: label, text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png)
    study.runs = session.run(ReportPlan.experiments(for: study), base: trace, drawnLayer: study.layers.first ?? 0)
    try ReportBuilder(templates: try TemplateLocator.find(override: nil)).write(study, to: out)
    return try FileManager.default.contentsOfDirectory(atPath: out + "/figures").filter { $0.hasSuffix(".png") }.sorted()
        .map { out + "/figures/" + $0 }
}

/// A PNG file decoded back to cairo's ARGB32 rows (the pixels the encoder saw).
func argbPixels(_ path: String) throws -> (argb: [UInt32], width: Int, height: Int) {
    let image = try PNGCodec.decode(try Data(contentsOf: URL(fileURLWithPath: path)))
    var argb = [UInt32](repeating: 0, count: image.width * image.height)
    image.rgba.withUnsafeBufferPointer { s in
        argb.withUnsafeMutableBufferPointer { d in
            for i in 0..<d.count { d[i] = 0xff00_0000 | UInt32(s[4 * i]) << 16 | UInt32(s[4 * i + 1]) << 8 | UInt32(s[4 * i + 2]) }
        }
    }
    return (argb, image.width, image.height)
}

/// Whether a PNG decodes to exactly these opaque pixels.
func samePixels(_ png: Data, _ argb: [UInt32], width: Int, height: Int) throws -> Bool {
    let back = try PNGCodec.decode(png)
    guard back.width == width, back.height == height else { return false }
    return back.rgba.withUnsafeBufferPointer { s in
        argb.withUnsafeBufferPointer { a in
            for i in 0..<a.count where a[i] != (UInt32(s[4 * i + 3]) << 24 | UInt32(s[4 * i]) << 16 | UInt32(s[4 * i + 1]) << 8 | UInt32(s[4 * i + 2])) {
                return false
            }
            return true
        }
    }
}

/// PNG encoding study (issue 14) over the actual figures of a report, one core. Figure by figure,
/// every option encodes it in turn (A B C … A B C …, `rounds` times), so all options see the same
/// machine; per option the total over the figures of each round, their median, and the median
/// over rounds of (option's total / current default's total in the same round). Every option's
/// file is decoded once and compared with the pixels.
func benchPNGStudy(tokens sizes: [Int], rounds: Int, only chosen: [String]? = nil) throws {
    let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/sentence.txt")
    let text = (try? String(contentsOf: example, encoding: .utf8)) ?? "The cat sat on the mat."
    let sub = Int32(CPNG_FILTER_SUB), none = Int32(CPNG_FILTER_NONE), up = Int32(CPNG_FILTER_UP)
    let paeth = Int32(CPNG_FILTER_PAETH), all = Int32(CPNG_FILTER_ALL)
    let options: [(String, PNGOptions)] = [
        ("zlib 3 SUB RGB (before)", PNGOptions(zlibLevel: 3, filters: sub, metadata: [])),
        ("zlib 1 SUB RGB", PNGOptions(zlibLevel: 1, filters: sub, metadata: [])),
        ("zlib 6 SUB RGB", PNGOptions(zlibLevel: 6, filters: sub, metadata: [])),
        ("zlib 3 UP RGB", PNGOptions(zlibLevel: 3, filters: up, metadata: [])),
        ("zlib 3 PAETH RGB", PNGOptions(zlibLevel: 3, filters: paeth, metadata: [])),
        ("zlib 3 ALL RGB", PNGOptions(zlibLevel: 3, filters: all, metadata: [])),
        ("zlib 3 SUB palette", PNGOptions(zlibLevel: 3, filters: sub, metadata: [], palette: true)),
        ("zlib 3 NONE palette", PNGOptions(zlibLevel: 3, filters: none, metadata: [], palette: true)),
        ("libdeflate 1 SUB RGB", PNGOptions(zlibLevel: 1, filters: sub, metadata: [], deflate: .libdeflate)),
        ("libdeflate 3 SUB RGB", PNGOptions(zlibLevel: 3, filters: sub, metadata: [], deflate: .libdeflate)),
        ("libdeflate 1 UP RGB", PNGOptions(zlibLevel: 1, filters: up, metadata: [], deflate: .libdeflate)),
        ("libdeflate 2 UP RGB", PNGOptions(zlibLevel: 2, filters: up, metadata: [], deflate: .libdeflate)),
        ("libdeflate 3 UP RGB", PNGOptions(zlibLevel: 3, filters: up, metadata: [], deflate: .libdeflate)),
        ("libdeflate 4 UP RGB", PNGOptions(zlibLevel: 4, filters: up, metadata: [], deflate: .libdeflate)),
        ("libdeflate 6 UP RGB", PNGOptions(zlibLevel: 6, filters: up, metadata: [], deflate: .libdeflate)),
        ("libdeflate 3 UP palette", PNGOptions(zlibLevel: 3, filters: up, metadata: [], palette: true, deflate: .libdeflate)),
        ("libdeflate 3 NONE palette", PNGOptions(zlibLevel: 3, filters: none, metadata: [], palette: true, deflate: .libdeflate)),
        ("libdeflate 6 NONE palette", PNGOptions(zlibLevel: 6, filters: none, metadata: [], palette: true, deflate: .libdeflate)),
    ].filter { o in chosen.map { $0.contains(o.0) } ?? true }
    for n in sizes {
        let out = NSTemporaryDirectory() + "attnviz-bench-png-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let files = try reportFigureFiles(text: try textOf(exactly: n, from: text), label: "\(n) tokens", out: out)
        var times = [[Double]](repeating: [Double](repeating: 0, count: rounds), count: options.count)
        var bytes = [Int](repeating: 0, count: options.count)
        var pixels = 0, fewColours = 0, mismatches: [String] = []
        var perFigure: [(name: String, size: String, palette: Bool, seconds: [Double])] = []
        for file in files {
            let (argb, width, height) = try argbPixels(file)
            pixels += width * height
            if argb.withUnsafeBytes({ PNGCodec.indexedForBench(argb: $0, width: width, height: height) }) { fewColours += 1 }
            func encode(_ o: PNGOptions) throws -> Data {
                try argb.withUnsafeBytes { try PNGCodec.encode(argb: $0, width: width, height: height, stride: width * 4, options: o) }
            }
            for (k, (name, option)) in options.enumerated() {
                let png = try encode(option)
                bytes[k] += png.count
                if try !samePixels(png, argb, width: width, height: height) { mismatches.append("\(name): \((file as NSString).lastPathComponent)") }
            }
            var mine = [Double](repeating: .infinity, count: options.count)
            for r in 0..<rounds {
                for (k, (_, option)) in options.enumerated() {
                    let t = now()
                    _ = try encode(option)
                    let dt = now() - t
                    times[k][r] += dt
                    mine[k] = min(mine[k], dt)
                }
            }
            perFigure.append(((file as NSString).lastPathComponent, "\(width)x\(height)",
                              argb.withUnsafeBytes { PNGCodec.indexedForBench(argb: $0, width: width, height: height) }, mine))
        }
        print("\n## PNG encoding of the \(files.count) figures of the \(n)-token report (\(f(Double(pixels) / 1e6)) Mpixel, \(fewColours) of them ≤ 256 colours), one core, \(rounds) rounds alternating figure by figure, load \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?")")
        for m in mismatches { print("  DIFFERENT PIXELS: \(m)") }
        let w = [26, 10, 10, 10, 10]
        print(row(["option", "encode ms", "× before", "MiB", "× before"], w))
        for (k, (name, _)) in options.enumerated() {
            let ratio = median((0..<rounds).map { times[k][$0] / times[0][$0] })
            print(row([name, f(median(times[k]) * 1000, 0), f(ratio, 2), f(Double(bytes[k]) / 1048576, 2),
                       f(Double(bytes[k]) / Double(bytes[0]), 2)], w))
        }
        print("slowest figures (before), ms, fastest of the rounds: " + options.indices.map { "\($0)" }.joined(separator: " / ") + " = the options above in order")
        for fig in perFigure.sorted(by: { $0.seconds[0] > $1.seconds[0] }).prefix(8) {
            print("  \(fig.name) \(fig.size)\(fig.palette ? " ≤256 colours" : ""): " + fig.seconds.map { f($0 * 1000, 1) }.joined(separator: " / "))
        }
    }
}

/// One forward configuration, run in a child process so its peak memory is its own.
func childForward(n: Int, record: Bool, reps: Int) throws {
    guard case let .bert(model) = try ModelRegistry.load(directory: ModelRegistry.defaultDirectory) else { return }
    let c = model.config
    let ids = [101] + (0..<(n - 2)).map { 1000 + ($0 * 7919) % 20000 } + [102]
    let types = [Int](repeating: 0, count: n)
    let t = try time(reps) {
        _ = try model.forward(ids: ids, typeIds: types, recorder: record ? Recorder() : nil)
    }
    let d = Double(c.hiddenSize), ff = Double(c.intermediateSize), nn = Double(n)
    let flops = Double(c.numHiddenLayers) * (2 * nn * d * d * 4 + 4 * nn * nn * d + 4 * nn * d * ff)
    print("\(t) \(flops) \(peakRSS())")
}

/// Runs a child process and returns what it printed on stdout.
func runChild(_ executable: String, _ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return text
}

/// HuggingFace transformers (PyTorch eager, attentions returned), kept running in a child
/// process that answers "n" with its median ms for n tokens; nil when no reference is set up.
final class PyTorchReference {
    let process = Process()
    let input = Pipe(), output = Pipe()
    var pending = Data()
    /// Its first line: "# torch VERSION, threads N".
    private(set) var banner = ""

    init?() {
        guard let python = ProcessInfo.processInfo.environment["ATTNVIZ_TORCH_PYTHON"], !python.isEmpty, python != "none" else { return nil }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/bench_pytorch.py").standardized.path
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, ModelRegistry.defaultDirectory]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        guard let first = readLine(), first.hasPrefix("#") else { return nil }
        banner = first
    }

    private func readLine() -> String? {
        while true {
            if let nl = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                pending = Data(pending[(nl + 1)...])
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            pending.append(chunk)
        }
    }

    /// Median seconds of a forward of n tokens.
    func forward(_ n: Int) -> Double? {
        input.fileHandleForWriting.write(Data("\(n)\n".utf8))
        guard let line = readLine() else { return nil }
        let v = line.split(separator: " ")
        guard v.count == 2, Int(v[0]) == n, let ms = Double(v[1]) else { return nil }
        return ms / 1000
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// The forward table. For each size, attnviz and PyTorch alternate — attnviz plain, PyTorch,
/// attnviz recording, PyTorch — and the sizes are visited in several rounds. The machine's speed
/// drifts (2 shared cores), so each ratio is the median over rounds of attnviz's time divided by
/// the PyTorch time measured right after it; times are medians of 21 runs, each in its own process.
func benchForward(rounds: Int = 7) throws {
    let sizes = [16, 64, 128, 256, 512]
    let reference = PyTorchReference()
    print("\n## MiniLM forward (6 layers × 12 heads, d 384): \(rounds) rounds, each a median of 21 runs in its own process")
    print("## PyTorch: transformers eager, output_attentions=True, 2 threads, measured right after each attnviz run")
    if let reference { print(reference.banner) }
    var ours: [String: [Double]] = [:], ratios: [String: [Double]] = [:], flops: [Int: Double] = [:]
    var peak: [String: Double] = [:], torch: [Int: [Double]] = [:]
    for _ in 0..<rounds {
        for n in sizes {
            for record in [false, true] {
                let key = "\(n)-\(record)"
                let text = try runChild(CommandLine.arguments[0], ["--child-forward", "\(n)", record ? "1" : "0"])
                let v = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
                guard v.count == 3 else { print("  n=\(n): child failed: \(text)"); continue }
                ours[key, default: []].append(v[0])
                flops[n] = v[1]
                peak[key] = max(peak[key] ?? 0, v[2])
                if let t = reference?.forward(n) {
                    torch[n, default: []].append(t)
                    ratios[key, default: []].append(v[0] / t)
                }
            }
        }
    }
    let w = [5, 7, 9, 9, 10, 12, 11, 8]
    print(row(["n", "record", "ms", "GFLOP/s", "peak MiB", "PyTorch ms", "× PyTorch", "≤ 0.8×"], w))
    for n in sizes {
        for record in [false, true] {
            let key = "\(n)-\(record)"
            guard let samples = ours[key], let fl = flops[n] else { continue }
            let t = median(samples)
            let ref = torch[n].map(median)
            let ratio = ratios[key].map(median)
            print(row(["\(n)", record ? "all" : "no", f(t * 1000, 2), f(fl / t / 1e9), f(peak[key] ?? 0),
                       ref.map { f($0 * 1000, 2) } ?? "-", ratio.map { f($0, 3) } ?? "-",
                       ratio.map { $0 <= 0.8 ? "yes" : "no" } ?? "-"], w))
        }
    }
    if torch.isEmpty {
        print("PyTorch reference not run (scripts/torch-env.sh could not set it up, or ATTNVIZ_TORCH_PYTHON=none);")
        print("the issue measured PyTorch at 27 ms for 128 tokens on this machine kind (goal ≤ 21.6 ms).")
    }
    print("record: no = nothing kept (attention weights still computed); all = every tensor the report reads")
    print("(scores, weights, Q, K, V, residual stream, LayerNorm inputs, FFN activations), far more than PyTorch returns.")
    print("× PyTorch: median over rounds of (attnviz ms / PyTorch ms measured right after it).")
}

func sgemmPeak() {
    let n = 1024
    let a = [Float](repeating: 0.5, count: n * n), b = a
    var c = [Float](repeating: 0, count: n * n)
    let t = time(11) {
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            BLAS.sgemm(transA: false, transB: true, m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: bp.baseAddress!, ldb: n,
                       c: cp.baseAddress!, ldc: n)
        } } }
    }
    print(String(format: "sgemm 1024³ reference: %.2f ms, %.0f GFLOP/s", t * 1000, 2 * pow(Double(n), 3) / t / 1e9))
}

/// Only the dense products of one MiniLM forward (per layer: Q, K, V, O and the two FFN
/// matrices) at n tokens, through the same row-parallel Ops.linear: the floor for the forward.
func childGEMM(n: Int) throws {
    let d = 384, ff = 1536
    let x = Tensor.zeros([n, d]), h = Tensor.zeros([n, ff])
    let w = Tensor.zeros([d, d]), w1 = Tensor.zeros([ff, d]), w2 = Tensor.zeros([d, ff])
    let t = try time(21) {
        for _ in 0..<6 {
            for _ in 0..<4 { _ = try Ops.linear(x, weight: w, bias: nil) }
            _ = try Ops.linear(x, weight: w1, bias: nil)
            _ = try Ops.linear(h, weight: w2, bias: nil)
        }
    }
    let flops = 6.0 * (8 * Double(n * d * d) + 4 * Double(n * d * ff))
    print(String(format: "dense products at n=%d: %.2f ms, %.0f GFLOP/s", n, t * 1000, flops / t / 1e9))
}

/// The whole report of a text: load, tokenize, forward, experiments, analyses, figures, HTML;
/// with `sections`, also each section's analysis time (median).
func benchRender(text: String, label: String, reps: Int, sections: Bool = false) throws {
    let templates = try TemplateLocator.find(override: nil)
    var rows: [[Double]] = []
    var perSection: [String: [Double]] = [:], order: [String] = []
    var experimentCount = 0, figureCount = 0
    for _ in 0..<reps {
        var t = now()
        let session = try Session.open(directory: ModelRegistry.defaultDirectory, note: nil)
        let load = now() - t
        t = now()
        let tokens = try session.requireTokenizer().encode(text, pair: nil, maxLength: session.model.info.maxPositions, source: label).tokens
        let tokenize = now() - t
        t = now()
        let trace = try session.trace(text: text)
        let forward = now() - t
        var study = Study(inputName: label, text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png)
        t = now()
        let experiments = ReportPlan.experiments(for: study)
        study.runs = session.run(experiments, base: trace, drawnLayer: study.layers.first ?? 0)
        let runs = now() - t
        experimentCount = experiments.count
        let out = NSTemporaryDirectory() + "attnviz-bench-report"
        let timing = try ReportBuilder(templates: templates).write(study, to: out)
        figureCount = timing.figureCount
        for (id, sec) in timing.sections {
            if perSection[id] == nil { order.append(id) }
            perSection[id, default: []].append(sec)
        }
        rows.append([load, tokenize, forward, runs, timing.analyses, timing.figures, timing.html,
                     load + tokenize + forward + runs + timing.stage + timing.html, Double(tokens.count),
                     timing.stageCPU / max(timing.stage, 1e-9), timing.stage])
    }
    let med = (0..<11).map { k in median(rows.map { $0[k] }) }
    print(row([label, "\(Int(med[8]))", f(med[7] * 1000, 0), f(med[0] * 1000, 0), f(med[1] * 1000, 1), f(med[2] * 1000, 0),
               "\(f(med[3] * 1000, 0)) (\(experimentCount))", f(med[10] * 1000, 0), f(med[4] * 1000, 0), "\(f(med[5] * 1000, 0)) (\(figureCount))",
               f(med[6] * 1000, 0), f(med[9], 2)],
              [10, 7, 9, 7, 9, 9, 14, 12, 10, 14, 7, 12]))
    if sections {
        print("\n### Analysis time per section, \(label) (\(Int(med[8])) tokens), median of \(reps), ms (sections run concurrently on both cores)")
        print(row(["section", "ms"], [24, 8]))
        for id in order { print(row([id, f(median(perSection[id] ?? []) * 1000, 1)], [24, 8])) }
    }
}

/// A text of exactly `wanted` tokens ([CLS] and [SEP] included): words of `text` in turn while
/// they fit, then "a" (one token) until the count is exact.
func textOf(exactly wanted: Int, from text: String) throws -> String {
    let session = try Session.open(directory: ModelRegistry.defaultDirectory, note: nil)
    let tokenizer = try session.requireTokenizer()
    func count(_ words: [Substring]) throws -> Int {
        try tokenizer.encode(words.joined(separator: " "), pair: nil, maxLength: 100_000, source: "bench").tokens.count
    }
    let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
    var out: [Substring] = []
    var i = 0, misses = 0
    while misses < words.count {
        let next = out + [words[i % words.count]]
        i += 1
        if try count(next) <= wanted { out = next; misses = 0 } else { misses += 1 }
        if try count(out) == wanted { return out.joined(separator: " ") }
    }
    while try count(out) < wanted { out.append("a") }
    return out.joined(separator: " ")
}

/// Runs a program to its end and returns its wall time (seconds) and exit status.
func wallTime(_ executable: String, _ arguments: [String]) throws -> (seconds: Double, status: Int32) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    let t = now()
    try p.run()
    p.waitUntilExit()
    return (now() - t, p.terminationStatus)
}

/// The whole report against the Python path (issue 14), same run, alternating A B A B: `attnviz
/// render` of a text of exactly n tokens (release build, separate process, wall time) and
/// scripts/bench_python_path.py (transformers forward with attentions, then matplotlib drawing
/// the 72 head heatmaps with token labels and a colorbar, 1000 px) right after it.
func benchPythonPath(sizes: [Int] = [64, 256], pairs: Int = 3) throws {
    print("\n## Whole report vs the Python path (transformers + matplotlib, 72 head heatmaps), \(pairs) pairs alternating A B, wall s")
    guard let python = ProcessInfo.processInfo.environment["ATTNVIZ_TORCH_PYTHON"], !python.isEmpty, python != "none" else {
        print("no Python reference (ATTNVIZ_TORCH_PYTHON unset or none; scripts/torch-env.sh sets it up): skipped")
        return
    }
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    let script = here.appendingPathComponent("../../scripts/bench_python_path.py").standardized.path
    let example = (try? String(contentsOf: here.appendingPathComponent("../../examples/sentence.txt"), encoding: .utf8)) ?? "The cat sat on the mat."
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("attnviz").path
    let dir = NSTemporaryDirectory() + "attnviz-bench-python-path-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let w = [7, 5, 11, 13, 11, 8, 13]
    for n in sizes {
        let file = "\(dir)/bench-\(n).txt"
        try textOf(exactly: n, from: example).write(toFile: file, atomically: true, encoding: .utf8)
        print("\n\(n) tokens (load \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"))")
        print(row(["tokens", "pair", "attnviz s", "--no-timings s", "Python s", "ratio", "no-timings"], w))
        var ours: [Double] = [], quick: [Double] = [], theirs: [Double] = [], ratios: [Double] = [], quickRatios: [Double] = []
        for pair in 1...pairs {
            // The whole report as `attnviz render` writes it (its timed experiments included),
            // then without them (--no-timings), then the Python path.
            let a = try wallTime(binary, ["render", file, "--output", "\(dir)/report", "--quiet"])
            let c = try wallTime(binary, ["render", file, "--output", "\(dir)/report", "--quiet", "--no-timings"])
            let b = try wallTime(python, [script, ModelRegistry.defaultDirectory, file, "\(dir)/python"])
            guard a.status == 0, b.status == 0, c.status == 0 else {
                print("  pair \(pair): attnviz exit \(a.status) / \(c.status), Python exit \(b.status)"); continue
            }
            ours.append(a.seconds); quick.append(c.seconds); theirs.append(b.seconds)
            ratios.append(b.seconds / a.seconds); quickRatios.append(b.seconds / c.seconds)
            print(row(["\(n)", "\(pair)", f(a.seconds, 2), f(c.seconds, 2), f(b.seconds, 1), f(b.seconds / a.seconds, 1) + "×",
                       f(b.seconds / c.seconds, 1) + "×"], w))
        }
        guard !ours.isEmpty else { continue }
        print(row(["\(n)", "median", f(median(ours), 2), f(median(quick), 2), f(median(theirs), 1), f(median(ratios), 1) + "×",
                   f(median(quickRatios), 1) + "×"], w))
        print("ratio: median over pairs of Python s / attnviz s measured just before it (goal ≥ 50×); no-timings: the same against --no-timings")
    }
}

func benchRenders() throws {
    print("\n## Whole report (all layers and heads), median of 5 runs, ms (experiments: extra runs the sections asked for, in parallel; timed ones alone)")
    // Sections and figures are one stage (a shared queue); analyses and figures are sums over the
    // sections and figures made in it, so each is about twice its share of the stage's wall time.
    print(row(["text", "tokens", "total", "load", "tokenize", "forward", "experiments", "sect.+fig.", "analyses Σ", "figures Σ", "html",
               "stage CPU/wall"], [10, 7, 9, 7, 9, 9, 14, 12, 10, 14, 7, 12]))
    let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/sentence.txt")
    let text = (try? String(contentsOf: example, encoding: .utf8)) ?? "The cat sat on the mat."
    try benchRender(text: text, label: "example", reps: 5)
    try benchRender(text: try textOf(exactly: 64, from: text), label: "64 tokens", reps: 5, sections: true)
    try benchRender(text: try textOf(exactly: 256, from: text), label: "256 tokens", reps: 3, sections: true)
    try benchRender(text: try textOf(exactly: 512, from: text), label: "512 tokens", reps: 1)
}

let args = CommandLine.arguments
let allocatorTuned = Memory.keepFreedMemory()  // as the attnviz executable does
if args.count >= 3, args[1] == "--child-gemm", let n = Int(args[2]) { try childGEMM(n: n); exit(0) }
if args.count >= 4, args[1] == "--child-forward", let n = Int(args[2]) {
    try childForward(n: n, record: args[3] == "1", reps: args.count >= 5 ? Int(args[4]) ?? 21 : 21)
    exit(0)
}
let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
print("# attnviz benchmarks")
print("load average: \(load); cores: \(ProcessInfo.processInfo.activeProcessorCount); OpenBLAS kernels: \(BLAS.coreName), threads: \(BLAS.threadCount); OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)"); freed memory kept: \(allocatorTuned)")
sgemmPeak()
let only = args.count >= 2 ? args[1] : "all"
if only == "all" || only == "render" {
    try benchHeatmaps()
    // The PNG options that decided the default (all of them: `attnviz-bench png`).
    try benchPNGStudy(tokens: [64], rounds: 3, only: ["zlib 3 SUB RGB (before)", "zlib 3 UP RGB", "libdeflate 3 UP RGB", "libdeflate 6 UP RGB"])
}
if only == "all" || only == "forward" { try benchForward() }
if only == "all" || only == "report" { try benchRenders() }
if only == "sections" {
    let text = (try? String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/sentence.txt"), encoding: .utf8)) ?? "The cat sat on the mat."
    for n in [64, 256] { try benchRender(text: try textOf(exactly: n, from: text), label: "\(n) tokens", reps: 3, sections: true) }
}
if only == "all" || only == "python-path" { try benchPythonPath() }
if only == "png" || only == "png64" { try benchPNGStudy(tokens: [64], rounds: 3) }
if only == "png" || only == "png512" {
    // The 512-token report's figures are ≈ 4× the pixels: the main candidates only.
    try benchPNGStudy(tokens: [512], rounds: 1, only: ["zlib 3 SUB RGB (before)", "zlib 3 UP RGB", "libdeflate 1 UP RGB",
                                                        "libdeflate 3 UP RGB", "libdeflate 3 UP palette", "libdeflate 6 UP RGB"])
}
