import Foundation

/// One number behind a finding, by name, as report.json carries it.
public enum FindingValue: Sendable, Equatable {
    case number(Double)
    case text(String)

    /// JSON-ready: finite numbers as numbers, the rest as strings ("inf", "nan").
    var json: Any {
        switch self {
        case let .number(v): return v.isFinite ? v as Any : "\(v)" as Any
        case let .text(s): return s
        }
    }
}

/// A sentence of a section's findings, with the numbers in it by name. The HTML shows `text`;
/// report.json has the text, each value, and how it was written in the text (`shown`), all from
/// the same interpolation — so the page and the JSON cannot disagree.
///
///     let f: Finding = "The outputs differ by at most \("max_abs_diff", diff, "%.1e")."
public struct Finding: Sendable, ExpressibleByStringInterpolation, ExpressibleByStringLiteral {
    public struct Value: Sendable, Equatable {
        public var name: String
        public var value: FindingValue
        /// The value as written in the text.
        public var shown: String
    }

    public private(set) var text: String
    public private(set) var values: [Value]

    public init(_ text: String) {
        self.text = text
        values = []
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// The same finding with more (plain) text after it.
    public func appending(_ more: String) -> Finding {
        var f = self
        f.text += more
        return f
    }

    public init(stringInterpolation: StringInterpolation) {
        text = stringInterpolation.text
        values = stringInterpolation.values
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""
        var values: [Value] = []

        public init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity) }

        public mutating func appendLiteral(_ literal: String) { text += literal }

        /// Plain text (a token, a model name): not a named value.
        public mutating func appendInterpolation(_ s: String) { text += s }

        public mutating func appendInterpolation<T: BinaryInteger>(_ v: T) { text += String(v) }

        /// A named number written with a printf format ("%.3f", "%.1e", "%d" is not for Doubles).
        public mutating func appendInterpolation(_ name: String, _ value: Double, _ format: String) {
            let shown = String(format: format, value)
            text += shown
            values.append(Value(name: name, value: .number(value), shown: shown))
        }

        /// A named whole number.
        public mutating func appendInterpolation(_ name: String, _ value: Int) {
            let shown = String(value)
            text += shown
            values.append(Value(name: name, value: .number(Double(value)), shown: shown))
        }

        /// A named fraction written as a percentage with `digits` decimals; the JSON keeps the fraction.
        public mutating func appendInterpolation(percent name: String, _ fraction: Double, digits: Int = 1) {
            let shown = String(format: "%.\(digits)f%%", fraction * 100)
            text += shown
            values.append(Value(name: name, value: .number(fraction), shown: shown))
        }

        /// A named piece of text (a token, a head name).
        public mutating func appendInterpolation(_ name: String, text value: String) {
            text += value
            values.append(Value(name: name, value: .text(value), shown: value))
        }
    }
}
