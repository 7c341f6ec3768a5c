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
    /// Facts from the run, each a sentence with its numbers by name.
    public var findings: [Finding] = []
    /// Further numbers for report.json that no sentence states (e.g. a table's totals), by name.
    public var values: [(name: String, value: FindingValue)] = []
    /// Set when the section cannot be computed for the loaded model: why, and what is shown instead.
    public var unavailable: String?

    public init(answer: [String], groups: [FigureGroup] = [], tables: [TableSpec] = [], findings: [Finding] = [], unavailable: String? = nil,
                values: [(name: String, value: FindingValue)] = []) {
        self.answer = answer
        self.groups = groups
        self.tables = tables
        self.findings = findings
        self.unavailable = unavailable
        self.values = values
    }
}

/// A report section answers one catalogue question from a Study. Adding a question is one new
/// file conforming to this, plus its entry in `Sections.all`.
protocol Section: Sendable {
    var id: String { get }
    /// The extra runs this section needs for `study` (asked before they are made; `study.runs`
    /// is empty then). Default: none.
    func experiments(_ study: Study) -> [Experiment]
    func build(_ study: Study) throws -> SectionContent
}

extension Section {
    func experiments(_ study: Study) -> [Experiment] { [] }
}

/// What the CLI asks before the report is built: which experiments the sections need.
public enum ReportPlan {
    /// Every distinct experiment the implemented sections ask for, in section order.
    public static func experiments(for study: Study) -> [Experiment] {
        var out: [Experiment] = []
        for section in Sections.all { for e in section.experiments(study) where !out.contains(e) { out.append(e) } }
        return out
    }
}

enum Sections {
    /// The sections implemented so far, in catalogue order.
    static let all: [any Section] = [
        ArchOverviewSection(), ArchEncVsDecSection(), ArchVsRnnCnnSection(), ArchStrengthsLimitsSection(),
        InputTokenizeSection(), InputEmbeddingSection(), InputEmbedScaleSection(), InputBertEmbeddingsSection(),
        PosWhySection(), PosSinusoidalSection(), PosLearnedSection(), PosRelativeSection(),
        AttnQKVSection(), AttnSelfVsLocalSection(), AttnScaledSection(), AttnDotVsAddSection(), AttnQKDifferentSection(),
        AttnMultiheadSection(), AttnHeadRolesSection(), AttnHeadDimSection(), AttnModelViewSection(), AttnPaddingMaskSection(),
        AttnCausalMaskSection(), AttnCrossSection(), AttnBertMaskSection(),
        BlockResidualSection(), BlockLayerNormSection(), BlockBatchNormSection(), BlockFFNSection(), BlockActivationsSection(),
        BlockGradientsSection(), TrainDecoderIOSection(), TrainParallelSection(), TrainLrSection(), TrainDropoutSection(), TrainLabelSmoothingSection(),
        BertPretrainingSection(), BertClsPoolingSection(), BertIOSection(), BertVsElmoSection(), BertDownstreamSection(),
    ]
}
