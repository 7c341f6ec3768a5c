import AttnvizModel
import AttnvizReport
import AttnvizTrace
import Foundation
import Testing

/// report.json against the HTML it sits beside and against the catalogue; the experiment
/// mechanism (each experiment once, an outcome for every one).
@Suite struct ReportJSONTests {
    static func render(_ text: String, model: String = CLI.tinyBert, extra: [String] = []) throws -> (dir: TempDir, json: [String: Any], html: String) {
        let tmp = try TempDir()
        let input = try tmp.write("s.txt", text)
        let out = tmp.file("report")
        let r = try CLI.run(["render", input, "--model", model, "--output", out, "--quiet"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        return (tmp, json, html)
    }

    static func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }

    /// Every catalogue id once, in catalogue order, with a status; every finding of a computed
    /// section is on the page word for word, and each named value is written in its sentence as
    /// the JSON says and parses back to the JSON's number.
    @Test(arguments: ["Attention is all you need, said the paper.", "The cat <b>sat</b> & \"left\"."])
    func reportJSONEqualsTheHTMLFindings(text: String) throws {
        let (_, json, html) = try Self.render(text, extra: ["--no-timings"])
        let sections = try #require(json["sections"] as? [[String: Any]])
        #expect(sections.compactMap { $0["id"] as? String } == (try RenderTests.catalogIDs()))
        var checked = 0
        for section in sections {
            let status = section["status"] as? String ?? ""
            #expect(["computed", "not available", "not yet"].contains(status))
            if status == "not available" { #expect((section["reason"] as? String)?.isEmpty == false) }
            for finding in section["findings"] as? [[String: Any]] ?? [] {
                let text = try #require(finding["text"] as? String)
                // Mustache escapes quotes too; compare against the escaped sentence.
                let onPage = html.contains(Self.escaped(text)) || html.contains(Self.escaped(text).replacingOccurrences(of: "&#39;", with: "'"))
                #expect(onPage, "finding of \(section["id"] ?? "") not on the page: \(text)")
                let values = finding["values"] as? [String: Any] ?? [:], shown = finding["shown"] as? [String: String] ?? [:]
                #expect(Set(values.keys) == Set(shown.keys))
                for (name, written) in shown {
                    #expect(text.contains(written), "\(name) written as \(written) is not in: \(text)")
                    guard let number = values[name] as? Double else { continue }
                    let parsed = written.hasSuffix("%") ? Double(written.dropLast()).map { $0 / 100 } : Double(written)
                    guard let parsed else { continue }  // non-numeric text (e.g. a token)
                    // The written form is rounded: it must agree to its own last digit.
                    let digits = written.split(separator: ".").last.map { $0.filter(\.isNumber).count } ?? 0
                    let unit = written.hasSuffix("%") ? pow(10, -Double(digits)) / 100 : pow(10, -Double(digits))
                    let tol = written.lowercased().contains("e") ? abs(number) * 0.06 : unit * 0.51 + abs(number) * 1e-12
                    #expect(abs(parsed - number) <= tol, "\(name): written \(written), value \(number)")
                    checked += 1
                }
            }
        }
        print("  report.json: \(sections.count) ids, \(checked) named numbers checked against their sentences")
        #expect(checked > 0)
        #expect((json["tokens"] as? [String])?.isEmpty == false)
        #expect((json["model"] as? [String: Any])?["model_type"] as? String == "bert")
    }

    /// The plan asks for each experiment once; the model layer answers every one of them.
    @Test func everyPlannedExperimentHasAnOutcome() throws {
        let session = try Session.open(directory: CLI.tinyBert, note: nil)
        let text = "The cat sat on the mat because it was tired."
        let trace = try session.trace(text: text)
        var study = Study(inputName: "s", text: text, pair: nil, trace: trace, layers: nil, heads: nil, format: .png, timings: false)
        let plan = ReportPlan.experiments(for: study)
        #expect(Set(plan).count == plan.count)
        #expect(!plan.contains { $0.isTiming }, "--no-timings must plan no timed run")
        // The decoder and training sections' runs need the companion encoder–decoder (the shipped one).
        study.runs = session.run(plan + plan, base: trace, companion: Companion.open(directory: nil))
        #expect(study.runs.count == plan.count)
        for e in plan {
            switch study.run(e) {
            case .trace, .measured: break
            case let .unavailable(why): Issue.record("\(e) unavailable on tiny BERT: \(why)")
            }
        }
        study.timings = true
        #expect(ReportPlan.experiments(for: study).contains { $0.isTiming })
    }

    /// The step-by-step runner's first step is the model on one token: equal to a one-token
    /// forward pass (nothing before it to attend to).
    @Test func firstCausalStepEqualsOneTokenForward() throws {
        let session = try Session.open(directory: CLI.tinyBert, note: nil)
        let trace = try session.trace(text: "hello world")
        let outcome = session.run([.stepwise(repeats: 1)], base: trace)[.stepwise(repeats: 1)]
        guard case let .measured(ms, _)? = outcome else { Issue.record("stepwise did not measure: \(String(describing: outcome))"); return }
        #expect(ms.map(\.label) == ["parallel", "sequential"])
        #expect(ms.last?.calls == trace.tokens.count)
        #expect(ms.allSatisfy { $0.seconds > 0 && $0.seconds.isFinite })
    }
}
