import AttnvizModel
import AttnvizTensor
import Foundation
import Testing

/// BERT's word-embedding table stays in the checkpoint and is read a row at a time (`MappedRows`):
/// the rows must be exactly the ones the whole tensor holds, and bad rows must still be refused.
@Suite struct MappedRowsTests {
    @Test func rowsEqualTheWholeTensor() throws {
        let file = try SafetensorsFile(path: Fixtures.path("tiny/bert/model.safetensors"))
        let name = "embeddings.word_embeddings.weight"
        let whole = try file.tensor(name)
        let table = try file.rows(name)
        #expect([table.rows, table.cols] == whole.shape)
        let last = table.rows - 1
        let ids = [0, last, 3 % table.rows, 3 % table.rows, last / 2]
        let got = try table.gather(ids)
        #expect(got.shape == [ids.count, table.cols])
        var mismatches = 0
        for (r, id) in ids.enumerated() where Array(got.row(r)) != Array(whole.row(id)) { mismatches += 1 }
        print("  \(ids.count) rows of \(table.rows) × \(table.cols) compared bit for bit: \(mismatches) differ")
        #expect(mismatches == 0)
        #expect(try table.gather([]).shape == [0, table.cols])
    }

    /// A safetensors file made here: a [3, 2] F32 table whose middle row holds a NaN.
    static func table(path: String) throws -> SafetensorsFile {
        let header = #"{"w":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]}}"#
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for v: Float in [1, 2, .nan, 4, 5, 6] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return try SafetensorsFile(data: data, path: path)
    }

    @Test func nonFiniteRowsAndUnknownRowsAreRefusedWithTheFileNamed() throws {
        let table = try Self.table(path: "/models/bad/model.safetensors").rows("w")
        #expect(try table.gather([2, 0]).data == [5, 6, 1, 2])
        for ids in [[1], [3], [-1]] {
            do {
                _ = try table.gather(ids)
                Issue.record("row \(ids) was read")
            } catch {
                print("  row \(ids): \(error.description)")
                #expect(error.description.contains("/models/bad/model.safetensors"))
            }
        }
    }
}
