/// A dense, row-major Float tensor: plain values, cheap to copy (copy-on-write storage).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) throws(TensorError) {
        let count = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), count == data.count else {
            throw .shapeMismatch(operation: "Tensor.init", expected: shape, found: [data.count])
        }
        self.shape = shape
        self.data = data
    }

    /// For shapes the caller has just computed: `data.count` must equal the shape's product.
    public init(uncheckedShape shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }

    public static func zeros(_ shape: [Int]) -> Tensor {
        Tensor(uncheckedShape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// Rows of the last axis, e.g. `[n, d]` → n rows of d.
    public var rowCount: Int { shape.count <= 1 ? 1 : shape.dropLast().reduce(1, *) }
    public var rowWidth: Int { shape.last ?? 1 }

    public func row(_ r: Int) -> ArraySlice<Float> {
        let w = rowWidth
        return data[(r * w)..<((r + 1) * w)]
    }

    public subscript(_ i: Int, _ j: Int) -> Float {
        get { data[i * shape[1] + j] }
        set { data[i * shape[1] + j] = newValue }
    }

    /// Slice `index` of the first axis: `[a, b, c]` → `[b, c]`.
    public func slice(_ index: Int) -> Tensor {
        let inner = Array(shape.dropFirst())
        let size = inner.reduce(1, *)
        return Tensor(uncheckedShape: inner, data: Array(data[(index * size)..<((index + 1) * size)]))
    }

    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Tensor {
        try Tensor(shape: newShape, data: data)
    }

    /// Largest absolute element-wise difference; shapes must match.
    public func maxAbsDifference(_ other: Tensor) throws(TensorError) -> Float {
        guard shape == other.shape else {
            throw .shapeMismatch(operation: "maxAbsDifference", expected: shape, found: other.shape)
        }
        var worst: Float = 0
        for i in data.indices {
            let d = abs(data[i] - other.data[i])
            if d.isNaN { return .nan }
            worst = max(worst, d)
        }
        return worst
    }
}

public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(operation: String, expected: [Int], found: [Int])
    case invalidArgument(operation: String, detail: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, expected, found):
            return "\(op): expected shape \(expected), found \(found)"
        case let .invalidArgument(op, detail):
            return "\(op): \(detail)"
        }
    }
}
