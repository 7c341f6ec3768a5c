import AttnvizRender
import Foundation
import SnapshotTesting
import Testing

/// The timeline figure kind: two lanes of calls on a time axis; durations computed, not typed in.
@Suite struct TimelineSnapshotTests {
    @Test func timeline() throws {
        var rng = SeededRandom(state: 7)
        let encoder = 0.4 + rng.next() * 0.1, parallel = 0.5 + rng.next() * 0.2
        let steps = (0..<24).map { _ in 0.12 + rng.next() * 0.05 }
        var bars = [Timeline.Bar(start: 0, duration: encoder, series: 0)]
        var at = encoder
        for d in steps { bars.append(Timeline.Bar(start: at, duration: d, series: 2)); at += d }
        let fig = Timeline(title: "One pass vs 24 cached steps (illustration, random durations)", rows: [
            Timeline.Row(name: "training (teacher forcing)", bars: [Timeline.Bar(start: 0, duration: encoder, series: 0),
                                                                    Timeline.Bar(start: encoder, duration: parallel, series: 1)], note: "2 calls"),
            Timeline.Row(name: "inference (cached steps)", bars: bars, note: "25 calls"),
        ], series: ["encoder call", "decoder call over all positions", "cached decoder step"], xLabel: "wall time (ms)", yLabel: "path")
        assertSnapshot(of: try FigureRenderer.render(fig, format: .png), as: .png())
        // A bar naming a series that has no name is refused.
        let bad = Timeline(title: "bad", rows: [Timeline.Row(name: "a", bars: [Timeline.Bar(start: 0, duration: 1, series: 3)])],
                           series: ["one"], xLabel: "t", yLabel: "")
        #expect(throws: RenderError.self) { try FigureRenderer.render(bad, format: .png) }
    }
}
