#ifndef ATTNVIZ_CPNG_H
#define ATTNVIZ_CPNG_H
#include <stddef.h>

/* A growable byte buffer owned by the caller; free it with cpng_buffer_free. */
typedef struct {
    unsigned char *data;
    size_t size;
    size_t capacity;
} cpng_buffer;

/* One text chunk. international != 0 writes iTXt (UTF-8), else tEXt (Latin-1 only). */
typedef struct {
    const char *key;
    const char *text;
    int international;
} cpng_text;

/* Filter choices for cpng_encode (PNG filter bit set). */
enum { CPNG_FILTER_NONE = 0x08, CPNG_FILTER_SUB = 0x10, CPNG_FILTER_UP = 0x20,
       CPNG_FILTER_AVG = 0x40, CPNG_FILTER_PAETH = 0x80, CPNG_FILTER_ALL = 0xF8 };

/* Encodes 8-bit RGB (channels 3) or RGBA (channels 4, straight alpha) rows into out.
   Returns 0 on success; otherwise non-zero with a message in err. Never longjmps out. */
int cpng_encode(const unsigned char *pixels, int width, int height, size_t stride, int channels,
                int zlib_level, int filters, const cpng_text *texts, int ntexts,
                cpng_buffer *out, char *err, size_t errlen);

/* As cpng_encode; channels 1 are palette indices (bit depth 8) into palette, ncolours RGB triples. */
int cpng_encode_palette(const unsigned char *pixels, int width, int height, size_t stride, int channels,
                        const unsigned char *palette, int ncolours,
                        int zlib_level, int filters, const cpng_text *texts, int ntexts,
                        cpng_buffer *out, char *err, size_t errlen);

/* Decodes any PNG into 8-bit RGBA (straight alpha), rows of width*4 bytes. */
int cpng_decode_rgba(const unsigned char *png, size_t length, cpng_buffer *out,
                     int *width, int *height, char *err, size_t errlen);

/* Reads the value of a tEXt/iTXt chunk by key into out (NUL-terminated). Returns 0 if found. */
int cpng_read_text(const unsigned char *png, size_t length, const char *key,
                   cpng_buffer *out, char *err, size_t errlen);

void cpng_buffer_free(cpng_buffer *buffer);

#endif
