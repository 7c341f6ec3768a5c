import Foundation
import Testing

/// Runs the built `attnviz` binary (it sits beside the test bundle) and captures its output.
struct CLI {
    struct Result {
        var status: Int32
        /// Killed by a signal (a crash, or the timeout): `status` is then the signal number,
        /// which Foundation reports as a small number, so `status < 128` alone does not tell.
        var signaled = false
        var timedOut = false
        var stdout: String
        var stderr: String
        var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
    }

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["ATTNVIZ_BIN"] { return path }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = runner.deletingLastPathComponent()
        // The runner may be inside an .xctest bundle folder.
        if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("attnviz").path
    }

    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tinyBert = repoRoot.appendingPathComponent("Tests/AttnvizModelTests/Fixtures/tiny/bert").path

    @discardableResult
    /// `shell: true` runs /bin/bash with `args`; `executable: true` runs args[0] with the rest.
    static func run(_ args: [String], cwd: String? = nil, env: [String: String] = [:], stdin: Data? = nil,
                    timeout: Double = 300, shell: Bool = false, executable: Bool = false) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: shell ? "/bin/bash" : executable ? args[0] : binary)
        p.arguments = executable ? Array(args.dropFirst()) : args
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        let timer = DispatchWorkItem { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        timer.cancel()
        let signaled = p.terminationReason == .uncaughtSignal
        return Result(status: p.terminationStatus, signaled: signaled, timedOut: signaled && p.terminationStatus == SIGKILL,
                      stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

/// A fresh temporary folder, removed when the value goes away.
final class TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "attnviz-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    func write(_ name: String, _ data: Data) throws -> String {
        let p = file(name)
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }
    func write(_ name: String, _ text: String) throws -> String { try write(name, Data(text.utf8)) }

    /// A copy of the tiny BERT checkpoint to break.
    func tinyBertCopy() throws -> String {
        let dst = file("model")
        try FileManager.default.copyItem(atPath: CLI.tinyBert, toPath: dst)
        return dst
    }
}
