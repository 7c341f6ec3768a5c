import AttnvizModel
import AttnvizTensor
import Foundation
import Testing

/// Hostile input through the real binary (issue 9): each case gets one line on stderr naming the
/// file and the problem, an exit status below 128, nothing half-written, nothing deleted.
@Suite struct HardeningTests {
    @Test(arguments: ["0-9223372036854775807", "9223372036854775807", "0,5-99999999999"])
    func hugeIndexListsAreRefusedAtOnce(list: String) throws {
        let tmp = try TempDir()
        _ = try tmp.write("s.txt", "The cat sat.")
        for option in ["--layers", "--heads"] {
            let start = Date()
            let r = try CLI.run(["render", "s.txt", "--model", CLI.tinyBert, "--quiet", option, list, "--output", "out"], cwd: tmp.path, timeout: 60)
            BadInputTests.expectOneLineError(r, mentions: [option, list])
            #expect(Date().timeIntervalSince(start) < 20)
            #expect(!FileManager.default.fileExists(atPath: tmp.file("out")))
        }
    }
}
