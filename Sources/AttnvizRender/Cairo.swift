import CCairo
import Foundation

/// Owns a cairo surface; destroyed in deinit. Cairo reports failure through an error state, not
/// NULL, so every constructor checks the status.
final class CairoSurface {
    let raw: OpaquePointer

    init(raw: OpaquePointer, context: String) throws(RenderError) {
        self.raw = raw
        try check(context)
    }

    deinit { cairo_surface_destroy(raw) }

    func check(_ context: String) throws(RenderError) {
        let status = cairo_surface_status(raw)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw .cairo(context: context, status: String(cString: cairo_status_to_string(status)))
        }
    }

    static func image(width: Int, height: Int) throws(RenderError) -> CairoSurface {
        guard let s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height)) else {
            throw .cairo(context: "image surface \(width)x\(height)", status: "no surface")
        }
        return try CairoSurface(raw: s, context: "image surface \(width)x\(height)")
    }
}

/// Collects bytes a vector surface writes (SVG, PDF).
final class ByteSink {
    var data = Data()
}

private func writeToSink(_ closure: UnsafeMutableRawPointer?, _ bytes: UnsafePointer<UInt8>?, _ length: UInt32) -> cairo_status_t {
    guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
    Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
    return CAIRO_STATUS_SUCCESS
}

extension CairoSurface {
    /// A vector surface streaming into `sink`; the sink must outlive the surface.
    static func vector(_ format: FigureFormat, width: Double, height: Double, sink: ByteSink) throws(RenderError) -> CairoSurface {
        let closure = Unmanaged.passUnretained(sink).toOpaque()
        let raw: OpaquePointer?
        switch format {
        case .svg: raw = cairo_svg_surface_create_for_stream(writeToSink, closure, width, height)
        case .pdf: raw = cairo_pdf_surface_create_for_stream(writeToSink, closure, width, height)
        case .png: raw = nil
        }
        guard let raw else { throw .cairo(context: "\(format.rawValue) surface", status: "no surface") }
        let surface = try CairoSurface(raw: raw, context: "\(format.rawValue) surface")
        if format == .pdf {
            // Fixed metadata keeps PDFs byte-identical between runs.
            cairo_pdf_surface_set_metadata(raw, CAIRO_PDF_METADATA_CREATE_DATE, "")
            cairo_pdf_surface_set_metadata(raw, CAIRO_PDF_METADATA_MOD_DATE, "")
        }
        return surface
    }
}

/// Owns a cairo drawing context.
final class CairoContext {
    let raw: OpaquePointer

    init(surface: CairoSurface) throws(RenderError) {
        guard let cr = cairo_create(surface.raw) else { throw .cairo(context: "cairo_create", status: "no context") }
        raw = cr
        try check("cairo_create")
    }

    deinit { cairo_destroy(raw) }

    func check(_ context: String) throws(RenderError) {
        let status = cairo_status(raw)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw .cairo(context: context, status: String(cString: cairo_status_to_string(status)))
        }
    }
}

/// Owns a Pango layout bound to a cairo context.
final class PangoLayout {
    let raw: OpaquePointer

    init(context: CairoContext) throws(RenderError) {
        guard let layout = pango_cairo_create_layout(context.raw) else {
            throw .cairo(context: "pango_cairo_create_layout", status: "no layout")
        }
        raw = layout
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(raw)) }
}

/// Owns a Pango font description.
final class PangoFont {
    let raw: OpaquePointer

    init(family: String, pixelSize: Double, bold: Bool) throws(RenderError) {
        guard let desc = pango_font_description_new() else { throw .cairo(context: "pango_font_description_new", status: "no font") }
        raw = desc
        pango_font_description_set_family(desc, family)
        pango_font_description_set_absolute_size(desc, pixelSize * Double(PANGO_SCALE))
        pango_font_description_set_weight(desc, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL)
    }

    deinit { pango_font_description_free(raw) }
}
