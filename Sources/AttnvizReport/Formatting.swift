extension Analysis {
    /// 22713216 → "22,713,216" (a Double is rounded to a whole number first).
    static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0, i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }

    static func grouped(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 9e18 else { return "\(v)" }
        return grouped(Int(v.rounded()))
    }
}
