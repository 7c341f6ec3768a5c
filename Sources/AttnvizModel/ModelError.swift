import AttnvizTensor

/// Every failure of loading a model, tokenizing or running a forward pass. Each case names the
/// file (or input) and what was expected versus found, so the CLI can print it on one line.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case safetensors(path: String, problem: String)
    case config(path: String, key: String, problem: String)
    case unsupportedModelType(path: String, found: String, supported: [String])
    case missingWeight(path: String, name: String)
    case weightShape(path: String, name: String, expected: [Int], found: [Int])
    case tokenizer(path: String, problem: String)
    case input(path: String, problem: String)
    case tensor(context: String, TensorError)

    public var description: String {
        switch self {
        case let .missingFile(path): return "\(path): no such file or directory"
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write: \(reason)"
        case let .safetensors(path, problem): return "\(path): invalid safetensors: \(problem)"
        case let .config(path, key, problem): return "\(path): config key '\(key)': \(problem)"
        case let .unsupportedModelType(path, found, supported):
            return "\(path): model_type '\(found)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case let .missingWeight(path, name): return "\(path): missing weight '\(name)'"
        case let .weightShape(path, name, expected, found):
            return "\(path): weight '\(name)' has shape \(found), expected \(expected)"
        case let .tokenizer(path, problem): return "\(path): tokenizer: \(problem)"
        case let .input(path, problem): return "\(path): \(problem)"
        case let .tensor(context, error): return "\(context): \(error)"
        }
    }
}

extension ModelError {
    /// The problem alone, without the path (to re-attach it to another file).
    public var reason: String {
        switch self {
        case let .unwritable(_, reason), let .unreadable(_, reason): return reason
        default: return description
        }
    }
}

/// Runs tensor math and turns a shape error into a ModelError that says where it happened.
@inline(__always)
func math<T>(_ context: @autoclosure () -> String, _ body: () throws(TensorError) -> T) throws(ModelError) -> T {
    do { return try body() } catch { throw .tensor(context: context(), error) }
}
