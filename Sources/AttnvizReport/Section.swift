import AttnvizRender
import AttnvizTrace

/// One figure of a section: drawn by the renderer, written as figures/<file>.<format>.
public struct FigureSpec: Sendable {
    public var file: String
    public var figure: any Figure
    public var caption: String
}

public struct TableSpec: Sendable {
    public var caption: String
    public var header: [String]
    public var rows: [[String]]
}

/// Figures shown together; a titled group is folded (<details>) unless `open`.
public struct FigureGroup: Sendable {
    public var title: String?
    public var open: Bool
    public var figures: [FigureSpec]

    public init(title: String? = nil, open: Bool = true, figures: [FigureSpec]) {
        self.title = title
        self.open = open
        self.figures = figures
    }
}

/// What a section shows for this run.
public struct SectionContent: Sendable {
    public var answer: [String]
    public var groups: [FigureGroup] = []
    public var tables: [TableSpec] = []
    /// Facts from the run, each a sentence with its numbers.
    public var findings: [String] = []
    /// Set when the section cannot be computed for the loaded model: why, and what is shown instead.
    public var unavailable: String?

    public init(answer: [String], groups: [FigureGroup] = [], tables: [TableSpec] = [], findings: [String] = [], unavailable: String? = nil) {
        self.answer = answer
        self.groups = groups
        self.tables = tables
        self.findings = findings
        self.unavailable = unavailable
    }
}

/// A report section answers one catalogue question from a Study. Adding a question is one new
/// file conforming to this, plus its entry in `Sections.all`.
protocol Section: Sendable {
    var id: String { get }
    func build(_ study: Study) throws -> SectionContent
}

enum Sections {
    /// The sections implemented so far, in catalogue order.
    static let all: [any Section] = [
        ArchOverviewSection(), InputTokenizeSection(), PosSinusoidalSection(), PosLearnedSection(),
        AttnScaledSection(), AttnMultiheadSection(), AttnModelViewSection(), AttnPaddingMaskSection(),
        BlockResidualSection(), BlockLayerNormSection(),
    ]
}
