import AttnvizRender
import Foundation
import SnapshotTesting

/// Image snapshots for Linux, where swift-snapshot-testing has no image strategy: PNG bytes are
/// decoded and compared pixel by pixel. A pixel differs when any channel is off by more than
/// `channelTolerance` (of 255); the snapshot fails when more than `pixelFraction` of pixels
/// differ, or the sizes differ. On failure the actual image and a diff image (differing pixels
/// red over a faded reference) are written and their paths printed.
/// Record mode: SNAPSHOT_TESTING_RECORD=all (or missing/failed/never), see README.
extension Snapshotting where Value == Data, Format == Data {
    static func png(channelTolerance: Int = 24, pixelFraction: Double = 0.002) -> Snapshotting {
        Snapshotting(
            pathExtension: "png",
            diffing: .diff(toData: { $0 }, fromData: { $0 }, diffV2: { reference, actual in
                PNGSnapshotDiff.compare(reference: reference, actual: actual, channelTolerance: channelTolerance,
                                        pixelFraction: pixelFraction)
            }),
            asyncSnapshot: { value in Async(value: value) })
    }
}

enum PNGSnapshotDiff {
    static func compare(reference: Data, actual: Data, channelTolerance: Int, pixelFraction: Double) -> (String, [DiffAttachment])? {
        if reference == actual { return nil }
        let a: PNGCodec.Image, b: PNGCodec.Image
        do {
            a = try PNGCodec.decode(reference)
            b = try PNGCodec.decode(actual)
        } catch {
            return ("cannot decode PNG: \(error)", [])
        }
        guard a.width == b.width, a.height == b.height else {
            let path = save(actual, suffix: "actual")
            return ("size \(b.width)x\(b.height) differs from the reference \(a.width)x\(a.height); actual: \(path)", [])
        }
        var diff = a
        var differing = 0, worst = 0
        for p in 0..<(a.width * a.height) {
            var m = 0
            for ch in 0..<4 { m = max(m, abs(Int(a.rgba[4 * p + ch]) - Int(b.rgba[4 * p + ch]))) }
            worst = max(worst, m)
            if m > channelTolerance {
                differing += 1
                diff.rgba[4 * p] = 255; diff.rgba[4 * p + 1] = 0; diff.rgba[4 * p + 2] = 0
            } else {
                for ch in 0..<3 { diff.rgba[4 * p + ch] = UInt8(200 + Int(a.rgba[4 * p + ch]) * 55 / 255) }
            }
        }
        let fraction = Double(differing) / Double(a.width * a.height)
        if fraction <= pixelFraction { return nil }
        let actualPath = save(actual, suffix: "actual")
        let diffPath = (try? PNGCodec.encode(diff)).map { save($0, suffix: "diff") } ?? "(diff not written)"
        let message = String(format: "%d of %d pixels (%.3f%%) differ by more than %d/255 (largest %d); allowed %.3f%%.\nactual: %@\ndiff:   %@",
                             differing, a.width * a.height, 100 * fraction, channelTolerance, worst, 100 * pixelFraction,
                             actualPath, diffPath)
        return (message, [.data(actual, name: "actual.png")])
    }

    static func save(_ data: Data, suffix: String) -> String {
        let dir = ProcessInfo.processInfo.environment["SNAPSHOT_ARTIFACTS"] ?? (NSTemporaryDirectory() + "attnviz-snapshots")
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let name = String(format: "%08x", UInt32(truncatingIfNeeded: data.hashValue)) + ".\(suffix).png"
        let path = (dir as NSString).appendingPathComponent(name)
        try? data.write(to: URL(fileURLWithPath: path))
        return path
    }
}
