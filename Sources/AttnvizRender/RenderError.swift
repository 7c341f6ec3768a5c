/// Failures of drawing and encoding figures; each names what was being done.
public enum RenderError: Error, CustomStringConvertible, Equatable {
    case cairo(context: String, status: String)
    case png(context: String, message: String)
    case invalidFigure(figure: String, problem: String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cairo(context, status): return "\(context): cairo error: \(status)"
        case let .png(context, message): return "\(context): \(message)"
        case let .invalidFigure(figure, problem): return "figure '\(figure)': \(problem)"
        case let .io(path, reason): return "\(path): \(reason)"
        }
    }
}
