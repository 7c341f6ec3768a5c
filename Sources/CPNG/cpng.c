#include "cpng.h"
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

typedef struct {
    jmp_buf jump;
    char *err;
    size_t errlen;
} cpng_error_state;

typedef struct {
    const unsigned char *data;
    size_t length;
    size_t offset;
} cpng_reader;

static void cpng_on_error(png_structp png, png_const_charp message) {
    cpng_error_state *state = (cpng_error_state *)png_get_error_ptr(png);
    snprintf(state->err, state->errlen, "libpng: %s", message);
    longjmp(state->jump, 1);
}

static void cpng_on_warning(png_structp png, png_const_charp message) {
    (void)png; (void)message;
}

static int cpng_reserve(cpng_buffer *buffer, size_t extra) {
    if (buffer->size + extra <= buffer->capacity) return 0;
    size_t capacity = buffer->capacity ? buffer->capacity : 4096;
    while (capacity < buffer->size + extra) capacity *= 2;
    unsigned char *grown = (unsigned char *)realloc(buffer->data, capacity);
    if (!grown) return -1;
    buffer->data = grown;
    buffer->capacity = capacity;
    return 0;
}

static void cpng_write_bytes(png_structp png, png_bytep bytes, png_size_t length) {
    cpng_buffer *buffer = (cpng_buffer *)png_get_io_ptr(png);
    if (cpng_reserve(buffer, length) != 0) png_error(png, "out of memory");
    memcpy(buffer->data + buffer->size, bytes, length);
    buffer->size += length;
}

static void cpng_flush(png_structp png) { (void)png; }

int cpng_encode(const unsigned char *pixels, int width, int height, size_t stride, int channels,
                int zlib_level, int filters, const cpng_text *texts, int ntexts,
                cpng_buffer *out, char *err, size_t errlen) {
    return cpng_encode_palette(pixels, width, height, stride, channels, NULL, 0, zlib_level, filters,
                               texts, ntexts, out, err, errlen);
}

int cpng_encode_palette(const unsigned char *pixels, int width, int height, size_t stride, int channels,
                        const unsigned char *palette, int ncolours,
                        int zlib_level, int filters, const cpng_text *texts, int ntexts,
                        cpng_buffer *out, char *err, size_t errlen) {
    if (channels == 1 && (palette == NULL || ncolours < 1 || ncolours > 256)) {
        snprintf(err, errlen, "indexed rows need a palette of 1...256 colours, got %d", ncolours);
        return -1;
    }
    if (channels != 1 && channels != 3 && channels != 4) {
        snprintf(err, errlen, "channels must be 1, 3 or 4, got %d", channels);
        return -1;
    }
    if (width <= 0 || height <= 0) {
        snprintf(err, errlen, "image size must be positive, got %dx%d", width, height);
        return -1;
    }
    cpng_error_state state;
    state.err = err;
    state.errlen = errlen;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, cpng_on_error, cpng_on_warning);
    if (!png) { snprintf(err, errlen, "png_create_write_struct failed"); return -1; }
    png_infop info = png_create_info_struct(png);
    png_textp chunk = NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(err, errlen, "png_create_info_struct failed");
        return -1;
    }
    if (setjmp(state.jump)) {
        free(chunk);
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, out, cpng_write_bytes, cpng_flush);
    png_set_compression_level(png, zlib_level);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, filters);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 4 ? PNG_COLOR_TYPE_RGBA : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_PALETTE,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    if (channels == 1) {
        png_color colours[256];
        for (int i = 0; i < ncolours; i++) {
            colours[i].red = palette[3 * i]; colours[i].green = palette[3 * i + 1]; colours[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, colours, ncolours);
    }
    if (ntexts > 0) {
        chunk = (png_textp)calloc((size_t)ntexts, sizeof(png_text));
        if (!chunk) png_error(png, "out of memory");
        for (int i = 0; i < ntexts; i++) {
            chunk[i].compression = texts[i].international ? PNG_ITXT_COMPRESSION_NONE : PNG_TEXT_COMPRESSION_NONE;
            chunk[i].key = (png_charp)texts[i].key;
            chunk[i].text = (png_charp)texts[i].text;
            chunk[i].text_length = texts[i].international ? 0 : strlen(texts[i].text);
            chunk[i].itxt_length = texts[i].international ? strlen(texts[i].text) : 0;
        }
        png_set_text(png, info, chunk, ntexts);
    }
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    }
    png_write_end(png, info);
    free(chunk);
    chunk = NULL;
    png_destroy_write_struct(&png, &info);
    return 0;
}

int cpng_decode_rgba(const unsigned char *data, size_t length, cpng_buffer *out,
                     int *width, int *height, char *err, size_t errlen) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, length)) {
        snprintf(err, errlen, "libpng: %s", image.message);
        return -1;
    }
    image.format = PNG_FORMAT_RGBA;
    size_t bytes = PNG_IMAGE_SIZE(image);
    out->size = 0;
    if (cpng_reserve(out, bytes) != 0) {
        png_image_free(&image);
        snprintf(err, errlen, "out of memory for %zu bytes", bytes);
        return -1;
    }
    if (!png_image_finish_read(&image, NULL, out->data, 0, NULL)) {
        snprintf(err, errlen, "libpng: %s", image.message);
        png_image_free(&image);
        return -1;
    }
    out->size = bytes;
    *width = (int)image.width;
    *height = (int)image.height;
    return 0;
}

static void cpng_read_bytes(png_structp png, png_bytep bytes, png_size_t length) {
    cpng_reader *reader = (cpng_reader *)png_get_io_ptr(png);
    if (reader->offset + length > reader->length) png_error(png, "unexpected end of data");
    memcpy(bytes, reader->data + reader->offset, length);
    reader->offset += length;
}

int cpng_read_text(const unsigned char *data, size_t length, const char *key,
                   cpng_buffer *out, char *err, size_t errlen) {
    cpng_error_state state;
    state.err = err;
    state.errlen = errlen;
    cpng_reader reader = { data, length, 0 };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, cpng_on_error, cpng_on_warning);
    if (!png) { snprintf(err, errlen, "png_create_read_struct failed"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(err, errlen, "png_create_info_struct failed");
        return -1;
    }
    if (setjmp(state.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &reader, cpng_read_bytes);
    png_read_info(png, info);
    png_textp texts = NULL;
    int count = png_get_text(png, info, &texts, NULL);
    int found = -1;
    for (int i = 0; i < count; i++) {
        if (strcmp(texts[i].key, key) == 0) {
            size_t n = texts[i].compression >= PNG_ITXT_COMPRESSION_NONE ? texts[i].itxt_length : texts[i].text_length;
            out->size = 0;
            if (cpng_reserve(out, n + 1) != 0) png_error(png, "out of memory");
            memcpy(out->data, texts[i].text, n);
            out->data[n] = 0;
            out->size = n;
            found = 0;
            break;
        }
    }
    if (found != 0) snprintf(err, errlen, "no text chunk with key '%s'", key);
    png_destroy_read_struct(&png, &info, NULL);
    return found;
}

void cpng_buffer_free(cpng_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->size = 0;
    buffer->capacity = 0;
}
